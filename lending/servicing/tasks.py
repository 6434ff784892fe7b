"""Celery entry points of servicing: the daily jobs, reminders and held credit. Thin: each calls one service.

The services are idempotent and resumable, so the tasks are acknowledged late and re-queued when a worker dies:
a repeat finds the work done.
"""

from __future__ import annotations

import datetime
from datetime import date

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from lending.servicing.models import Loan
from lending.servicing.services.repayments import credit_apply


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def credit_apply_task(loan_id: int, on: str) -> str:
    """Spend one loan's held credit on what fell due by ``on`` (ISO date); idempotent, safe to run again."""
    loan = Loan.objects.filter(pk=loan_id).first()
    if loan is None:
        return "0.00"
    return f"{credit_apply(loan=loan, on=date.fromisoformat(on)):.2f}"


TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**TASK_OPTIONS)
def servicing_daily_task(on: str | None = None) -> dict[str, int]:
    """Start the day's servicing run for ``on`` (ISO date; today in the portal's time zone by default).

    Beat runs it at 01:00 Asia/Shanghai, when yesterday's sales are complete. The run is cut into chunks of loans
    that the workers share (``core.services.jobs``); this returns the run's id and its number of chunks.
    """
    from core.services.jobs import job_run_start
    from lending.servicing.jobs import SERVICING_DAY_JOB

    day = datetime.date.fromisoformat(on) if on else timezone.localdate()
    run = job_run_start(job=SERVICING_DAY_JOB, on=day)
    return {"run": run.pk, "chunks": run.chunks_total}


@shared_task(**TASK_OPTIONS)
def collection_send_task(collection_id: int) -> str:
    """Ask the rail for one requested collection (queued when the merchant pays); returns its status."""
    from lending.servicing.services.collection_requests import collection_send

    return collection_send(collection_id=collection_id).status


@shared_task(**TASK_OPTIONS)
def collections_reconcile_task() -> dict[str, int]:
    """Ask again what was never asked, and ask the rail about collections still pending; every few minutes."""
    from lending.servicing.services.collection_requests import collections_reconcile

    return collections_reconcile()
