"""Interest actually paid is the interest the contract's day count accrues on the balance actually outstanding.

Random loans (method, term, rate), instalments paid on their due date or early, the current instalment paid early
or not, and a payoff on a random day: the interest booked on the payments equals the interest computed here,
independently, as the contract states it (actual/365 on the principal outstanding for each day it is
outstanding, rounded to the fen once per instalment and once for the days of the settling period), and paying off
before the due date never costs more than paying the instalment on its due date and the rest that day. Late
payments are not drawn: a late day costs late fees by the contract, not interest (tested in the daily jobs).
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.servicing.models import Allocation, Payment
from lending.servicing.services.repayments import loan_pay_off, payment_record, payoff_quote
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
D = Decimal
START = datetime.date(2025, 1, 15)


def fen(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def accrued(balance: Decimal, rate: Decimal, first: datetime.date, last: datetime.date) -> Decimal:
    """Interest on ``balance`` for each day from ``first`` (excluded) to ``last`` (included), actual/365."""
    return fen(sum((balance * rate / 365 for _day in range((last - first).days)), D(0)))


def interest_paid(loan) -> Decimal:
    return Allocation.objects.filter(payment__loan=loan, component="interest").aggregate(s=Sum("amount"))["s"] or D(0)


def run(merchant, *, method, term, rate, paid_on_time, early_days, current_early, payoff_day):
    loan = active_loan(merchant, term=term, price=rate, repayment_methods=[method])
    rows = list(loan.instalments.order_by("number"))
    paid = min(paid_on_time, term - 2)  # the last instalment paid early would pay the loan off by itself
    for row in rows[:paid]:
        on = row.due_date - datetime.timedelta(days=early_days if row.number == paid else 0)
        payment_record(
            loan=loan, amount=row.owed(), received_on=on, source="api", external_reference=f"{loan.pk}-i{row.number}"
        )
    period_start = rows[paid - 1].due_date if paid else loan.start_date
    current = rows[paid]
    days = (current.due_date - period_start).days
    payoff_on = period_start + datetime.timedelta(days=max(1, min(payoff_day, days)))
    if current_early and payoff_on > period_start + datetime.timedelta(days=1):
        payment_record(
            loan=loan,
            amount=current.owed(),
            received_on=period_start + datetime.timedelta(days=1),
            source="api",
            external_reference=f"{loan.pk}-current-early",
        )
    quote = payoff_quote(loan=loan, on=payoff_on)
    loan_pay_off(
        source="collection", loan=loan, amount=quote.total, on=payoff_on, external_reference=f"{loan.pk}-off", by=None
    )
    loan.refresh_from_db()
    return (
        loan,
        rows,
        paid,
        period_start,
        payoff_on,
        current_early and payoff_on > period_start + datetime.timedelta(days=1),
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["equal_instalment", "equal_principal", "interest_first"]),
    term=st.integers(min_value=3, max_value=6),
    rate=st.sampled_from([D("0.080000"), D("0.120000"), D("0.146000"), D("0.180000")]),
    paid_on_time=st.integers(min_value=0, max_value=5),
    early_days=st.integers(min_value=0, max_value=10),
    current_early=st.booleans(),
    payoff_day=st.integers(min_value=1, max_value=31),
)
def test_interest_paid_is_what_the_day_count_accrues_on_the_balance_outstanding(
    merchant, method, term, rate, paid_on_time, early_days, current_early, payoff_day
):
    loan, rows, paid, period_start, payoff_on, paid_current_early = run(
        merchant,
        method=method,
        term=term,
        rate=rate,
        paid_on_time=paid_on_time,
        early_days=early_days,
        current_early=current_early,
        payoff_day=payoff_day,
    )

    assert loan.state == "paid_off"
    balance, previous, expected = loan.principal, loan.start_date, D(0)
    for row in rows[:paid]:
        expected += accrued(balance, rate, previous, row.due_date)
        balance -= row.principal_due
        previous = row.due_date
    # The settling period, rounded once: its principal paid on its first day stops bearing interest that day.
    day_one = period_start + datetime.timedelta(days=1)
    if paid_current_early:
        settling = balance * rate / 365 + (balance - rows[paid].principal_due) * rate * (payoff_on - day_one).days / 365
    else:
        settling = balance * rate * (payoff_on - period_start).days / 365
    expected += fen(settling)
    assert interest_paid(loan) == expected
    assert Payment.objects.filter(loan=loan).aggregate(s=Sum("amount"))["s"] == loan.principal + expected


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["equal_instalment", "equal_principal", "interest_first"]),
    term=st.integers(min_value=3, max_value=6),
    payoff_day=st.integers(min_value=1, max_value=27),
    current_early=st.booleans(),
)
def test_paying_off_early_never_costs_more_than_paying_on_the_due_date(
    merchant, method, term, payoff_day, current_early
):
    early, *_rest = run(
        merchant,
        method=method,
        term=term,
        rate=D("0.120000"),
        paid_on_time=0,
        early_days=0,
        current_early=current_early,
        payoff_day=payoff_day,
    )
    on_time, *_rest = run(
        merchant,
        method=method,
        term=term,
        rate=D("0.120000"),
        paid_on_time=0,
        early_days=0,
        current_early=False,
        payoff_day=31,
    )
    early_cost = Payment.objects.filter(loan=early).aggregate(s=Sum("amount"))["s"]
    on_time_cost = Payment.objects.filter(loan=on_time).aggregate(s=Sum("amount"))["s"]
    assert early_cost <= on_time_cost


def test_paying_off_on_the_due_date_of_an_instalment_paid_ahead_credits_its_unused_interest(merchant):
    """Found by the property above: the instalment paid on the first day of its period falls due on the payoff
    day; its principal stopped bearing interest 27 days before, and that interest comes back."""
    loan, rows, _paid, _period_start, payoff_on, paid_current_early = run(
        merchant,
        method="equal_instalment",
        term=3,
        rate=D("0.080000"),
        paid_on_time=1,
        early_days=0,
        current_early=True,
        payoff_day=28,
    )

    assert payoff_on == rows[1].due_date
    assert paid_current_early
    balance = loan.principal - rows[0].principal_due
    expected = accrued(loan.principal, D("0.08"), loan.start_date, rows[0].due_date) + fen(
        balance * D("0.08") / 365 + (balance - rows[1].principal_due) * D("0.08") * 27 / 365
    )
    assert interest_paid(loan) == expected
