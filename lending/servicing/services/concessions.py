"""Maker-checker for concessions: what every kind shares (a counter-offer below the grid, a restructure below the
grid or forgiving fees, a write-off). Each kind's own module asks for, applies and rejects it:
``lending.origination.services.applications`` (counter-offers), ``lending.servicing.services.restructure`` and
``lending.servicing.services.collections`` (write-offs); ``lending.origination.services.concessions`` routes the
back office's queue to them.

Invariants:

- One officer (the maker) asks; only a different officer holding ``lending.second_approve_concession`` approves or
  rejects, and never the owner of the merchant concerned. Refusals are ``PermissionDenied``.
- Until it is approved nothing changes for the merchant, who is told nothing; a concession is decided once.
- Asking, approving and rejecting each write exactly one audit row, on the object the concession changes (the
  application, the restructure proposal, the loan); the row names the concession, its maker and its checker.
- A rejection needs a reason; the maker is told it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.models import Notice
from lending.servicing.models import Concession

if TYPE_CHECKING:
    from accounts.models import User

SECOND_APPROVE_PERMISSION = "lending.second_approve_concession"
REASON_MAX_LENGTH = 2000
C = Concession.Status


class ConcessionConflict(StateConflict):
    """The concession was decided already, or another one of its kind is waiting (HTTP 409)."""


def concession_reason_checked(reason: object, *, field: str = "reason", message: str | None = None) -> str:
    """The maker's or the checker's reason, stripped; a field error on ``field`` when missing or too long."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > REASON_MAX_LENGTH:
        raise ValidationError(
            {field: [message or _("Give the reason: 1 to %(max)d characters.") % {"max": REASON_MAX_LENGTH}]}
        )
    return text


def concession_create(*, kind: str, by: User, reason: str, terms: dict, **subject: Any) -> Concession:
    """Record what the maker asks for, awaiting a second approval (in the caller's transaction, under its locks).

    ``subject``: ``application=``, or ``loan=`` (and ``restructure=`` for a restructure). A second pending
    concession of the same kind for the same application or loan is refused (``ConcessionConflict``).
    """
    try:
        with transaction.atomic():
            return Concession.objects.create(kind=kind, requested_by=by, reason=reason, terms=terms, **subject)
    except IntegrityError:
        raise ConcessionConflict(
            _("A concession of this kind is already waiting for a second approval here; it must be decided first."),
            code="concession_pending",
        ) from None


def concession_locked(concession: Concession) -> Concession:
    return Concession.objects.select_for_update().get(pk=concession.pk)


def concession_checker_check(*, concession: Concession, by: User, merchant_owner_id: int | None) -> None:
    """Refuse anyone but a second officer with the permission: never the maker, never the merchant's owner."""
    if not getattr(by, "is_authenticated", False) or not by.has_perm(SECOND_APPROVE_PERMISSION):
        raise PermissionDenied(_("Only a senior officer can approve or reject a concession or a write-off."))
    if by.pk == concession.requested_by_id:
        raise PermissionDenied(
            _("You asked for this %(kind)s: the second approval must come from another officer.")
            % {"kind": concession.get_kind_display().lower()}
        )
    if merchant_owner_id is not None and by.pk == merchant_owner_id:
        raise PermissionDenied(_("Nobody can decide a concession to their own business."))
    if concession.status != C.PENDING:
        raise ConcessionConflict(
            _("This concession is already %(status)s.") % {"status": concession.get_status_display().lower()},
            code="concession_decided",
        )


def concession_audit_data(concession: Concession) -> dict:
    """What the one audit row of a decision says about the concession (beside what it changed)."""
    return {
        "concession_id": concession.pk,
        "concession_kind": concession.kind,
        "concession_status": concession.status,
        "requested_by": concession.requested_by_id,
        "decided_by": concession.decided_by_id,
        "decision_note": concession.decision_note,
    }


def concession_url(concession: Concession) -> str:
    return reverse("admin:lending_concession_change", args=[concession.pk])


def concession_checkers_notify(*, concession: Concession, title: str, body: str) -> None:
    """An in-app notice to every active officer who could approve it, the maker excepted (officers work the back
    office: no email)."""
    from accounts.models import User

    app_label, codename = SECOND_APPROVE_PERMISSION.split(".")
    checkers = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
            | Q(groups__permissions__content_type__app_label=app_label, groups__permissions__codename=codename)
            | Q(is_superuser=True)
        )
        .exclude(pk=concession.requested_by_id)
        .distinct()
    )
    url = concession_url(concession)
    Notice.objects.bulk_create(Notice(user=checker, title=title, body=body, url=url) for checker in checkers)


def concession_maker_notify(*, concession: Concession) -> None:
    """Tell the maker how the second officer decided (the reason, when rejected)."""
    if concession.status == C.APPROVED:
        title = _("Your %(kind)s was approved") % {"kind": concession.get_kind_display().lower()}
        body = _("%(checker)s gave the second approval; it has taken effect.") % {"checker": concession.decided_by}
    else:
        title = _("Your %(kind)s was rejected") % {"kind": concession.get_kind_display().lower()}
        body = _("%(checker)s rejected it: %(note)s") % {
            "checker": concession.decided_by,
            "note": concession.decision_note,
        }
    Notice.objects.create(user_id=concession.requested_by_id, title=title, body=body, url=concession_url(concession))


__all__ = [
    "SECOND_APPROVE_PERMISSION",
    "ConcessionConflict",
    "concession_audit_data",
    "concession_checker_check",
    "concession_checkers_notify",
    "concession_create",
    "concession_locked",
    "concession_maker_notify",
    "concession_reason_checked",
    "concession_url",
]
