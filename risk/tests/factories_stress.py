"""Loans on the book as a stress run and the dashboard read them: a chosen outstanding principal, days past due,
state, decision PD, industry and region, built directly (no funding journey)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from lending.catalogue.money.dates import add_months
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, Loan, LoanState
from merchants.tests.factories import MerchantFactory
from risk.models.stress import StressScenario
from underwriting.choices import Outcome
from underwriting.tests.factories import DecisionFactory

START = datetime.date(2026, 6, 10)


class StressScenarioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StressScenario

    name = factory.Sequence(lambda n: f"scenario {n}")
    created_by = factory.SubFactory(UserFactory)


def book_loan(
    *,
    product,
    industry: str,
    province: str,
    outstanding: Decimal,
    grade: str = "C",
    pd: Decimal | None = Decimal("0.05"),
    days_past_due: int = 0,
    state: str = LoanState.ACTIVE,
    start: datetime.date = START,
    months: int = 4,
    paid: int = 0,
    outcome: str = Outcome.APPROVE,
    merchant=None,
    paid_days_late: int = 0,
) -> Loan:
    """A loan whose unpaid principal is ``outstanding``: ``months`` equal instalments of it, the first ``paid`` paid in
    full ``paid_days_late`` days after their due dates (so the principal is ``outstanding * months / (months - paid)``);
    its decision gave ``pd`` (None: no PD)."""
    merchant = merchant or MerchantFactory(industry=industry, province=province)
    unpaid = months - paid
    each = (outstanding / unpaid).quantize(Decimal("0.01"))
    assert each * unpaid == outstanding, "choose an outstanding amount that splits evenly"
    decision = DecisionFactory(merchant=merchant, outcome=outcome, grade=grade, probability_of_default=pd)
    application = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=each * months,
        term=months,
        repayment_method="equal_principal",
        state=ApplicationState.FUNDED,
        decision=decision,
    )
    loan = Loan.objects.create(
        application=application,
        merchant=merchant,
        product=product,
        principal=each * months,
        term=months,
        term_unit="months",
        repayment_method="equal_principal",
        grade=grade,
        probability_of_default=pd,
        price=Decimal("0.120000"),
        apr=Decimal("12.68"),
        net_disbursement=each * months,
        terms={},
        start_date=start,
        maturity_date=add_months(start, months),
        state=state,
        days_past_due=days_past_due,
    )
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=number,
            due_date=add_months(start, number),
            principal_due=each,
            interest_due=Decimal("10.00"),
            fee_due=Decimal("0.00"),
            principal_paid=each if number <= paid else Decimal("0.00"),
            interest_paid=Decimal("10.00") if number <= paid else Decimal("0.00"),
            paid_on=add_months(start, number) + datetime.timedelta(days=paid_days_late) if number <= paid else None,
            status=Instalment.Status.PAID if number <= paid else Instalment.Status.DUE,
        )
        for number in range(1, months + 1)
    )
    return loan
