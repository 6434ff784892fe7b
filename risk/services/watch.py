"""Fraud watched after payout: the daily job that raises alerts, and the officers' three answers to one.

- ``watch_alerts_raise`` (the daily job, ``risk.tasks.watch_after_payout_task``): one alert per finding of
  ``risk.selectors.watch``, unless one is open for the loan and kind, one was raised that day already, or one was
  dismissed recently; the database holds one alert per loan, kind and day (a re-run of the day adds nothing, even
  two runs at once). Each new alert has one audit row, by the system.
- ``watch_alert_dismiss``: a false positive, with the reason.
- ``watch_alert_freeze_borrowing``: stop the merchant's further borrowing while the case is looked into (the
  merchants' own service does it and audits it on the merchant; the alert stays open).
- ``watch_alert_confirm_fraud``: the alert is fraud: the loan is marked as fraud (lending's service, audited on the
  loan: its loss is reported apart) and the merchant's borrowing frozen if it was not.

Every change follows the one order: lock the alert, check who acts, check it is open, change, save, one audit row.
Risk never writes the lower layers' tables itself; it calls their services.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from lending.servicing.services.fraud import loan_mark_fraud
from merchants.services.borrowing_freeze import merchant_borrowing_freeze
from risk.models.watch import WatchAlert, WatchAlertStatus
from risk.selectors.watch import watch_alerts_blocking, watch_findings
from risk.selectors.watch_settings import watch_thresholds

RESOLVE_PERMISSION = "risk.change_watchalert"


@dataclass(frozen=True)
class WatchRun:
    on: datetime.date
    findings: int
    raised: int


def watch_alerts_raise(*, on: datetime.date) -> WatchRun:
    """Raise the day's alerts (see the module's docstring); safe to run again for the same day."""
    thresholds = watch_thresholds()
    findings = watch_findings(on=on, thresholds=thresholds)
    raised = 0
    with transaction.atomic():
        blocking = watch_alerts_blocking(on=on, realert_days=thresholds.realert_days)
        for finding in findings:
            if (finding.loan_id, finding.kind) in blocking:
                continue
            try:
                # A savepoint per alert: a concurrent run that raised the same one first must not undo the others.
                with transaction.atomic():
                    alert = WatchAlert.objects.create(
                        merchant_id=finding.merchant_id,
                        loan_id=finding.loan_id,
                        kind=finding.kind,
                        raised_on=on,
                        evidence=finding.evidence,
                    )
            except IntegrityError:
                continue
            audit_record(
                subject=alert,
                action="watch_alert.raise",
                to_state=alert.status,
                # The audit trail is written in one language whatever the reader's (the pages translate it).
                reason=_english_kind(alert),
                data={"loan": finding.loan_id, "merchant": finding.merchant_id, "day": on.isoformat()},
            )
            blocking.add((finding.loan_id, finding.kind))
            raised += 1
    return WatchRun(on=on, findings=len(findings), raised=raised)


def _english_kind(alert: WatchAlert) -> str:
    with translation.override("en"):
        return str(alert.get_kind_display())


def _note(note: str, field: str = "note") -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({field: [_("Say why; it is kept with the alert and in the audit trail.")]})
    return note


def _locked_open(alert: WatchAlert, by: Any, *, permission: str = RESOLVE_PERMISSION) -> WatchAlert:
    locked = WatchAlert.objects.select_for_update().select_related("merchant", "loan").get(pk=alert.pk)
    if not by.has_perm(permission):
        raise PermissionDenied(_("You do not have permission to work fraud alerts after payout."))
    if locked.status != WatchAlertStatus.OPEN:
        raise StateConflict(
            _("Alert #%(id)s is already %(status)s; only an open alert can be worked.")
            % {"id": locked.pk, "status": locked.get_status_display().lower()},
            code="not_open",
        )
    return locked


def watch_alert_dismiss(*, alert: WatchAlert, by: Any, note: str) -> WatchAlert:
    """Close an open alert as a false positive, with the reason."""
    note = _note(note)
    with transaction.atomic():
        locked = _locked_open(alert, by)
        locked.dismiss(by=by, note=note)
        locked.save()
        audit_record(
            subject=locked,
            action="watch_alert.dismiss",
            by=by,
            from_state=WatchAlertStatus.OPEN,
            to_state=locked.status,
            reason=note,
        )
    return locked


def watch_alert_freeze_borrowing(*, alert: WatchAlert, by: Any, note: str) -> WatchAlert:
    """Freeze the alert's merchant's further borrowing (merchants' service, audited on the merchant); the alert
    stays open for the officer to dismiss or confirm once the case is clear."""
    note = _note(note)
    with transaction.atomic():
        locked = _locked_open(alert, by)
        merchant_borrowing_freeze(
            merchant=locked.merchant,
            by=by,
            reason=note,
            data={"watch_alert": locked.pk, "kind": locked.kind, "loan": locked.loan_id},
        )
    return locked


def watch_alert_confirm_fraud(*, alert: WatchAlert, by: Any, note: str) -> WatchAlert:
    """Close the alert as fraud: the loan is marked as fraud and the merchant's borrowing frozen (if it was not).

    All or nothing: a refusal by either lower service (permission, the loan never paid out) leaves the alert open.
    Another alert on the same loan confirmed first has marked the loan already; this one is still closed as fraud.
    """
    note = _note(note)
    with transaction.atomic():
        locked = _locked_open(alert, by)
        if not by.has_perm("lending.mark_loan_fraud"):
            raise PermissionDenied(_("You do not have permission to mark a loan as fraud."))
        locked.confirm_fraud(by=by, note=note)
        locked.save()
        audit_record(
            subject=locked,
            action="watch_alert.confirm_fraud",
            by=by,
            from_state=WatchAlertStatus.OPEN,
            to_state=locked.status,
            reason=note,
            data={"loan": locked.loan_id},
        )
        origin = {"watch_alert": locked.pk, "kind": locked.kind}
        try:
            loan_mark_fraud(loan=locked.loan, by=by, reason=note, data=origin)
        except StateConflict as exc:
            if exc.code != "already_fraud":
                raise
        try:
            merchant_borrowing_freeze(merchant=locked.merchant, by=by, reason=note, data=origin)
        except StateConflict as exc:
            if exc.code != "already_frozen":
                raise
    return locked


__all__ = [
    "RESOLVE_PERMISSION",
    "WatchRun",
    "watch_alert_confirm_fraud",
    "watch_alert_dismiss",
    "watch_alert_freeze_borrowing",
    "watch_alerts_raise",
]
