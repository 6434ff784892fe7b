"""A partner answers a loan offered to it: accept or decline, with its own reference, before the window closes."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.exceptions import StateConflict
from core.services.audit import audit_record
from partners.models import OfferState, PartnerOffer

REFERENCE_MAX_LENGTH = 64


def _answerable(*, offer: PartnerOffer, by: User, reference: str) -> PartnerOffer:
    """The offer locked for an answer by ``by``'s partner, or the reason it cannot be answered."""
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give your own reference for this answer.")]})
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise ValidationError({"reference": [_("At most %(count)d characters.") % {"count": REFERENCE_MAX_LENGTH}]})
    locked = PartnerOffer.objects.select_for_update().select_related("partner").get(pk=offer.pk)
    partner = getattr(by, "funding_partner", None)
    if partner is None or locked.partner_id != partner.pk:
        raise PermissionDenied(_("Only the partner this loan was offered to can answer it."))
    if locked.state != OfferState.OFFERED:
        raise StateConflict(
            _("This offer was already answered: it is %(state)s.") % {"state": locked.get_state_display()},
            code="offer_answered",
        )
    if locked.answer_by <= timezone.now():
        raise StateConflict(
            _("The answer window closed at %(moment)s; the loan goes to the next lender.")
            % {"moment": timezone.localtime(locked.answer_by).isoformat(timespec="minutes")},
            code="offer_lapsed",
        )
    return locked


def partner_offer_accept(*, offer: PartnerOffer, by: User, reference: str) -> PartnerOffer:
    """The partner takes its share of the offered loan. Only its own open offer, within the answer window."""
    with transaction.atomic():
        locked = _answerable(offer=offer, by=by, reference=reference)
        locked.accept()
        locked.answered_at = timezone.now()
        locked.partner_reference = reference.strip()
        locked.save()
        audit_record(
            subject=locked,
            action="partner_offer.accept",
            by=by,
            from_state=OfferState.OFFERED,
            to_state=locked.state,
            data={"reference": locked.partner_reference},
        )
    return locked


def partner_offer_decline(*, offer: PartnerOffer, by: User, reference: str, reason: str) -> PartnerOffer:
    """The partner declines the offered loan, saying why. Only its own open offer, within the answer window."""
    with transaction.atomic():
        locked = _answerable(offer=offer, by=by, reference=reference)
        locked.decline()
        locked.answered_at = timezone.now()
        locked.partner_reference = reference.strip()
        locked.reason = (reason or "").strip()
        locked.save()
        audit_record(
            subject=locked,
            action="partner_offer.decline",
            by=by,
            from_state=OfferState.OFFERED,
            to_state=locked.state,
            reason=locked.reason,
            data={"reference": locked.partner_reference},
        )
    return locked
