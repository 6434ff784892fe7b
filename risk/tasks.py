"""Celery entry points of the risk firewall. Thin: each calls one service.

The daily ones are idempotent for their day: beat runs them (``CELERY_BEAT_SCHEDULE``) and ``manage.py run_day``
runs the same services (registered with lending's scheduled jobs in ``risk.apps``); a repeat finds the day's work
done. A stress run's chunks are acknowledged late and re-queued when a worker dies: a chunk computed again replaces
its own partial sums, so a repeat changes nothing.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from risk.services.stress import stress_chunk_record, stress_run_fail, stress_run_finish
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


@shared_task(**TASK_OPTIONS)
def stress_chunk_task(run_id: int, index: int) -> bool:
    """Compute and record one chunk of a stress run; a database hiccup is retried, anything else fails the run."""
    try:
        return stress_chunk_record(run_id=run_id, index=index)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        stress_run_fail(run_id=run_id, error=f"chunk {index}: {exc!r}")
        raise


@shared_task(**TASK_OPTIONS)
def stress_run_finish_task(run_id: int) -> str:
    """Sum a stress run up once its every chunk is in."""
    try:
        return stress_run_finish(run_id=run_id).status
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        stress_run_fail(run_id=run_id, error=f"sum-up: {exc!r}")
        raise
