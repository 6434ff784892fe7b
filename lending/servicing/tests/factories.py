"""A loan to repay, made directly on a chosen start date (the funding journey always starts today)."""

import datetime
from decimal import Decimal

from lending.catalogue.money import quote
from lending.catalogue.services.products import product_terms_snapshot, quote_terms_from_snapshot
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.tests.test_funding import signed_application
from lending.servicing.models import Instalment, Loan, LoanState


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
