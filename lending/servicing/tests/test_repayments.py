"""Recording repayments: where the money goes, idempotency by reference, credit, cure and payoff.

The loan in most tests: 12,000 yuan over 12 months at 12 % a year from 2025-01-15, annuity; instalment 1 is due
2025-02-15 with 946.19 principal and 120.00 interest (1,066.19), instalment 2 on 2025-03-15 (955.65 + 110.54).
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import Notice
from core.selectors.audit import audit_trail
from lending.servicing.models import Allocation, Instalment, LoanState, Payment
from lending.servicing.services.repayments import (
    PaymentReferenceReused,
    RepaymentConflict,
    credit_apply,
    payment_record,
)
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
D = Decimal
FIRST_DUE = datetime.date(2025, 2, 15)


def pay(loan, amount, on, reference, source="api"):
    return payment_record(loan=loan, amount=D(amount), received_on=on, source=source, external_reference=reference)


def allocations(payment):
    return list(payment.allocations.order_by("id").values_list("instalment__number", "component", "amount"))


def test_payment_before_the_due_date_pays_the_next_instalment_and_the_rest_is_held_as_credit(merchant):
    loan = active_loan(merchant)

    payment = pay(loan, "1500.00", datetime.date(2025, 2, 10), "bank-1")

    # The first instalment: 12,000 * 0.12 * 31 / 365 = 122.30 interest and 943.61 principal (1,065.91).
    assert allocations(payment) == [
        (1, "interest", D("122.30")),
        (1, "principal", D("943.61")),
        (None, "credit", D("434.09")),
    ]
    loan.refresh_from_db()
    assert loan.credit_balance == D("434.09")
    first = loan.instalments.get(number=1)
    assert (first.status, first.paid_on) == (Instalment.Status.PAID, datetime.date(2025, 2, 10))
    assert loan.instalments.get(number=2).status == Instalment.Status.DUE


def test_a_partial_payment_pays_interest_first_and_leaves_the_instalment_partly_paid(merchant):
    loan = active_loan(merchant)

    payment = pay(loan, "500.00", FIRST_DUE, "bank-1")

    assert allocations(payment) == [(1, "interest", D("122.30")), (1, "principal", D("377.70"))]
    first = loan.instalments.get(number=1)
    assert (first.status, first.principal_paid, first.paid_on) == ("partly_paid", D("377.70"), None)


def test_one_audit_row_and_one_notice_per_payment(merchant):
    loan = active_loan(merchant)

    pay(loan, "100.00", FIRST_DUE, "bank-1", source="portal")

    assert [event.action for event in audit_trail(loan)] == ["payment.record"]
    assert Notice.objects.filter(user=merchant.owner, title__contains="100.00").count() == 1


def test_the_same_reference_returns_the_first_payment_and_changes_nothing(merchant):
    loan = active_loan(merchant)
    first = pay(loan, "500.00", FIRST_DUE, "bank-1")

    again = pay(loan, "500.00", FIRST_DUE, "bank-1")

    assert again.pk == first.pk
    assert Payment.objects.filter(loan=loan).count() == 1
    assert loan.instalments.get(number=1).principal_paid == D("377.70")
    assert [event.action for event in audit_trail(loan)] == ["payment.record"]


def test_the_same_reference_with_another_amount_is_refused(merchant):
    loan = active_loan(merchant)
    pay(loan, "500.00", FIRST_DUE, "bank-1")

    with pytest.raises(PaymentReferenceReused, match=r"bank-1 was already used for a payment of 500\.00"):
        pay(loan, "600.00", FIRST_DUE, "bank-1")
    assert Payment.objects.filter(loan=loan).count() == 1


def test_the_same_reference_from_another_source_is_another_payment(merchant):
    loan = active_loan(merchant)
    pay(loan, "100.00", FIRST_DUE, "ref-1", source="api")

    pay(loan, "100.00", FIRST_DUE, "ref-1", source="portal")

    assert Payment.objects.filter(loan=loan).count() == 2


# A written-off loan takes payments: they are recoveries (test_write_off).
@pytest.mark.parametrize("state", [LoanState.PENDING_DISBURSEMENT, LoanState.PAID_OFF, LoanState.RECOVERED])
def test_a_loan_that_is_not_being_repaid_takes_no_payment(merchant, state):
    loan = active_loan(merchant, state=state)

    with pytest.raises(RepaymentConflict, match="it takes no payments"):
        pay(loan, "100.00", FIRST_DUE, "bank-1")
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "above 0.00"), ("-5", "above 0.00"), ("1.234", "two decimal places"), ("x", "such as")],
)
def test_a_bad_amount_is_refused_naming_the_field(merchant, amount, message):
    loan = active_loan(merchant)

    with pytest.raises(ValidationError) as error:
        payment_record(loan=loan, amount=amount, received_on=FIRST_DUE, source="api", external_reference="r")
    assert message in error.value.message_dict["amount"][0]


def test_paying_all_the_overdue_arrears_cures_the_loan_with_an_audit_row(merchant):
    loan = active_loan(merchant, state=LoanState.OVERDUE)
    Instalment.objects.filter(loan=loan, number=1).update(status=Instalment.Status.OVERDUE, penalty_due=D("12.34"))

    payment = pay(loan, "1078.53", datetime.date(2025, 3, 1), "bank-1")

    assert allocations(payment)[0] == (1, "penalty", D("12.34"))
    loan.refresh_from_db()
    assert loan.state == LoanState.ACTIVE
    cure = audit_trail(loan).get(action="loan.cure")
    assert (cure.from_state, cure.to_state) == ("overdue", "active")


def test_paying_part_of_the_arrears_leaves_the_loan_overdue_and_the_instalment_overdue(merchant):
    loan = active_loan(merchant, state=LoanState.OVERDUE)
    Instalment.objects.filter(loan=loan, number=1).update(status=Instalment.Status.OVERDUE)

    pay(loan, "1000.00", datetime.date(2025, 3, 1), "bank-1")

    loan.refresh_from_db()
    assert loan.state == LoanState.OVERDUE
    assert loan.instalments.get(number=1).status == Instalment.Status.OVERDUE


def test_paying_every_instalment_pays_the_loan_off(merchant):
    loan = active_loan(merchant, amount=D("3000.00"), term=3, amount_min=D("1000.00"))
    total = loan.instalments.aggregate(total=Sum("principal_due") + Sum("interest_due"))["total"]
    due_dates = list(loan.instalments.values_list("due_date", flat=True))

    for number, due in enumerate(due_dates):
        pay(loan, loan.instalments.get(number=number + 1).payment_due, due, f"bank-{number}")

    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF
    assert Payment.objects.filter(loan=loan).aggregate(total=Sum("amount"))["total"] == total
    pay_off = audit_trail(loan).get(action="loan.pay_off")
    assert (pay_off.from_state, pay_off.to_state) == ("active", "paid_off")


def test_collections_on_a_defaulted_loan_that_pay_everything_recover_it(merchant):
    loan = active_loan(merchant, amount=D("3000.00"), term=3, amount_min=D("1000.00"), state=LoanState.DEFAULTED)

    pay(loan, "5000.00", datetime.date(2025, 6, 1), "collector-1")

    loan.refresh_from_db()
    assert loan.state == LoanState.RECOVERED
    assert (
        loan.credit_balance
        == D("5000.00") - loan.instalments.aggregate(s=Sum("principal_due") + Sum("interest_due"))["s"]
    )


def test_credit_held_is_applied_when_the_next_instalment_falls_due_and_booked_on_its_payment(merchant):
    loan = active_loan(merchant)
    early = pay(loan, "1500.00", datetime.date(2025, 2, 10), "bank-1")

    assert credit_apply(loan=loan, on=datetime.date(2025, 3, 14)) == D("0.00")
    spent = credit_apply(loan=loan, on=datetime.date(2025, 3, 15))

    assert spent == D("434.09")
    loan.refresh_from_db()
    assert loan.credit_balance == D("0.00")
    second = loan.instalments.get(number=2)
    # February's 28 days on 11,056.39: 101.78 interest; the rest of the credit repays principal.
    assert (second.interest_paid, second.principal_paid, second.status) == (D("101.78"), D("332.31"), "partly_paid")
    assert Allocation.objects.filter(payment=early).aggregate(s=Sum("amount"))["s"] == D("1500.00")
    assert credit_apply(loan=loan, on=datetime.date(2025, 3, 15)) == D("0.00")  # a second run changes nothing
    assert audit_trail(loan).filter(action="payment.credit_apply").count() == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payments=st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=300_000)),
        min_size=1,
        max_size=12,
    ),
    apply_credit=st.booleans(),
)
def test_any_sequence_of_payments_never_loses_or_makes_a_fen(merchant, payments, apply_credit):
    loan = active_loan(merchant)
    start = loan.start_date
    for index, (day, fen) in enumerate(sorted(payments)):
        on = start + datetime.timedelta(days=day)
        loan.refresh_from_db()
        if loan.state not in ("active", "overdue"):
            break
        if apply_credit:
            credit_apply(loan=loan, on=on)
            # Held credit alone may have paid the loan off.
            loan.refresh_from_db()
            if loan.state not in ("active", "overdue"):
                break
        pay(loan, D(fen) / 100, on, f"prop-{loan.pk}-{index}")

    loan.refresh_from_db()
    paid_in = Payment.objects.filter(loan=loan).aggregate(s=Sum("amount"))["s"]
    booked = Allocation.objects.filter(payment__loan=loan).aggregate(s=Sum("amount"))["s"]
    assert booked == paid_in
    on_instalments = Allocation.objects.filter(payment__loan=loan, instalment__isnull=False).aggregate(s=Sum("amount"))[
        "s"
    ] or D(0)
    assert on_instalments + loan.credit_balance == paid_in
    rows = list(loan.instalments.all())
    principal_paid = sum((row.principal_paid for row in rows), D(0))
    assert sum((row.principal_due - row.principal_paid for row in rows), D(0)) == loan.principal - principal_paid
    for row in rows:
        for part in ("principal", "interest", "fee", "penalty"):
            assert D(0) <= getattr(row, f"{part}_paid") <= getattr(row, f"{part}_due")
    for payment in Payment.objects.filter(loan=loan):
        assert Allocation.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] == payment.amount
