"""Model governance on a schedule: the population stability of the active scorecard, every day, and drift alerts.

``stability_readings_compute`` (the daily job, ``risk.tasks.model_drift_task``) stores the PSI of the active
scorecard's score and of each of its features over the last ``RISK_DRIFT_WINDOW_DAYS`` of decisions, as
underwriting's monitoring computes it (``underwriting.selectors.monitoring.monitoring_report``: against the training
population, or the first decisions after activation). It no longer depends on someone opening the monitoring page.
A reading above ``RISK_DRIFT_PSI_THRESHOLD`` raises a drift alert for the risk managers (one open per scorecard and
subject; a notice in each risk manager's inbox, emailed after the commit). The day's readings are stored once:
running the day again changes nothing.

``drift_alert_acknowledge``: a risk manager records what is being done about it (retrain, retire, watch).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from core.services.notices import notify
from risk.models.watch import SCORE_SUBJECT, DriftAlert, DriftAlertStatus, StabilityReading
from risk.selectors.watch_settings import drift_psi_threshold, drift_window_days
from underwriting.selectors.monitoring import monitoring_report, monitoring_scorecard

ACKNOWLEDGE_PERMISSION = "risk.change_driftalert"


@dataclass(frozen=True)
class DriftRun:
    on: datetime.date
    readings: int
    alerts: int


def stability_readings_compute(*, on: datetime.date) -> DriftRun:
    """Store the day's PSI readings of the active scorecard and raise the drift alerts they call for."""
    threshold = drift_psi_threshold()
    days = drift_window_days()
    scorecard = monitoring_scorecard()
    if scorecard is None:
        return DriftRun(on=on, readings=0, alerts=0)
    # The window ends with the day: the readings of a day are the same whenever it is computed.
    until = timezone.make_aware(datetime.datetime.combine(on, datetime.time.max))
    report = monitoring_report(scorecard=scorecard, days=days, now=until, months=1)
    subjects = []
    if report.score_stability is not None:
        subjects.append((SCORE_SUBJECT, report.score_stability))
    subjects += [(feature.feature, feature.stability) for feature in report.features]
    readings = alerts = 0
    with transaction.atomic():
        for subject, stability in subjects:
            reading, created = StabilityReading.objects.get_or_create(
                scorecard=scorecard,
                computed_on=on,
                subject=subject,
                defaults={
                    "psi": stability.psi,
                    "decisions": stability.actual_count,
                    "baseline": report.baseline,
                    "window_days": days,
                    "threshold": threshold,
                },
            )
            readings += created
            if created and reading.psi is not None and reading.psi > threshold:
                alerts += _drift_alert_raise(reading)
    return DriftRun(on=on, readings=readings, alerts=alerts)


def _drift_alert_raise(reading: StabilityReading) -> int:
    if DriftAlert.objects.filter(
        scorecard=reading.scorecard, subject=reading.subject, status=DriftAlertStatus.OPEN
    ).exists():
        return 0
    try:
        with transaction.atomic():
            alert = DriftAlert.objects.create(
                scorecard=reading.scorecard,
                subject=reading.subject,
                raised_on=reading.computed_on,
                reading=reading,
                psi=reading.psi,
                threshold=reading.threshold,
            )
    except IntegrityError:
        return 0  # raised by a concurrent run a moment ago

    def summary() -> str:
        return _("PSI of %(subject)s for scorecard v%(version)s is %(psi)s, above %(threshold)s.") % {
            "subject": reading.subject,
            "version": reading.scorecard.version,
            "psi": reading.psi,
            "threshold": reading.threshold,
        }

    # The audit trail in one language; the risk managers' notices in the portal's, as every notice is written.
    with translation.override("en"):
        reason = summary()
    with translation.override(settings.LANGUAGE_CODE):
        title, body = _("Scorecard drift: %(subject)s") % {"subject": reading.subject}, summary()
    audit_record(
        subject=alert,
        action="drift_alert.raise",
        to_state=alert.status,
        reason=reason,
        data={"scorecard": reading.scorecard_id, "subject": reading.subject, "psi": str(reading.psi)},
    )
    url = reverse("admin:risk_driftalert_change", args=[alert.pk])
    app_label, codename = ACKNOWLEDGE_PERMISSION.split(".")
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    for user_id in (
        get_user_model()
        .objects.filter(Q(groups__permissions=permission) | Q(user_permissions=permission))
        .filter(is_active=True, is_staff=True)
        .values_list("pk", flat=True)
        .distinct()
    ):
        notify(user_id=user_id, title=title, body=body, url=url)
    return 1


def drift_alert_acknowledge(*, alert: DriftAlert, by: Any, note: str) -> DriftAlert:
    """A risk manager has seen the drift and says what is being done; the alert closes."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say what is being done about the drift; it is kept in the audit trail.")]})
    with transaction.atomic():
        locked = DriftAlert.objects.select_for_update().get(pk=alert.pk)
        if not by.has_perm(ACKNOWLEDGE_PERMISSION):
            raise PermissionDenied(_("You do not have permission to acknowledge model drift alerts."))
        if locked.status != DriftAlertStatus.OPEN:
            raise StateConflict(_("Drift alert #%(id)s is already acknowledged.") % {"id": locked.pk}, code="not_open")
        locked.acknowledge(by=by, note=note)
        locked.save()
        audit_record(
            subject=locked,
            action="drift_alert.acknowledge",
            by=by,
            from_state=DriftAlertStatus.OPEN,
            to_state=locked.status,
            reason=note,
        )
    return locked


__all__ = ["ACKNOWLEDGE_PERMISSION", "DriftRun", "drift_alert_acknowledge", "stability_readings_compute"]
