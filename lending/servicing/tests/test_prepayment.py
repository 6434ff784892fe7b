"""Payoff quotes, full payoff and partial prepayment with re-amortisation, exact to the fen.

The loan: 12,000 yuan over 12 months at 12 % a year from 2025-01-15, annuity. Instalment 1 (due 2025-02-15):
946.19 principal + 120.00 interest; instalment 2 (due 2025-03-15): 955.65 + 110.54.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from core.selectors.audit import audit_trail
from lending.catalogue.models import PrepaymentPolicy
from lending.servicing.models import Allocation, LoanState, Payment
from lending.servicing.services.repayments import (
    PrepaymentNotAllowed,
    RepaymentConflict,
    loan_pay_off,
    loan_prepay_partial,
    payment_record,
    payoff_quote,
)
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
D = Decimal


def with_fee_loan(merchant):
    return active_loan(merchant, prepayment_policy=PrepaymentPolicy.ALLOWED_WITH_FEE, prepayment_fee_rate=D("0.01"))


def test_payoff_quote_on_a_known_loan_matches_the_hand_calculation(merchant):
    loan = with_fee_loan(merchant)

    quote = payoff_quote(loan=loan, on=datetime.date(2025, 2, 1))

    # 17 of the period's 31 days: 120.00 * 17 / 31 = 65.806 -> 65.81; the fee is 1 % of the 12,000 repaid early.
    assert (quote.principal, quote.interest, quote.prepayment_fee) == (D("12000.00"), D("65.81"), D("120.00"))
    assert quote.total == D("12185.81")


def test_payoff_quote_counts_arrears_and_late_fees_and_takes_off_credit(merchant):
    loan = active_loan(merchant)
    loan.instalments.filter(number=1).update(penalty_due=D("7.00"))
    payment_record(
        loan=loan, amount=D("7.00"), received_on=datetime.date(2025, 1, 20), source="api", external_reference="p"
    )

    quote = payoff_quote(loan=loan, on=datetime.date(2025, 3, 1))

    # Instalment 1 fell due unpaid (all its interest counts); 14 of 28 days of instalment 2: 110.54 / 2 = 55.27.
    assert (quote.interest, quote.penalties, quote.credit) == (D("175.27"), D("0.00"), D("0.00"))
    assert quote.total == D("12175.27")


def test_a_contract_without_early_repayment_refuses_the_quote(merchant):
    loan = active_loan(merchant, prepayment_policy=PrepaymentPolicy.NOT_ALLOWED)

    with pytest.raises(PrepaymentNotAllowed, match="does not allow early repayment"):
        payoff_quote(loan=loan, on=datetime.date(2025, 2, 1))


def test_paying_off_in_full_settles_everything_waives_later_interest_and_audits(merchant):
    loan = with_fee_loan(merchant)

    payment = loan_pay_off(
        loan=loan, amount=D("12200.00"), on=datetime.date(2025, 2, 1), external_reference="off-1", by=merchant.owner
    )

    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF
    assert payment.kind == Payment.Kind.FULL_PAYOFF
    assert loan.credit_balance == D("14.19")  # the surplus, to refund
    rows = list(loan.instalments.all())
    assert [(row.number, row.principal_due, row.interest_due, row.fee_due) for row in rows] == [
        (1, D("12000.00"), D("65.81"), D("120.00"))
    ]
    assert sum(row.principal_due for row in rows) == loan.principal
    assert Allocation.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] == D("12200.00")
    actions = [event.action for event in audit_trail(loan)]
    assert actions == ["payment.record", "loan.reschedule", "loan.pay_off"]
    reschedule = audit_trail(loan).get(action="loan.reschedule")
    assert len(reschedule.data["old_schedule"]) == 12
    assert reschedule.data["refund_due"] == "14.19"


def test_paying_off_with_less_than_the_quote_is_refused_and_nothing_changes(merchant):
    loan = with_fee_loan(merchant)

    with pytest.raises(ValidationError) as error:
        loan_pay_off(loan=loan, amount=D("12185.80"), on=datetime.date(2025, 2, 1), external_reference="x", by=None)
    assert "takes 12185.81 yuan" in error.value.message_dict["amount"][0]
    assert loan.instalments.count() == 12
    assert not Payment.objects.exists()


def _after_first_instalment(merchant, **fields):
    loan = active_loan(merchant, **fields)
    payment_record(
        loan=loan, amount=D("1066.19"), received_on=datetime.date(2025, 2, 15), source="api", external_reference="i1"
    )
    return loan


def test_partial_prepayment_keeping_the_term_lowers_the_instalment_exactly(merchant):
    loan = _after_first_instalment(merchant)

    loan_prepay_partial(
        loan=loan, amount=D("3055.27"), on=datetime.date(2025, 3, 1), external_reference="pp", by=None, keep="term"
    )

    rows = list(loan.instalments.all())
    settlement = rows[1]
    # Interest to 1 March (55.27) then 3,000.00 of principal; the line is paid that day.
    assert (settlement.due_date, settlement.interest_due, settlement.principal_due, settlement.status) == (
        datetime.date(2025, 3, 1),
        D("55.27"),
        D("3000.00"),
        "paid",
    )
    new = rows[2:]
    assert len(new) == 11
    assert new[0].due_date == datetime.date(2025, 3, 15)
    assert new[-1].due_date == loan.maturity_date
    # 14 days of interest on the 8,053.81 left: 8053.81 * 0.12 * 14 / 365 = 37.07.
    assert new[0].interest_due == D("37.07")
    assert sum(row.principal_due for row in new) == D("8053.81")
    assert sum(row.principal_due for row in rows) == loan.principal
    assert new[1].payment_due < D("1066.19")
    reschedule = audit_trail(loan).get(action="loan.reschedule")
    assert reschedule.data["principal_repaid"] == "3000.00"
    assert len(reschedule.data["new_schedule"]) == 13


def test_partial_prepayment_keeping_the_instalment_shortens_the_term(merchant):
    loan = _after_first_instalment(merchant)

    loan_prepay_partial(
        loan=loan,
        amount=D("3055.27"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
        keep="instalment",
    )

    loan.refresh_from_db()
    new = list(loan.instalments.all())[2:]
    assert len(new) < 11
    assert all(row.payment_due <= D("1066.19") for row in new[1:-1])
    assert sum(row.principal_due for row in new) == D("8053.81")
    assert loan.maturity_date == new[-1].due_date < datetime.date(2026, 1, 15)


def test_partial_prepayment_with_a_fee_takes_the_fee_on_the_principal_repaid(merchant):
    loan = _after_first_instalment(
        merchant, prepayment_policy=PrepaymentPolicy.ALLOWED_WITH_FEE, prepayment_fee_rate=D("0.01")
    )

    payment = loan_prepay_partial(
        loan=loan, amount=D("3085.28"), on=datetime.date(2025, 3, 1), external_reference="pp", by=None
    )

    settlement = loan.instalments.get(number=2)
    # 3,085.28 - 55.27 = 3,030.01 buys 3,000.00 of principal and its 30.00 fee; the fen left is held as credit.
    assert (settlement.principal_due, settlement.fee_due) == (D("3000.00"), D("30.00"))
    loan.refresh_from_db()
    assert loan.credit_balance == D("0.01")
    assert Allocation.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] == D("3085.28")


def test_partial_prepayment_is_refused_while_an_instalment_is_unpaid(merchant):
    loan = active_loan(merchant)

    with pytest.raises(RepaymentConflict, match=r"Pay the 1066\.19 yuan already due first"):
        loan_prepay_partial(
            loan=loan, amount=D("3000.00"), on=datetime.date(2025, 3, 1), external_reference="x", by=None
        )


def test_partial_prepayment_that_covers_the_whole_balance_points_to_full_payoff(merchant):
    loan = _after_first_instalment(merchant)

    with pytest.raises(ValidationError) as error:
        loan_prepay_partial(
            loan=loan, amount=D("20000.00"), on=datetime.date(2025, 3, 1), external_reference="x", by=None
        )
    assert "pay it off in full" in error.value.message_dict["amount"][0]


def test_partial_prepayment_is_idempotent_by_reference(merchant):
    loan = _after_first_instalment(merchant)
    first = loan_prepay_partial(
        loan=loan, amount=D("3055.27"), on=datetime.date(2025, 3, 1), external_reference="pp", by=None
    )

    again = loan_prepay_partial(
        loan=loan, amount=D("3055.27"), on=datetime.date(2025, 3, 1), external_reference="pp", by=None
    )

    assert again.pk == first.pk
    assert loan.instalments.count() == 13
