"""Raising and resolving fraud alerts: every change to a ``FraudAlert`` goes through here.

An alert is open until an officer either clears it (a false positive) or confirms it (fraud). Both
follow the portal's one order: lock the alert, check who is acting, check it is still open, change it,
save, write one audit row. The note is required because the next officer, and an auditor, need to
know why an alert was closed.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.services.audit import audit_record
from merchants.models import Merchant
from underwriting.models import Decision, FraudAlert
from underwriting.selectors.fraud_signals import SignalHit

RESOLVE_PERMISSION = "underwriting.change_fraudalert"


class FraudAlertError(ValidationError):
    """An alert could not be resolved for a reason the officer can act on; the message says which."""


def fraud_alert_clear(*, alert: FraudAlert, by: Any, note: str) -> FraudAlert:
    """Close an open alert as a false positive; it no longer refers the merchant's applications."""
    return _resolve(alert=alert, by=by, note=note, status=FraudAlert.Status.CLEARED, action="fraud_alert.clear")


def fraud_alert_confirm(*, alert: FraudAlert, by: Any, note: str) -> FraudAlert:
    """Close an open alert as confirmed fraud; the record stays for the rules and for the audit."""
    return _resolve(alert=alert, by=by, note=note, status=FraudAlert.Status.CONFIRMED, action="fraud_alert.confirm")


def _resolve(*, alert: FraudAlert, by: Any, note: str, status: str, action: str) -> FraudAlert:
    note = (note or "").strip()
    if not note:
        raise FraudAlertError(
            _("Note: say why the alert is being closed; it is kept with the alert and in the audit trail."),
            code="note_required",
        )
    with transaction.atomic():
        locked = FraudAlert.objects.select_for_update().get(pk=alert.pk)
        if not by.has_perm(RESOLVE_PERMISSION):
            raise PermissionDenied(_("You are not allowed to resolve fraud alerts."))
        if locked.status != FraudAlert.Status.OPEN:
            raise FraudAlertError(
                _("This alert is already %(status)s; only open alerts can be cleared or confirmed."),
                code="not_open",
                params={"status": locked.get_status_display().lower()},
            )
        from_state = locked.status
        locked.status = status
        locked.resolved_at = timezone.now()
        locked.resolved_by = by
        locked.resolution_note = note
        locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
        audit_record(
            subject=locked,
            action=action,
            by=by,
            from_state=from_state,
            to_state=status,
            reason=note,
            data={"merchant": locked.merchant_id, "signal": locked.signal},
        )
    return locked


def fraud_alerts_raise(
    *, merchant: Merchant, hits: Iterable[SignalHit], decision: Decision | None = None
) -> list[FraudAlert]:
    """Open one alert per signal that fired, unless that signal already has an open alert for the merchant.

    An open alert already asks an officer to look; a second one for the same signal would only split
    the work (the database allows one open alert per merchant and signal). The engine calls this in
    its decision transaction; each new alert gets one audit row, by the system.
    """
    hits = list(hits)
    if not hits:
        return []
    raised = []
    with transaction.atomic():
        already_open = set(
            FraudAlert.objects.filter(merchant=merchant, status=FraudAlert.Status.OPEN).values_list("signal", flat=True)
        )
        for hit in hits:
            if hit.signal in already_open:
                continue
            try:
                # A savepoint per alert: a concurrent decision that raised the same alert first
                # must not roll back the rest of this one.
                with transaction.atomic():
                    alert = FraudAlert.objects.create(
                        merchant=merchant,
                        signal=hit.signal,
                        details={**hit.details, "message_en": hit.message_en, "message_zh": hit.message_zh},
                        decision=decision,
                    )
            except IntegrityError:
                continue
            audit_record(subject=alert, action="fraud_alert.raise", to_state=alert.status, reason=hit.message_en)
            already_open.add(hit.signal)
            raised.append(alert)
    return raised
