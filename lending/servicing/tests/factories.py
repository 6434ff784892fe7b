"""Loans to service: made directly on a chosen start date (the funding journey always starts today), with helpers
to pay an instalment and to compare the database before and after a job."""

import datetime
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent, Notice
from lending.catalogue.money import quote
from lending.catalogue.money.dates import add_months
from lending.catalogue.services.products import product_terms_snapshot, quote_terms_from_snapshot
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Instalment, Loan, LoanState, Payment, Reminder, SalesShareDeduction

L = LoanState
I = Instalment.Status  # noqa: E741 - the house's short alias for a choices class


def active_loan(
    merchant,
    *,
    start: datetime.date = datetime.date(2025, 1, 15),
    amount: Decimal = Decimal("12000.00"),
    term: int = 12,
    product=None,
    price: Decimal | None = Decimal("0.120000"),
    state: str = LoanState.ACTIVE,
    **product_fields,
) -> Loan:
    """An active loan of ``merchant`` on the product's grade-C terms (12 % a year by default), starting ``start``."""
    product = product or LoanProductFactory(origination_fee_rate=Decimal(0), **product_fields)
    application = signed_application(merchant, product, amount=amount, term=term, price=price)
    snapshot = {**product_terms_snapshot(product=product, grade="C"), "price": str(application.offer_price)}
    # The engine directly: the product's quote refuses start dates in the past, and these tests pick theirs.
    priced = quote(
        quote_terms_from_snapshot(
            snapshot, amount=amount, term=term, start_date=start, repayment_method=application.repayment_method
        )
    )
    loan = Loan.objects.create(
        application=application,
        merchant=merchant,
        product=product,
        principal=priced.principal,
        term=term,
        term_unit=snapshot["term_unit"],
        repayment_method=application.repayment_method,
        grade="C",
        price=application.offer_price,
        apr=priced.apr,
        net_disbursement=priced.net_disbursement,
        terms=snapshot,
        start_date=start,
        maturity_date=priced.lines[-1].due_date,
        state=state,
    )
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=line.number,
            due_date=line.due_date,
            principal_due=line.principal,
            interest_due=line.interest,
            fee_due=line.fee,
        )
        for line in priced.lines
    )
    return loan


START = date(2027, 1, 15)


def servicing_product_make():
    """An operating loan: late fees 0.05 % a day plus 20.00 once, 3 grace days, default at 90 days past due."""
    return LoanProductFactory(
        code="servicing-operating",
        late_fee_daily_rate=Decimal("0.000500"),
        late_fee_fixed=Decimal("20.00"),
        # Grade C at 13 % a year: penalty interest may be up to 1.5 x that (19.5 % a year), so 0.05 % a day stands.
        prices={"A": "0.080000", "B": "0.100000", "C": "0.130000", "D": "0.150000", "E": "0.170000"},
        grace_days=3,
        default_after_days_past_due=90,
    )


def make_loan(
    merchant,
    product,
    *,
    start: date = START,
    months: int = 12,
    principal_each: Decimal = Decimal("1000.00"),
    interest_each: Decimal = Decimal("100.00"),
    state: str = L.ACTIVE,
    terms: dict | None = None,
    method: str = "equal_principal",
) -> Loan:
    """An active loan with ``months`` monthly instalments from ``start``, built directly (no funding journey)."""
    snapshot = {**product_terms_snapshot(product=product, grade="C"), **(terms or {})}
    principal = principal_each * months
    application = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=principal,
        term=months,
        repayment_method=method,
        state=ApplicationState.FUNDED,
    )
    loan = Loan.objects.create(
        application=application,
        merchant=merchant,
        product=product,
        principal=principal,
        term=months,
        term_unit="months",
        repayment_method=method,
        grade="C",
        price=Decimal("0.120000"),
        apr=Decimal("12.68"),
        net_disbursement=principal,
        terms=snapshot,
        start_date=start,
        maturity_date=add_months(start, months),
        state=state,
    )
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=number,
            due_date=add_months(start, number),
            principal_due=principal_each,
            interest_due=interest_each,
            fee_due=Decimal("0.00"),
        )
        for number in range(1, months + 1)
    )
    return loan


def instalment(loan: Loan, number: int) -> Instalment:
    return Instalment.objects.get(loan=loan, number=number)


def pay_in_full(row: Instalment, on: date) -> None:
    """Test set-up: an instalment paid (as the repayments service leaves it)."""
    Instalment.objects.filter(pk=row.pk).update(
        principal_paid=row.principal_due,
        interest_paid=row.interest_due,
        fee_paid=row.fee_due,
        penalty_paid=row.penalty_due,
        status=I.PAID,
        paid_on=on,
    )


def loan_events(loan: Loan, action: str):
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Loan), object_id=str(loan.pk), action=action
    )


def database_snapshot() -> dict:
    """Everything the daily jobs write, as plain values, to compare two runs."""
    return {
        "loans": list(
            Loan.objects.order_by("pk").values_list(
                "pk", "state", "days_past_due", "serviced_on", "defaulted_at", "credit_balance"
            )
        ),
        "instalments": list(
            Instalment.objects.order_by("pk").values_list(
                "pk", "status", "penalty_due", "principal_paid", "interest_paid", "penalty_paid", "paid_on"
            )
        ),
        "reminders": list(Reminder.objects.order_by("pk").values_list("pk", "instalment_id", "kind", "sent_on")),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "user_id", "title")),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "object_id", "data")),
        "payments": list(Payment.objects.order_by("pk").values_list("pk", "loan_id", "amount", "received_on")),
        "deductions": list(
            SalesShareDeduction.objects.order_by("pk").values_list("pk", "loan_id", "sales_date", "amount")
        ),
    }
