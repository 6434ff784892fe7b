"""Payments racing on the same loan, on PostgreSQL: the row locks keep the books exact.

Two different payments posted at the same moment are both recorded and allocated one after the other (no
component paid twice or beyond what is due); the same external reference posted twice at once is one payment.
"""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from lending.servicing.models import Allocation, Instalment, Payment, PaymentSource
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import active_loan

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
START = datetime.date(2025, 1, 15)
PAID_ON = datetime.date(2025, 3, 20)  # two instalments fallen due


def together(*calls) -> list:
    """Run each call in its own thread, all released at once; each result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # noqa: BLE001 - the test looks at every outcome
            return exc
        finally:
            # Each thread opened its own connection; close it so the test database can be dropped.
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def pay(loan, amount: str, reference: str):
    return lambda: payment_record(
        loan=loan,
        amount=Decimal(amount),
        received_on=PAID_ON,
        source=PaymentSource.API,
        external_reference=reference,
    )


def test_two_different_payments_at_once_are_both_recorded_and_allocated_exactly(merchant):
    loan = active_loan(merchant, start=START)
    outcomes = together(pay(loan, "1000.00", "race-a"), pay(loan, "1234.56", "race-b"))

    assert all(isinstance(outcome, Payment) for outcome in outcomes), outcomes
    payments = Payment.objects.filter(loan=loan)
    assert payments.count() == 2
    assert Allocation.objects.filter(payment__loan=loan).aggregate(total=Sum("amount"))["total"] == Decimal("2234.56")
    for payment in payments:
        assert payment.allocations.aggregate(total=Sum("amount"))["total"] == payment.amount
    for row in Instalment.objects.filter(loan=loan):
        for name in ("principal", "interest", "fee", "penalty"):
            assert getattr(row, f"{name}_paid") <= getattr(row, f"{name}_due"), (row.number, name)
    # Every instalment's paid columns are exactly what the allocations booked on it.
    for row in Instalment.objects.filter(loan=loan):
        booked = row.allocations.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
        assert booked == row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
    loan.refresh_from_db()
    held = Allocation.objects.filter(payment__loan=loan, component="credit").aggregate(total=Sum("amount"))["total"]
    assert loan.credit_balance == (held or Decimal("0.00"))


def test_the_same_reference_posted_twice_at_once_is_one_payment(merchant):
    loan = active_loan(merchant, start=START)
    outcomes = together(pay(loan, "1000.00", "race-same"), pay(loan, "1000.00", "race-same"))

    assert all(isinstance(outcome, Payment) for outcome in outcomes), outcomes
    assert outcomes[0].pk == outcomes[1].pk
    assert Payment.objects.filter(loan=loan).count() == 1
    assert Allocation.objects.filter(payment__loan=loan).aggregate(total=Sum("amount"))["total"] == Decimal("1000.00")
