"""Loan shares, fixed when the loan is booked: each lender's part of the principal, summing exactly to it."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from core.money import FEN
from core.services.audit import audit_record
from lending.origination.models import LoanApplication
from lending.origination.services.lenders import PLATFORM, FundingLeg
from lending.servicing.models import Loan
from partners.models import LoanShare, OfferState, PartnerOffer


def loan_shares_create(*, loan: Loan, application: LoanApplication) -> list[FundingLeg]:
    """Record the loan's shares and return each partner's part of the payout.

    The rule for the fen: each partner's principal is the loan's principal times its share, rounded down to the
    fen; the platform's is what is left, so the shares sum exactly to the principal. A partner funds its share of
    the principal; the platform funds the rest of the payout (fees deducted at payout are the platform's).
    """
    existing = list(LoanShare.objects.filter(loan=loan).select_related("partner"))
    if not existing:
        accepted = {
            offer.partner.code: offer
            for offer in PartnerOffer.objects.filter(application=application, state=OfferState.ACCEPTED).select_related(
                "partner", "agreement"
            )
        }
        partners_total = Decimal(0)
        for lender in application.lenders:
            if lender["code"] == PLATFORM:
                continue
            offer = accepted[lender["code"]]
            share = Decimal(lender["share"])
            principal = (loan.principal * share).quantize(FEN, rounding=ROUND_DOWN)
            partners_total += principal
            existing.append(
                LoanShare.objects.create(
                    loan=loan,
                    partner=offer.partner,
                    agreement=offer.agreement,
                    share=share,
                    principal=principal,
                    interest_rate=offer.agreement.interest_rate,
                )
            )
        platform_share = Decimal(1) - sum((share.share for share in existing), Decimal(0))
        existing.append(
            LoanShare.objects.create(loan=loan, share=platform_share, principal=loan.principal - partners_total)
        )
        audit_record(
            subject=loan,
            action="loan.shares",
            data={"shares": {share.lender_code: f"{share.principal:.2f}" for share in existing}},
        )
    return [
        FundingLeg(
            lender=share.partner.code,
            amount=share.principal,
            account_number=share.partner.funding_account_number,
            account_name=share.partner.funding_account_name,
            bank_name=share.partner.funding_bank_name,
        )
        for share in existing
        if share.partner_id
    ]
