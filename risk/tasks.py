"""Celery entry points of the risk firewall. Thin: each calls one service.

A stress run's chunks are acknowledged late and re-queued when a worker dies: a chunk computed again replaces its
own partial sums, so a repeat changes nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from risk.services.stress import stress_chunk_record, stress_run_fail, stress_run_finish

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**TASK_OPTIONS)
def stress_chunk_task(run_id: int, index: int) -> bool:
    try:
        return stress_chunk_record(run_id=run_id, index=index)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        stress_run_fail(run_id=run_id, error=f"chunk {index}: {exc!r}")
        raise


@shared_task(**TASK_OPTIONS)
def stress_run_finish_task(run_id: int) -> str:
    try:
        return stress_run_finish(run_id=run_id).status
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        stress_run_fail(run_id=run_id, error=f"sum-up: {exc!r}")
        raise
