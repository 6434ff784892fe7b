"""What a partner reads through its API: the loans offered to it, the loans it co-funds, an offered merchant's file.

Every read starts from the partner's own rows (its offers, its loan shares), so another partner's object is simply
not found. The merchant file is the one a partner may see for its own risk check: identifiers masked, the decision's
features and reasons, and monthly sales from the platform's own feed only (never what a merchant declared).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from lending.servicing.models import Loan
from merchants.choices import SalesSource
from merchants.models import Merchant
from merchants.selectors.sales import MonthTotal, SalesSummary, sales_monthly_totals, sales_summary
from merchants.validators import mask_resident_id
from partners.models import FundingPartner, LoanShare, PartnerOffer
from partners.selectors.exposure import loans_outstanding_principal

FEN = Decimal("0.01")
SALES_MONTHS = 13  # twelve full months and the current one


def partner_offers(*, partner: FundingPartner) -> QuerySet[PartnerOffer]:
    """The partner's offers, newest first, with what the answer page shows of each application."""
    return PartnerOffer.objects.filter(partner=partner).select_related(
        "agreement", "application", "application__product", "application__loan"
    )


def partner_offer(*, partner: FundingPartner, pk: int) -> PartnerOffer | None:
    return partner_offers(partner=partner).filter(pk=pk).first()


@dataclass(frozen=True)
class PortfolioLoan:
    """One loan the partner co-funds, with its share and what of that share is still owed."""

    loan: Loan
    share: LoanShare
    outstanding_principal: Decimal
    outstanding_share_principal: Decimal


def partner_loan_shares(*, partner: FundingPartner) -> QuerySet[LoanShare]:
    """The partner's shares of loans (one per loan it co-funds), newest loan first."""
    return (
        LoanShare.objects.filter(partner=partner)
        .select_related("loan", "loan__product", "agreement")
        .order_by("-loan_id")
    )


def partner_portfolio(*, shares: list[LoanShare]) -> list[PortfolioLoan]:
    """``shares`` with their loans' outstanding principal and the partner's part of it, to the fen.

    The outstanding share principal is the share's fraction of the loan's principal still owed (principal is
    repaid pro rata to the lenders' shares); a loan paid off, written off or not yet booked owes none.
    """
    outstanding = loans_outstanding_principal(loan_ids=[share.loan_id for share in shares])
    return [
        PortfolioLoan(
            loan=share.loan,
            share=share,
            outstanding_principal=outstanding.get(share.loan_id, Decimal("0.00")),
            outstanding_share_principal=(outstanding.get(share.loan_id, Decimal(0)) * share.share).quantize(FEN),
        )
        for share in shares
    ]


def partner_loan(*, partner: FundingPartner, pk: int) -> PortfolioLoan | None:
    share = partner_loan_shares(partner=partner).filter(loan_id=pk).first()
    return partner_portfolio(shares=[share])[0] if share is not None else None


def mask_credit_code(code: str) -> str:
    """The unified social credit code with only its first two and last four characters: 91************001X."""
    if len(code) <= 6:
        return "*" * len(code)
    return f"{code[:2]}{'*' * (len(code) - 6)}{code[-4:]}"


@dataclass(frozen=True)
class OfferedMerchant:
    """What a partner may see of the merchant of a loan offered to it."""

    merchant: Merchant
    credit_code_masked: str
    legal_rep_id_masked: str
    months_active: int | None
    decision: object | None  # underwriting's Decision of the application, if any
    months: list[MonthTotal]
    summary: SalesSummary


def offered_merchant(*, offer: PartnerOffer, today: datetime.date | None = None) -> OfferedMerchant:
    """The merchant file of ``offer``'s application, for the partner's own risk check.

    Sales are the platform feed's rows only: a merchant's declared sales are evidence for an officer, never input
    to anyone's decision.
    """
    application = offer.application
    merchant = application.merchant
    today = today or timezone.localdate()
    months = sales_monthly_totals(merchant=merchant, today=today, months=SALES_MONTHS, source=SalesSource.PLATFORM)
    decision = application.decision
    features = (decision.snapshot or {}).get("features", {}) if decision is not None else {}
    months_active = features.get("months_active")
    return OfferedMerchant(
        merchant=merchant,
        credit_code_masked=mask_credit_code(merchant.credit_code),
        legal_rep_id_masked=mask_resident_id(merchant.legal_rep_id_number) if merchant.legal_rep_id_number else "",
        months_active=int(Decimal(str(months_active))) if months_active is not None else None,
        decision=decision,
        months=months[:-1],  # full months only: the current one is still running
        summary=sales_summary(months=months),
    )
