"""The sandbox partner bank: a co-lender that answers the loans offered to it by a fixed rule (demo and tests).

A real partner bank decides with its own risk control, through the partner API, after the offer's webhook reaches
it. The sandbox plays one such bank inside the portal, so `make run` needs no other service: it answers as the
bank's own API account, through the same service the API calls, so every rule (its window, its cap and daily
quota, the platform's 30 %) applies to it as to any bank.

Its rule, stated once: it accepts a loan of grade A, B or C up to ``SANDBOX_PARTNER_MAX_AMOUNT`` (100,000.00 by
default); it declines any other, saying why.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from lending.origination.models import LoanApplication
from partners.models import FundingPartner, OfferState, PartnerOffer, WebhookEventType
from partners.services.offers import partner_offer_accept, partner_offer_decline
from partners.services.webhooks import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    partner_valid_secrets,
    partner_webhook_secret_rotate,
    requests_transport,
    webhook_signature_verify,
)

ACCEPTED_GRADES = ("A", "B", "C")


def sandbox_partner_codes() -> tuple[str, ...]:
    """The partner banks the sandbox answers for (``settings.SANDBOX_PARTNER_CODES``)."""
    return tuple(getattr(settings, "SANDBOX_PARTNER_CODES", ("demo-bank",)))


def sandbox_partner_decides(offer: PartnerOffer) -> tuple[bool, str]:
    """The sandbox bank's rule: (accepts, reason)."""
    application = offer.application
    limit = Decimal(str(getattr(settings, "SANDBOX_PARTNER_MAX_AMOUNT", "100000.00")))
    if application.offer_grade not in ACCEPTED_GRADES:
        return False, _("Grade %(grade)s is outside our appetite (we take A to C).") % {
            "grade": application.offer_grade
        }
    if application.offer_amount > limit:
        return False, _("Above the %(limit)s yuan we take per loan.") % {"limit": f"{limit:,.2f}"}
    return True, ""


def sandbox_partner_answer(*, offer: PartnerOffer) -> str:
    """Answer one offer made to a sandbox bank by its rule; returns the offer's state after (as the bank saw it)."""
    if offer.partner.code not in sandbox_partner_codes() or offer.state != OfferState.OFFERED:
        return offer.state
    bank = offer.partner.api_user
    accepts, reason = sandbox_partner_decides(offer)
    reference = f"SBX-{offer.pk:06d}"
    try:
        if accepts:
            partner_offer_accept(offer=offer, by=bank, reference=reference)
        else:
            partner_offer_decline(offer=offer, by=bank, reference=reference, reason=reason)
    except StateConflict:
        pass  # answered meanwhile, lapsed, or no room left under its cap: the portal moved the loan on
    offer.refresh_from_db()
    return offer.state


def sandbox_partners_answer(application: LoanApplication) -> None:
    """Answer every offer the sandbox banks have open for ``application``, one after the other, as each is made."""
    seen: set[int] = set()
    while True:
        offer = (
            PartnerOffer.objects.filter(
                application=application,
                state=OfferState.OFFERED,
                partner__code__in=sandbox_partner_codes(),
            )
            .exclude(pk__in=seen)
            .select_related("partner__api_user", "application")
            .first()
        )
        if offer is None:
            return
        seen.add(offer.pk)
        with transaction.atomic():
            sandbox_partner_answer(offer=offer)


def sandbox_partner_ensure(*, code: str = "demo-bank", api_user, by) -> FundingPartner:
    """The demo's partner bank, made once (its agreement is set by the demo loader, as a risk manager would)."""
    partner, _created = FundingPartner.objects.get_or_create(
        code=code,
        defaults={
            "legal_name_zh": "示例合作银行股份有限公司",
            "legal_name_en": "Example Partner Bank Co., Ltd.",
            "licence_number": "B0000H000000001",
            "funding_account_number": "6222020000000000001",
            "funding_account_name": "示例合作银行 联合贷款资金户",
            "funding_bank_name": "示例合作银行",
            "api_user": api_user,
            "priority": 10,
            # Its webhooks reach the sandbox bank in this process (``sandbox_webhook_transport``).
            "webhook_url": f"{SANDBOX_WEBHOOK_SCHEME}{code}/webhooks",
        },
    )
    if not partner.webhook_secret:
        partner_webhook_secret_rotate(partner=partner, by=by, reason="Demo data: the sandbox bank's first secret.")
        partner.refresh_from_db()
    return partner


# The sandbox bank's end of the webhooks: offers reach it as any bank's would, signed, and it answers by its rule.

SANDBOX_WEBHOOK_SCHEME = "sandbox://"


def sandbox_webhook_transport(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """Deliver a partner webhook; to a ``sandbox://`` address, to the sandbox bank in this process.

    The sandbox bank checks the signature as a bank must (401 when it does not verify: the portal retries, as it
    would for any bank) and answers a ``loan.offered`` event by its rule. Any other address is a real bank's,
    reached over HTTP as in production.
    """
    if not url.startswith(SANDBOX_WEBHOOK_SCHEME):
        return requests_transport(url=url, body=body, headers=headers, timeout=timeout)
    document = json.loads(body)
    partner = FundingPartner.objects.filter(code=document.get("partner")).first()
    if partner is None or partner.code not in sandbox_partner_codes():
        return 404
    if not webhook_signature_verify(
        body,
        headers.get(HEADER_TIMESTAMP, ""),
        headers.get(HEADER_SIGNATURE, ""),
        partner_valid_secrets(partner=partner),
    ):
        return 401
    if document.get("event") == WebhookEventType.OFFER:
        offer = (
            PartnerOffer.objects.filter(pk=document["data"]["offer_id"], partner=partner)
            .select_related("partner__api_user", "application")
            .first()
        )
        if offer is not None:
            with transaction.atomic():
                sandbox_partner_answer(offer=offer)
    return 200
