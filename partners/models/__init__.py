"""Partners' models, one module per aggregate."""

from partners.models.agreements import (
    PLATFORM_MIN_SHARE,
    TIER1_CAPITAL_CAP,
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
from partners.models.money import Distribution, PartnerSettlement, SettlementStatus
from partners.models.webhooks import PartnerCredentials, WebhookDelivery, WebhookEvent, WebhookEventType

__all__ = [
    "PLATFORM_MIN_SHARE",
    "TIER1_CAPITAL_CAP",
    "ClaimRecoveryShare",
    "ClaimState",
    "CoLendingAgreement",
    "Distribution",
    "FeeRule",
    "FundingPartner",
    "InsuranceAgreement",
    "InsuranceClaim",
    "InsuranceCover",
    "Insurer",
    "LoanShare",
    "OfferState",
    "PartnerCredentials",
    "PartnerOffer",
    "PartnerSettlement",
    "PremiumPayer",
    "SettlementStatus",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
]
