"""Funding partners, their agreements and applications waiting for lenders, as the partners tests start from."""

import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user
from lending.catalogue.models import LoanProduct
from lending.catalogue.services.products import product_terms_snapshot, quote_for_snapshot
from lending.origination.models import ApplicationState, LoanApplication
from merchants.choices import KycState
from merchants.tests.factories import MerchantFactory
from partners.models import CoLendingAgreement, FundingPartner
from partners.services.agreements import agreement_version_create


def funding_partner(code: str = "bank-a", *, priority: int = 100, **fields) -> FundingPartner:
    """A partner bank with its API account (role Partner)."""
    user = make_user(Role.PARTNER, email=f"api@{code}.example")
    return FundingPartner.objects.create(
        code=code,
        legal_name_zh=fields.pop("legal_name_zh", f"{code}银行股份有限公司"),
        legal_name_en=fields.pop("legal_name_en", f"{code.title()} Bank Co., Ltd."),
        licence_number=f"B{abs(hash(code)) % 10**8:08d}",
        funding_account_number=f"6222{abs(hash(code)) % 10**12:012d}",
        funding_account_name=f"{code} co-lending funding",
        funding_bank_name=f"{code} bank",
        api_user=user,
        priority=priority,
        **fields,
    )


AGREEMENT_DEFAULTS = {
    "grades": ["A", "B", "C"],
    "share": Decimal("0.7000"),
    "interest_rate": Decimal("0.045000"),
    "tier1_capital": Decimal("4000000.00"),  # a cap of 1,000,000.00 outstanding
    "daily_quota": Decimal("500000.00"),
    "min_amount": Decimal("1000.00"),
    "max_amount": Decimal("500000.00"),
    "service_fee_rate": Decimal("0.005000"),
    "answer_window_hours": 24,
}


def agreement(partner: FundingPartner, products: list[LoanProduct], *, by, **terms) -> CoLendingAgreement:
    return agreement_version_create(partner=partner, by=by, products=products, **{**AGREEMENT_DEFAULTS, **terms})


def offered_application(
    product: LoanProduct,
    *,
    amount: Decimal = Decimal("20000.00"),
    term: int = 12,
    grade: str = "C",
    state: str = ApplicationState.APPROVED,
    merchant=None,
) -> LoanApplication:
    """An application with an offer on the product's terms for ``grade``, approved (or ``state``), lenders unsettled."""
    merchant = merchant or MerchantFactory(kyc_state=KycState.VERIFIED)
    snapshot = product_terms_snapshot(product=product, grade=grade)
    method = product.repayment_methods[0]
    priced = quote_for_snapshot(
        snapshot=snapshot, amount=amount, term=term, start_date=timezone.localdate(), repayment_method=method
    )
    now = timezone.now()
    return LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=amount,
        term=term,
        repayment_method=method,
        state=state,
        offer_amount=priced.amount,
        offer_term=term,
        offer_repayment_method=method,
        offer_grade=grade,
        offer_price=Decimal(snapshot["price"]),
        offer_apr=priced.apr,
        offer_terms=snapshot,
        offer_quote=priced.as_dict(),
        offer_expires_at=now + datetime.timedelta(days=7),
        submitted_at=now,
        decided_at=now,
        accepted_at=now if state != ApplicationState.APPROVED else None,
    )
