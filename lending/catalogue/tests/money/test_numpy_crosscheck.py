"""Annuity schedules against numpy-financial's pmt / ipmt / ppmt (float, unrounded) to the fen.

numpy-financial knows nothing of fen: it keeps every figure unrounded. Our schedule rounds each line, so its
balance drifts from numpy's by at most one fen a month (half a fen on the payment, half on the interest),
compounded at the monthly rate. Each line must agree with numpy within that drift and no more.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy_financial as npf
import pytest

from lending.catalogue.money import QuoteTerms, RepaymentMethod, quote

D = Decimal


@pytest.mark.parametrize(
    ("amount", "annual_rate", "term"),
    [
        ("10000.00", "0.12", 12),
        ("50000.00", "0.12", 36),
        ("123456.78", "0.0435", 60),
        ("5000000.00", "0.0899", 120),
        ("2500.00", "0.36", 24),
        ("100.00", "0.60", 120),
        ("888.88", "0.1234", 1),
    ],
)
def test_annuity_lines_match_numpy_financial_within_the_rounding_drift(amount, annual_rate, term):
    q = quote(
        QuoteTerms(
            amount=D(amount),
            term=term,
            start_date=date(2025, 5, 31),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=D(annual_rate),
        )
    )
    rate, principal = float(annual_rate) / 12, float(amount)
    payment = -float(npf.pmt(rate, term, principal))
    assert q.lines[0].payment == D(repr(payment)).quantize(D("0.01"), rounding=ROUND_HALF_UP)

    drift = 0.0  # the largest possible gap between our balance and numpy's before each line
    for line in q.lines:
        period = line.number
        interest = -float(npf.ipmt(rate, period, term, principal))
        repaid = -float(npf.ppmt(rate, period, term, principal))
        allowed_interest = rate * drift + 0.005 + 1e-9
        assert abs(float(line.interest) - interest) <= allowed_interest, period
        if period < term:
            assert abs(float(line.principal) - repaid) <= allowed_interest + 0.005, period
        drift = drift * (1 + rate) + 0.01
    # Summed over the loan the rounding washes out: total interest within the final drift of numpy's.
    numpy_total_interest = payment * term - principal
    assert abs(float(q.total_interest) - numpy_total_interest) <= drift
