"""Partners' models, one module per aggregate."""

from partners.models.agreements import (
    CoLendingAgreement,
    FeeRule,
    FundingPartner,
    LoanShare,
    OfferState,
    PartnerOffer,
)
from partners.models.insurance import (
    ClaimRecoveryShare,
    ClaimState,
    InsuranceAgreement,
    InsuranceClaim,
    InsuranceCover,
    Insurer,
    PremiumPayer,
)
from partners.models.webhooks import WebhookDelivery, WebhookEvent, WebhookEventType

__all__ = [
    "ClaimRecoveryShare",
    "ClaimState",
    "CoLendingAgreement",
    "FeeRule",
    "FundingPartner",
    "InsuranceAgreement",
    "InsuranceClaim",
    "InsuranceCover",
    "Insurer",
    "LoanShare",
    "OfferState",
    "PartnerOffer",
    "PremiumPayer",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
]
