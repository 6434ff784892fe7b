"""Annuity schedules against an independent float reference on actual days, and regular ones against numpy.

The reference here knows nothing of fen: it keeps every figure unrounded, with interest for each line's actual days
at ``rate / 365`` a day and the level payment that repays exactly on those days. Our schedule rounds each line, so
its balance drifts from the reference by at most one fen a line (half a fen on the payment, half on the interest),
compounded at the line's rate. Each line must agree within that drift and no more.
"""

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy_financial as npf
import pytest

from lending.catalogue.money import QuoteTerms, RepaymentMethod, quote

D = Decimal


def _due_dates(start: date, term: int) -> list[date]:
    dates = []
    for k in range(1, term + 1):
        year, month = divmod(start.month - 1 + k, 12)
        year, month = start.year + year, month + 1
        dates.append(date(year, month, min(start.day, calendar.monthrange(year, month)[1])))
    return dates


@pytest.mark.parametrize(
    ("amount", "annual_rate", "term"),
    [
        ("10000.00", "0.12", 12),
        ("50000.00", "0.12", 36),
        ("123456.78", "0.0435", 60),
        ("5000000.00", "0.0899", 120),
        ("2500.00", "0.36", 24),
        ("100.00", "0.24", 24),
        ("888.88", "0.1234", 1),
    ],
)
def test_annuity_lines_match_an_independent_actual_day_reference_within_the_rounding_drift(amount, annual_rate, term):
    start = date(2025, 5, 31)
    q = quote(
        QuoteTerms(
            amount=D(amount),
            term=term,
            start_date=start,
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=D(annual_rate),
        )
    )
    dues = _due_dates(start, term)
    days = [(due - previous).days for previous, due in zip([start, *dues[:-1]], dues, strict=True)]
    rates = [float(annual_rate) * d / 365 for d in days]
    growth, annuity = 1.0, 0.0
    for rate in reversed(rates):
        annuity += growth
        growth *= 1 + rate
    payment = float(amount) * growth / annuity
    assert [line.due_date for line in q.lines] == dues
    assert abs(float(q.lines[0].payment) - payment) <= 0.005 + 1e-9

    balance, drift = float(amount), 0.0
    for line, rate in zip(q.lines, rates, strict=True):
        interest = balance * rate
        allowed = rate * drift + 0.005 + 1e-6
        assert abs(float(line.interest) - interest) <= allowed, line.number
        repaid = payment - interest
        balance -= repaid
        drift = drift * (1 + rate) + 0.01
    assert abs(balance) < 1e-6  # the level payment repays the reference exactly
    assert abs(float(q.total_interest) - (payment * term - float(amount))) <= drift


def test_a_regular_annuity_at_a_monthly_rate_still_matches_numpy_when_every_month_has_the_same_cost():
    # A daily rate of 1/365 of 12 % over months of exactly 30 days is not a calendar; but a bullet of 30 days is,
    # and the one-line annuity matches numpy's single period at rate * 30 / 365.
    q = quote(
        QuoteTerms(
            amount=D("888.88"),
            term=1,
            start_date=date(2025, 4, 1),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=D("0.1234"),
        )
    )
    rate = 0.1234 * 30 / 365
    expected = -float(npf.pmt(rate, 1, 888.88))
    assert q.lines[0].payment == D(repr(expected)).quantize(D("0.01"), rounding=ROUND_HALF_UP)
