"""Partners' models, one module per aggregate."""

from partners.models.agreements import (
    CoLendingAgreement,
    FeeRule,
    FundingPartner,
    LoanShare,
    OfferState,
    PartnerOffer,
)
from partners.models.webhooks import PartnerCredentials, WebhookDelivery, WebhookEvent, WebhookEventType

__all__ = [
    "CoLendingAgreement",
    "FeeRule",
    "FundingPartner",
    "LoanShare",
    "OfferState",
    "PartnerCredentials",
    "PartnerOffer",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
]
