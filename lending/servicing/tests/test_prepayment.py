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

    # 17 days used at 12 % / 365 on 12,000: 12,000 * 0.12 * 17 / 365 = 67.068 -> 67.07 (the same day count as the
    # schedule's); the fee is 1 % of the 12,000 repaid early.
    assert (quote.principal, quote.interest, quote.prepayment_fee) == (D("12000.00"), D("67.07"), D("120.00"))
    assert quote.total == D("12187.07")


def test_payoff_quote_counts_arrears_and_late_fees_and_takes_off_credit(merchant):
    loan = active_loan(merchant)
    loan.instalments.filter(number=1).update(penalty_due=D("7.00"))
    payment_record(
        loan=loan, amount=D("7.00"), received_on=datetime.date(2025, 1, 20), source="api", external_reference="p"
    )

    quote = payoff_quote(loan=loan, on=datetime.date(2025, 3, 1))

    # Instalment 1 fell due unpaid (all its 122.30 interest counts); then 14 days on the 11,056.39 of later
    # principal: 11,056.39 * 0.12 * 14 / 365 = 50.89.
    assert (quote.interest, quote.penalties, quote.credit) == (D("173.19"), D("0.00"), D("0.00"))
    assert quote.total == D("12173.19")


def test_a_contract_without_early_repayment_refuses_the_quote(merchant):
    loan = active_loan(merchant, prepayment_policy=PrepaymentPolicy.NOT_ALLOWED)

    with pytest.raises(PrepaymentNotAllowed, match="does not allow early repayment"):
        payoff_quote(loan=loan, on=datetime.date(2025, 2, 1))


def test_paying_off_in_full_settles_everything_waives_later_interest_and_audits(merchant):
    loan = with_fee_loan(merchant)

    payment = loan_pay_off(
        source="collection",
        loan=loan,
        amount=D("12200.00"),
        on=datetime.date(2025, 2, 1),
        external_reference="off-1",
        by=merchant.owner,
    )

    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF
    assert payment.kind == Payment.Kind.FULL_PAYOFF
    assert loan.credit_balance == D("12.93")  # the surplus, to refund
    rows = list(loan.instalments.all())
    assert [(row.number, row.principal_due, row.interest_due, row.fee_due) for row in rows] == [
        (1, D("12000.00"), D("67.07"), D("120.00"))
    ]
    assert sum(row.principal_due for row in rows) == loan.principal
    assert Allocation.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] == D("12200.00")
    actions = [event.action for event in audit_trail(loan)]
    assert actions == ["payment.record", "loan.reschedule", "loan.pay_off"]
    reschedule = audit_trail(loan).get(action="loan.reschedule")
    assert len(reschedule.data["old_schedule"]) == 12
    assert reschedule.data["refund_due"] == "12.93"


def test_paying_off_with_less_than_the_quote_is_refused_and_nothing_changes(merchant):
    loan = with_fee_loan(merchant)

    with pytest.raises(ValidationError) as error:
        loan_pay_off(
            source="collection",
            loan=loan,
            amount=D("12187.06"),
            on=datetime.date(2025, 2, 1),
            external_reference="x",
            by=None,
        )
    assert "takes 12187.07 yuan" in error.value.message_dict["amount"][0]
    assert loan.instalments.count() == 12
    assert not Payment.objects.exists()


def _after_first_instalment(merchant, **fields):
    loan = active_loan(merchant, **fields)
    payment_record(
        loan=loan, amount=D("1065.91"), received_on=datetime.date(2025, 2, 15), source="api", external_reference="i1"
    )
    return loan


def test_partial_prepayment_keeping_the_term_lowers_the_instalment_exactly(merchant):
    loan = _after_first_instalment(merchant)

    loan_prepay_partial(
        source="collection",
        loan=loan,
        amount=D("3050.89"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
        keep="term",
    )

    rows = list(loan.instalments.all())
    settlement = rows[1]
    # Interest to 1 March (14 days on 11,056.39: 50.89) then 3,000.00 of principal; the line is paid that day.
    assert (settlement.due_date, settlement.interest_due, settlement.principal_due, settlement.status) == (
        datetime.date(2025, 3, 1),
        D("50.89"),
        D("3000.00"),
        "paid",
    )
    new = rows[2:]
    assert len(new) == 11
    assert new[0].due_date == datetime.date(2025, 3, 15)
    assert new[-1].due_date == loan.maturity_date
    # 14 days of interest on the 8,056.39 left: 8056.39 * 0.12 * 14 / 365 = 37.08, the same day count as before.
    assert new[0].interest_due == D("37.08")
    assert sum(row.principal_due for row in new) == D("8056.39")
    assert sum(row.principal_due for row in rows) == loan.principal
    assert new[1].payment_due < D("1065.91")
    reschedule = audit_trail(loan).get(action="loan.reschedule")
    assert reschedule.data["principal_repaid"] == "3000.00"
    assert len(reschedule.data["new_schedule"]) == 13


def test_partial_prepayment_keeping_the_instalment_shortens_the_term(merchant):
    loan = _after_first_instalment(merchant)

    loan_prepay_partial(
        source="collection",
        loan=loan,
        amount=D("3050.89"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
        keep="instalment",
    )

    loan.refresh_from_db()
    new = list(loan.instalments.all())[2:]
    assert len(new) < 11
    assert all(row.payment_due <= D("1065.91") for row in new[1:-1])
    assert sum(row.principal_due for row in new) == D("8056.39")
    assert loan.maturity_date == new[-1].due_date < datetime.date(2026, 1, 15)


def test_partial_prepayment_with_a_fee_takes_the_fee_on_the_principal_repaid(merchant):
    loan = _after_first_instalment(
        merchant, prepayment_policy=PrepaymentPolicy.ALLOWED_WITH_FEE, prepayment_fee_rate=D("0.01")
    )

    payment = loan_prepay_partial(
        source="collection",
        loan=loan,
        amount=D("3080.90"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
    )

    settlement = loan.instalments.get(number=2)
    # 3,080.90 - 50.89 = 3,030.01 buys 3,000.00 of principal and its 30.00 fee; the fen left is held as credit.
    assert (settlement.principal_due, settlement.fee_due) == (D("3000.00"), D("30.00"))
    loan.refresh_from_db()
    assert loan.credit_balance == D("0.01")
    assert Allocation.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] == D("3080.90")


def test_partial_prepayment_is_refused_while_an_instalment_is_unpaid(merchant):
    loan = active_loan(merchant)

    with pytest.raises(RepaymentConflict, match=r"Pay the 1065\.91 yuan already due first"):
        loan_prepay_partial(
            source="collection",
            loan=loan,
            amount=D("3000.00"),
            on=datetime.date(2025, 3, 1),
            external_reference="x",
            by=None,
        )


def test_partial_prepayment_that_covers_the_whole_balance_points_to_full_payoff(merchant):
    loan = _after_first_instalment(merchant)

    with pytest.raises(ValidationError) as error:
        loan_prepay_partial(
            source="collection",
            loan=loan,
            amount=D("20000.00"),
            on=datetime.date(2025, 3, 1),
            external_reference="x",
            by=None,
        )
    assert "pay it off in full" in error.value.message_dict["amount"][0]


def test_partial_prepayment_is_idempotent_by_reference(merchant):
    loan = _after_first_instalment(merchant)
    first = loan_prepay_partial(
        source="collection",
        loan=loan,
        amount=D("3055.27"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
    )

    again = loan_prepay_partial(
        source="collection",
        loan=loan,
        amount=D("3055.27"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
    )

    assert again.pk == first.pk
    assert loan.instalments.count() == 13


def test_interest_paid_ahead_is_credited_back_so_paying_off_early_never_costs_more(merchant):
    # The bullet: 10,000.00 for 90 days at 14.6 % a year (360.00 of interest). Paying the interest on
    # day 4 and paying off on day 10 costs the same as paying off on day 10 directly: 10,040.00.
    start = datetime.date(2025, 1, 15)
    loan = active_loan(
        merchant,
        start=start,
        amount=D("10000.00"),
        term=3,
        price=D("0.146000"),
        repayment_methods=["interest_first"],
    )
    first_interest = loan.instalments.get(number=1).interest_due
    payment_record(
        loan=loan,
        amount=first_interest,
        received_on=start + datetime.timedelta(days=4),
        source="api",
        external_reference="early-interest",
    )
    day_10 = start + datetime.timedelta(days=10)
    quote = payoff_quote(loan=loan, on=day_10)
    # 10 days used: 10,000 * 0.146 * 10 / 365 = 40.00; what was paid beyond that comes back.
    assert quote.interest_refund == first_interest - D("40.00")
    assert first_interest + quote.total == D("10040.00")
    loan_pay_off(source="collection", loan=loan, amount=quote.total, on=day_10, external_reference="off", by=None)
    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF
    assert loan.credit_balance == D("0.00")
    assert Payment.objects.filter(loan=loan).aggregate(s=Sum("amount"))["s"] == D("10040.00")
