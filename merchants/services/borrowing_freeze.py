"""Freezing a merchant's further borrowing, and lifting the freeze.

An officer who sees a funded merchant's behaviour turn after the payout (the risk firewall's fraud watch) stops it
from borrowing again while the case is looked into. It is not a KYC suspension: the merchant stays verified, signs
in, sees its loans and repays; only a new application is refused (``lending.origination.services.applications``
checks ``Merchant.borrowing_frozen`` when an application is made and when it is submitted).

Both steps follow the portal's one order: lock the merchant, check who acts, check the state, change, save, one
audit row. The reason is required: the next officer, and an auditor, read why.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from merchants.models import Merchant

FREEZE_PERMISSION = "merchants.freeze_borrowing"
# Lifting a freeze lets money go out again: it takes an officer who may also suspend and reinstate merchants.
LIFT_PERMISSION = "merchants.suspend_merchant"


def merchant_borrowing_freeze(*, merchant: Merchant, by: Any, reason: str, data: dict | None = None) -> Merchant:
    """Stop ``merchant`` from making or submitting applications until the freeze is lifted.

    Invariant: a frozen merchant has who froze it, when and why; freezing one already frozen is refused (the first
    freeze and its reason stay as they were). ``data`` is kept in the audit row (e.g. the alert that prompted it).
    """
    reason = _required(reason, _("Reason: say why the merchant's borrowing is frozen; it is kept in the audit trail."))
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if not by.has_perm(FREEZE_PERMISSION):
            raise PermissionDenied(_("You do not have permission to freeze a merchant's borrowing."))
        if locked.borrowing_frozen:
            raise StateConflict(
                _("%(merchant)s's borrowing is already frozen (since %(since)s).")
                % {"merchant": locked, "since": timezone.localtime(locked.borrowing_frozen_at).strftime("%Y-%m-%d")},
                code="already_frozen",
            )
        locked.borrowing_frozen_at = timezone.now()
        locked.borrowing_frozen_by = by
        locked.borrowing_frozen_reason = reason
        locked.save(update_fields=["borrowing_frozen_at", "borrowing_frozen_by", "borrowing_frozen_reason"])
        audit_record(
            subject=locked,
            action="merchant.borrowing_freeze",
            by=by,
            from_state="open",
            to_state="frozen",
            reason=reason,
            data=data or {},
        )
    return locked


def merchant_borrowing_unfreeze(*, merchant: Merchant, by: Any, reason: str) -> Merchant:
    """Let a frozen merchant borrow again; needs a senior officer and a reason."""
    reason = _required(reason, _("Reason: say why the merchant may borrow again; it is kept in the audit trail."))
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if not by.has_perm(LIFT_PERMISSION):
            raise PermissionDenied(_("You do not have permission to lift a freeze on borrowing."))
        if not locked.borrowing_frozen:
            raise StateConflict(_("%(merchant)s's borrowing is not frozen.") % {"merchant": locked}, code="not_frozen")
        locked.borrowing_frozen_at = None
        locked.borrowing_frozen_by = None
        locked.borrowing_frozen_reason = ""
        locked.save(update_fields=["borrowing_frozen_at", "borrowing_frozen_by", "borrowing_frozen_reason"])
        audit_record(
            subject=locked,
            action="merchant.borrowing_unfreeze",
            by=by,
            from_state="frozen",
            to_state="open",
            reason=reason,
        )
    return locked


def _required(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [message]})
    return reason


__all__ = ["FREEZE_PERMISSION", "LIFT_PERMISSION", "merchant_borrowing_freeze", "merchant_borrowing_unfreeze"]
