"""A co-funded loan's shares, fixed when the loan is booked, and each partner's part of the payout.

The rule for the fen: each partner's share principal is its share of the loan's principal rounded DOWN to the fen;
the platform's share principal is what the partners leave. So the shares' principals always sum exactly to the
loan's principal, no partner is ever given a fen more than its share, and the platform (which keeps at least 30 %)
takes the fractions of a fen.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from core.money import FEN
from lending.origination.services.lenders import PLATFORM, FundingLeg, LendersError
from partners.models import LoanShare, OfferState, PartnerOffer

if TYPE_CHECKING:
    from lending.origination.models import LoanApplication
    from lending.servicing.models import Loan


def share_principal(*, principal: Decimal, share: Decimal) -> Decimal:
    """A partner's part of ``principal``: ``principal`` x ``share``, rounded down to the fen."""
    return (principal * share).quantize(FEN, rounding=ROUND_DOWN)


def loan_shares_create(*, loan: Loan, application: LoanApplication) -> list[FundingLeg]:
    """Record the shares of a loan just booked (inside the booking's transaction); return each partner's funding leg.

    Reads the lenders settled on the application (``application.lenders``): the platform and each partner with its
    share. A partner's agreement version is the one of its accepted offer for this application; its interest rate
    is that agreement's. Invariants: the shares' principals sum exactly to ``loan.principal`` (partners rounded
    down, the platform takes the rest); every partner named has an accepted offer; calling it again for the same
    loan records nothing new and returns the same legs. A partner's funding leg is its share principal: fees taken
    from the payout (an origination fee) are the platform's, so they come off the platform's own part.
    """
    partners = [lender for lender in application.lenders if lender["code"] != PLATFORM]
    with transaction.atomic():
        existing = list(LoanShare.objects.filter(loan=loan).select_related("partner"))
        if existing:
            return _legs(existing)
        offers = {
            offer.partner.code: offer
            for offer in PartnerOffer.objects.filter(application=application, state=OfferState.ACCEPTED).select_related(
                "partner", "agreement"
            )
        }
        missing = [lender["code"] for lender in partners if lender["code"] not in offers]
        if missing:
            raise LendersError(
                _("These lenders have no accepted offer for application #%(id)s: %(codes)s.")
                % {"id": application.pk, "codes": ", ".join(missing)}
            )
        shares = []
        for lender in partners:
            offer = offers[lender["code"]]
            fraction = Decimal(lender["share"])
            shares.append(
                LoanShare(
                    loan=loan,
                    partner=offer.partner,
                    agreement=offer.agreement,
                    share=fraction,
                    principal=share_principal(principal=loan.principal, share=fraction),
                    interest_rate=offer.agreement.interest_rate,
                )
            )
        platform_principal = loan.principal - sum((share.principal for share in shares), Decimal("0.00"))
        platform_fraction = Decimal(1) - sum((share.share for share in shares), Decimal(0))
        if platform_principal <= 0 or any(share.principal <= 0 for share in shares):
            raise LendersError(
                _("Loan #%(id)s of %(principal)s cannot be shared so: every lender's part must be at least 0.01.")
                % {"id": loan.pk, "principal": f"{loan.principal:.2f}"}
            )
        shares.insert(
            0, LoanShare(loan=loan, partner=None, agreement=None, share=platform_fraction, principal=platform_principal)
        )
        LoanShare.objects.bulk_create(shares)
    return _legs(shares)


def _legs(shares: list[LoanShare]) -> list[FundingLeg]:
    return [
        FundingLeg(
            lender=share.partner.code,
            amount=share.principal,
            account_number=share.partner.funding_account_number,
            account_name=share.partner.funding_account_name,
            bank_name=share.partner.funding_bank_name,
        )
        for share in sorted(
            (row for row in shares if row.partner is not None), key=lambda row: (row.partner.priority, row.partner.code)
        )
    ]
