"""Celery entry points of the risk firewall. Thin: each calls one service, which is idempotent for its day.

Beat runs them daily (``CELERY_BEAT_SCHEDULE``); ``manage.py run_day`` runs the same services
(registered with lending's scheduled jobs in ``risk.apps``). A repeat finds the day's work done.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from risk.services.watch import watch_alerts_raise
from risk.services.watch_drift import stability_readings_compute

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


def _day(on: str | None) -> datetime.date:
    return datetime.date.fromisoformat(on) if on else timezone.localdate()


@shared_task(**TASK_OPTIONS)
def watch_after_payout_task(on: str | None = None) -> dict[str, int]:
    """Raise the day's fraud alerts after payout (``on``: ISO date, today by default)."""
    run = watch_alerts_raise(on=_day(on))
    return {"findings": run.findings, "raised": run.raised}


@shared_task(**TASK_OPTIONS)
def model_drift_task(on: str | None = None) -> dict[str, int]:
    """Store the day's population stability readings and raise the drift alerts they call for."""
    run = stability_readings_compute(on=_day(on))
    return {"readings": run.readings, "alerts": run.alerts}
