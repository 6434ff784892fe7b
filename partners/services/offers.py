"""Partner offers: an accepted application is offered to one partner bank at a time, and the bank decides.

The order of partners is their priority, then their code. An application goes to the first partner whose current
agreement takes its product, grade and amount and that has room under its cap and daily quota; that partner
accepts or declines through the API within its answer window. A decline, a lapse or a cap that filled up meanwhile
moves the application on to the next eligible partner; when none is left, the platform lends alone. The lenders are
then settled in lending (``application_lenders_settle``), which makes the contract: it names every lender, and
the merchant signs once.

One partner joins a loan (its agreement's share; the platform keeps the rest, at least 30 %).

Caps hold under concurrency: an acceptance locks the partner's row, so a partner's acceptances are counted one
after another — two loans racing for the last room under its cap or its daily quota cannot both get in.

Lock order (every path): offer → partner → application.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from core.exceptions import StateConflict
from core.money import FEN
from core.services.audit import audit_record
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.lenders import Lender, application_lenders_settle
from lending.servicing.models import LoanState
from partners.models import (
    CoLendingAgreement,
    FundingPartner,
    LoanShare,
    OfferState,
    PartnerOffer,
    WebhookEventType,
)
from partners.selectors.money import shares_with_outstanding
from partners.services.webhooks import webhook_event_record

REFERENCE_MAX_LENGTH = 64
REASON_MAX_LENGTH = 1000
# Loans whose partner share still counts against its cap: not yet paid out, or paid out and still owed.
OWED_LOAN_STATES = (LoanState.PENDING_DISBURSEMENT, LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)


class OfferConflict(StateConflict):
    """The offer cannot take this answer: it was answered, it lapsed, or the partner has no room for it."""


@dataclass(frozen=True, slots=True)
class Room:
    """A partner's room under its agreement now: the cap on outstanding and today's quota, less what is used."""

    cap: Decimal
    outstanding: Decimal
    quota: Decimal
    funded_today: Decimal

    def fits(self, principal: Decimal) -> bool:
        return self.outstanding + principal <= self.cap and self.funded_today + principal <= self.quota


# Opening offers (lending's co-lending hook calls this at acceptance).


def offers_open(*, application: LoanApplication) -> bool:
    """Offer an application just accepted to the first eligible partner; True when one was offered it.

    Runs inside the acceptance's transaction (the application is locked by it). False means no partner takes it,
    and lending settles the platform as its only lender.
    """
    return _offer_next(application, now=timezone.now()) is not None


def _offer_next(application: LoanApplication, *, now: datetime.datetime) -> PartnerOffer | None:
    already = set(PartnerOffer.objects.filter(application=application).values_list("partner_id", flat=True))
    for agreement in _eligible_agreements(application):
        if agreement.partner_id in already:
            continue
        principal = _partner_principal(application.offer_amount, agreement.share)
        # A first look at the room, to skip a partner that is full; the acceptance checks again under the lock.
        if not partner_room(partner=agreement.partner, agreement=agreement, today=timezone.localdate(now)).fits(
            principal
        ):
            continue
        offer = PartnerOffer.objects.create(
            application=application,
            partner=agreement.partner,
            agreement=agreement,
            share=agreement.share,
            principal=principal,
            answer_by=now + datetime.timedelta(hours=agreement.answer_window_hours),
        )
        audit_record(
            subject=offer,
            action="partner_offer.offer",
            to_state=offer.state,
            data={
                "application": application.pk,
                "partner": agreement.partner.code,
                "agreement_version": agreement.version,
                "share": f"{offer.share:.4f}",
                "principal": f"{offer.principal:.2f}",
                "answer_by": offer.answer_by.isoformat(),
            },
        )
        webhook_event_record(
            partner=agreement.partner,
            event=WebhookEventType.OFFER,
            key=f"offer:{offer.pk}",
            payload=offer_payload(offer),
        )
        return offer
    return None


def _eligible_agreements(application: LoanApplication) -> list[CoLendingAgreement]:
    amount = application.offer_amount
    grade = application.offer_grade
    if amount is None or not grade:
        return []
    candidates = (
        CoLendingAgreement.objects.filter(
            is_active=True,
            partner__is_active=True,
            products=application.product_id,
            min_amount__lte=amount,
            max_amount__gte=amount,
        )
        .select_related("partner")
        .order_by("partner__priority", "partner__code", "-version")
    )
    return [agreement for agreement in candidates if grade in agreement.grades]


def _partner_principal(amount: Decimal, share: Decimal) -> Decimal:
    # Rounded down to the fen: the platform's share takes what rounding leaves, so the shares sum to the amount.
    return (amount * share).quantize(FEN, rounding=ROUND_DOWN)


def partner_room(*, partner: FundingPartner, agreement: CoLendingAgreement, today: datetime.date) -> Room:
    """The partner's cap and quota under ``agreement`` and what it has used of them.

    Outstanding: its share principal still owed on its loans (less what was distributed to it), plus the
    principal of offers it accepted whose loans are not yet booked. Funded today: the principal of the offers it
    accepted today.
    """
    accepted = PartnerOffer.objects.filter(partner=partner, state=OfferState.ACCEPTED)
    unbooked = accepted.filter(application__loan__isnull=True).exclude(
        application__state__in=(ApplicationState.WITHDRAWN, ApplicationState.EXPIRED)
    )
    outstanding = unbooked.aggregate(total=Sum("principal"))["total"] or Decimal(0)
    # Its share principal still owed: each share's principal less the principal distributed to it.
    shares = LoanShare.objects.filter(partner=partner, loan__state__in=OWED_LOAN_STATES)
    outstanding += sum(shares_with_outstanding(shares).values_list("outstanding", flat=True), Decimal(0))
    start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    funded_today = accepted.filter(
        Q(answered_at__gte=start) & Q(answered_at__lt=start + datetime.timedelta(days=1))
    ).aggregate(total=Sum("principal"))["total"] or Decimal(0)
    return Room(
        cap=agreement.exposure_cap,
        outstanding=outstanding.quantize(FEN),
        quota=agreement.daily_quota,
        funded_today=funded_today,
    )


# The partner's answers (through the partner API).


def partner_offer_accept(*, offer: PartnerOffer, by: Any, reference: str) -> PartnerOffer:
    """The partner accepts an offered loan: it joins it at the offered share, and the contract is made.

    Invariants: only the partner offered it (anyone else finds nothing), only while offered and within the answer
    window, and only with room under the partner's cap and today's quota, counted under the partner's row lock. An
    offer found lapsed, or a cap that filled up meanwhile, moves the application on to the next partner (or the
    platform alone) and the partner is told why (409).
    """
    reference = _clean_reference(reference)
    refusal: OfferConflict | None = None
    with transaction.atomic():
        locked = _lock_for(offer, by)
        _require_open(locked)
        partner = FundingPartner.objects.select_for_update().get(pk=locked.partner_id)
        now = timezone.now()
        if locked.answer_by <= now:
            _close(locked, locked.lapse, action="partner_offer.lapse", by=None, reason=_("No answer in time."))
            refusal = OfferConflict(
                _("This offer lapsed at %(when)s; the loan went to another lender.")
                % {"when": timezone.localtime(locked.answer_by).strftime("%Y-%m-%d %H:%M")},
                code="offer_lapsed",
            )
        elif not partner_room(partner=partner, agreement=locked.agreement, today=timezone.localdate(now)).fits(
            locked.principal
        ):
            _close(
                locked,
                locked.decline,
                action="partner_offer.decline",
                by=None,
                reason=_("The partner's cap or today's quota has no room for it."),
                reference=reference,
            )
            refusal = OfferConflict(
                _(
                    "Your outstanding cap (25 %% of tier-1 capital) or today's funding quota has no room for "
                    "%(principal)s yuan; the loan went to another lender."
                )
                % {"principal": f"{locked.principal:.2f}"},
                code="partner_cap_reached",
            )
        else:
            application = LoanApplication.objects.select_for_update(of=("self",)).get(pk=locked.application_id)
            if application.state != ApplicationState.ACCEPTED or application.lenders_settled_at is not None:
                _close(locked, locked.lapse, action="partner_offer.lapse", by=None, reason=_("The merchant left."))
                refusal = OfferConflict(
                    _("The merchant withdrew or the offer expired; there is nothing to fund."),
                    code="application_closed",
                )
            else:
                _close(locked, locked.accept, action="partner_offer.accept", by=by, reason="", reference=reference)
                application_lenders_settle(
                    application=application,
                    partners=[
                        Lender(
                            code=partner.code,
                            legal_name_zh=partner.legal_name_zh,
                            legal_name_en=partner.legal_name_en,
                            share=locked.share,
                        )
                    ],
                    by=by,
                    reason=_("Accepted by %(partner)s under agreement version %(version)s.")
                    % {"partner": partner.code, "version": locked.agreement.version},
                )
                return locked
        if refusal.code != "application_closed":
            _move_on(locked.application_id)
    raise refusal


def partner_offer_decline(*, offer: PartnerOffer, by: Any, reference: str, reason: str) -> PartnerOffer:
    """The partner declines an offered loan, with its reference and reason; the next partner is offered it."""
    reference = _clean_reference(reference)
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you decline; it is kept with the offer.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": _("At most %(max)s characters.") % {"max": REASON_MAX_LENGTH}})
    with transaction.atomic():
        locked = _lock_for(offer, by)
        _require_open(locked)
        _close(locked, locked.decline, action="partner_offer.decline", by=by, reason=reason, reference=reference)
        _move_on(locked.application_id)
    return locked


def partner_offers_lapse(*, now: datetime.datetime | None = None) -> int:
    """Lapse every offer whose answer window closed and move its application on; returns how many lapsed.

    Each offer in its own transaction, checked again under its lock, so an answer that arrived a moment ago stands
    and a second run changes nothing.
    """
    now = now or timezone.now()
    lapsed = 0
    due = PartnerOffer.objects.filter(state=OfferState.OFFERED, answer_by__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            locked = PartnerOffer.objects.select_for_update().select_related("partner").get(pk=pk)
            if locked.state != OfferState.OFFERED or locked.answer_by > now:
                continue
            _close(locked, locked.lapse, action="partner_offer.lapse", by=None, reason=_("No answer in time."))
            _move_on(locked.application_id)
            lapsed += 1
    return lapsed


def _move_on(application_id: int) -> None:
    """After a partner said no (or nothing): offer the next partner, or settle the platform as the only lender."""
    application = LoanApplication.objects.select_for_update(of=("self",)).get(pk=application_id)
    if application.state != ApplicationState.ACCEPTED or application.lenders_settled_at is not None:
        return  # withdrawn or expired meanwhile: nothing to fund
    if _offer_next(application, now=timezone.now()) is None:
        application_lenders_settle(
            application=application,
            partners=[],
            reason=_("No partner bank took it; the platform lends alone."),
        )


def _lock_for(offer: PartnerOffer, by: Any) -> PartnerOffer:
    partner = getattr(by, "funding_partner", None) if getattr(by, "is_authenticated", False) else None
    try:
        locked = (
            PartnerOffer.objects.select_for_update(of=("self",)).select_related("agreement", "partner").get(pk=offer.pk)
        )
    except PartnerOffer.DoesNotExist:
        raise PermissionDenied(_("No such offer.")) from None
    if partner is None or locked.partner_id != partner.pk:
        # Another partner's offer is not there for it: say nothing about it.
        raise PermissionDenied(_("No such offer."))
    return locked


def _require_open(offer: PartnerOffer) -> None:
    if offer.state != OfferState.OFFERED:
        raise OfferConflict(
            _("This offer was already answered: it is %(state)s.") % {"state": offer.get_state_display()},
            code="offer_answered",
        )


def _clean_reference(reference: object) -> str:
    reference = str(reference or "").strip()
    if not reference:
        raise ValidationError({"reference": _("Give your own reference for this answer.")})
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise ValidationError({"reference": _("At most %(max)s characters.") % {"max": REFERENCE_MAX_LENGTH}})
    return reference


def _close(offer: PartnerOffer, method, *, action: str, by: Any, reason: str, reference: str = "") -> None:
    if not can_proceed(method):
        raise OfferConflict(_("This offer cannot be answered now."), code="offer_answered")
    from_state = offer.state
    method()
    offer.answered_at = timezone.now()
    offer.reason = reason
    if reference:
        offer.partner_reference = reference
    offer.save()
    audit_record(
        subject=offer,
        action=action,
        by=by,
        from_state=from_state,
        to_state=offer.state,
        reason=reason,
        data={"application": offer.application_id, "partner_reference": offer.partner_reference},
    )


def offer_payload(offer: PartnerOffer) -> dict[str, Any]:
    """What the partner's webhook and API say of an offer (nothing of other lenders, no identifiers)."""
    application = offer.application
    return {
        "offer_id": offer.pk,
        "application_id": application.pk,
        "state": offer.state,
        "product": application.product.code,
        "grade": application.offer_grade,
        "amount": f"{application.offer_amount:.2f}",
        "term": application.offer_term,
        "share": f"{offer.share:.4f}",
        "principal": f"{offer.principal:.2f}",
        "agreement_version": offer.agreement.version,
        "answer_by": offer.answer_by.isoformat(),
    }
