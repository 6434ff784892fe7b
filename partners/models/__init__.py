"""Partners' models, one module per aggregate."""

from partners.models.agreements import (
    CoLendingAgreement,
    FeeRule,
    FundingPartner,
    LoanShare,
    OfferState,
    PartnerOffer,
)
from partners.models.money import Distribution, PartnerSettlement, SettlementStatus
from partners.models.webhooks import WebhookDelivery, WebhookEvent, WebhookEventType

__all__ = [
    "CoLendingAgreement",
    "Distribution",
    "FeeRule",
    "FundingPartner",
    "LoanShare",
    "OfferState",
    "PartnerOffer",
    "PartnerSettlement",
    "SettlementStatus",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
]
