"""Celery entry points of the daily servicing: thin, each calls one service in ``lending.services.servicing``.

The services are idempotent and resumable (see their module), so the tasks are acknowledged late and re-queued
when a worker dies: a repeat finds the work done.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

__all__ = ["reminder_emails_task", "servicing_daily_task"]

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
    """Run the day's servicing jobs for ``on`` (ISO date; today in the portal's time zone by default).

    Beat runs it at 01:00 Asia/Shanghai, when yesterday's sales are complete.
    """
    from lending.services.servicing import servicing_run_day

    day = datetime.date.fromisoformat(on) if on else timezone.localdate()
    return servicing_run_day(on=day)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True, reject_on_worker_lost=True)
def reminder_emails_task(notice_ids: list[int]) -> int:
    """Email a batch of reminder notices (queued after the reminders' transaction commits)."""
    from lending.notices import notices_email_send

    return notices_email_send(notice_ids=notice_ids)
