"""Applications, contracts and signatures in the states the origination tests start from."""

import datetime
from decimal import Decimal

from django.conf import settings as django_settings
from django.utils import timezone

from lending.catalogue.models import LoanProduct
from lending.catalogue.money import quote
from lending.catalogue.services.products import product_terms_snapshot, quote_for_snapshot, quote_terms_from_snapshot
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.applications import application_create, application_submit
from lending.origination.services.contracts import (
    contract_sign,
    contract_terms_for,
)
from lending.origination.tasks import (
    contract_prepare_task,
)
from merchants.models import Merchant


def signed_application(
    merchant,
    product: LoanProduct,
    *,
    amount: Decimal = Decimal("20000.00"),
    term: int | None = 12,
    offered_by=None,
    price: Decimal | None = None,
    offer_start: datetime.date | None = None,
    average_daily_sales: Decimal | None = None,
) -> LoanApplication:
    """An application as the contract service leaves it: an offer on the product's grade-C terms, accepted, signed.

    ``offer_start`` dates the offer's schedule (the offer is usually quoted days before the money goes out).
    """
    snapshot = product_terms_snapshot(product=product, grade="C")
    if price is not None:
        snapshot["price"] = str(price)
    method = product.repayment_methods[0]
    priced = quote_for_snapshot(
        snapshot=snapshot,
        amount=amount,
        term=term,
        start_date=offer_start or timezone.localdate(),
        repayment_method=method,
        average_daily_sales=average_daily_sales,
    )
    now = timezone.now()
    application = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=amount,
        term=term,
        repayment_method=method,
        average_daily_sales=average_daily_sales,
        state=ApplicationState.SIGNED,
        offer_amount=priced.amount,
        offer_term=term,
        offer_repayment_method=method,
        offer_grade="C",
        offer_price=Decimal(snapshot["price"]),
        offer_apr=priced.apr,
        offer_terms=snapshot,
        offer_quote=priced.as_dict(),
        offer_expires_at=now + datetime.timedelta(days=7),
        offered_by=offered_by,
        submitted_at=now,
        decided_at=now,
        accepted_at=now,
        signed_at=now,
    )
    Contract.objects.create(
        application=application,
        version=1,
        status=Contract.Status.SIGNED,
        terms={"amount": str(amount), "term": term},
        consent_text_version=django_settings.CONTRACT_CONSENT_VERSION,
        sha256="a" * 64,
        signed_sha256="a" * 64,
        signed_at=now,
        signer=merchant.owner,
    )
    return application


def signed_on(
    merchant,
    product: LoanProduct,
    signed: datetime.date,
    *,
    amount: Decimal = Decimal("20000.00"),
    term: int | None = 12,
    method: str | None = None,
    average_daily_sales: Decimal | None = None,
) -> LoanApplication:
    """An application offered, accepted and signed on ``signed``, its signed contract printing the offer's terms.

    The offer is priced from ``signed`` on the product's grade-C terms by the money engine itself (the quote service
    refuses days in the past), as the offer service would have priced it that day; the contract's terms are the
    contract service's own, so the signed schedule, totals and APR are the ones a merchant signs.
    """
    snapshot = product_terms_snapshot(product=product, grade="C")
    method = method or product.repayment_methods[0]
    priced = quote(
        quote_terms_from_snapshot(
            snapshot,
            amount=amount,
            term=term,
            start_date=signed,
            repayment_method=method,
            average_daily_sales=average_daily_sales,
        )
    )
    at = timezone.make_aware(datetime.datetime.combine(signed, datetime.time(10)))
    application = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=amount,
        term=term,
        repayment_method=method,
        average_daily_sales=average_daily_sales,
        state=ApplicationState.SIGNED,
        offer_amount=priced.amount,
        offer_term=term,
        offer_repayment_method=method,
        offer_grade="C",
        offer_price=Decimal(snapshot["price"]),
        offer_apr=priced.apr,
        offer_terms=snapshot,
        offer_quote=priced.as_dict(),
        offer_expires_at=at + datetime.timedelta(days=7),
        submitted_at=at,
        decided_at=at,
        accepted_at=at,
        signed_at=at,
    )
    Contract.objects.create(
        application=application,
        version=1,
        status=Contract.Status.SIGNED,
        terms={**contract_terms_for(application=application), "contract_date": signed.isoformat()},
        consent_text_version=django_settings.CONTRACT_CONSENT_VERSION,
        sha256="b" * 64,
        signed_sha256="b" * 64,
        signed_at=at,
        signer=merchant.owner,
    )
    return application


def prepared_contract(application: LoanApplication, capture) -> Contract:
    """Run the task accepting the offer queued (and the render it queues), as a worker would after the commit.

    ``capture`` is pytest-django's ``django_capture_on_commit_callbacks``.
    """
    with capture(execute=True):
        contract_prepare_task.delay(application.pk)
    return Contract.objects.filter(application=application).order_by("-version").first()


IP = "203.0.113.7"


BROWSER = "Mozilla/5.0 (Merchant phone)"


def sign(contract: Contract, *, by=None, consent: bool = True, reauthenticated_with: str = "password") -> Contract:
    return contract_sign(
        contract=contract,
        by=by or contract.application.merchant.owner,
        ip=IP,
        user_agent=BROWSER,
        consent=consent,
        reauthenticated_with=reauthenticated_with,
    )


APPLIED_AMOUNT = Decimal("20000.00")


APPLIED_TERM = 12


def apply_for(merchant: Merchant, product: LoanProduct, **terms) -> LoanApplication:
    """A submitted and decided application (through the services) for 20,000 yuan over 12 months by default."""
    terms = {"amount": APPLIED_AMOUNT, "term": APPLIED_TERM, **terms}
    draft = application_create(merchant=merchant, product=product, by=merchant.owner, **terms)
    return application_submit(application=draft, by=merchant.owner)
