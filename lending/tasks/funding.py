"""Celery entry points of funding: make the loan after signing, pay it out, and settle interrupted payouts.

Thin: each calls one service in ``lending.services.funding``, which is safe to run again (it locks and re-reads the
state), so the tasks are acknowledged late and re-queued when a worker dies: a repeat finds the work done.
"""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from lending.models import LoanApplication
from lending.services.applications import ApplicationConflict
from lending.services.funding import (
    FundingError,
    application_fund,
    applications_resume_stalled,
    disbursement_send,
    disbursements_reconcile,
)

logger = logging.getLogger(__name__)

# A lost connection or a lock timeout passes; the services are idempotent, so a retry is safe.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**TASK_OPTIONS)
def application_fund_task(application_id: int) -> int | None:
    """Make the loan of a signed application (queued on commit after signing); the loan's id, or None."""
    application = LoanApplication.objects.filter(pk=application_id).first()
    if application is None:
        logger.error("Application %s to fund does not exist", application_id)
        return None
    try:
        loan = application_fund(application=application)
    except (FundingError, ApplicationConflict) as exc:
        # Not retried: it needs a person. The application stays in the officers' "signed, not funded" queue.
        logger.error("Application %s was not funded: %s", application_id, exc)
        return None
    return loan.pk if loan is not None else None


@shared_task(**TASK_OPTIONS)
def disbursement_send_task(disbursement_id: int) -> str:
    """Pay one disbursement out (queued on commit when the loan is made, or by an officer's retry)."""
    return disbursement_send(disbursement_id=disbursement_id).status


@shared_task(**TASK_OPTIONS)
def disbursements_reconcile_task() -> dict[str, int]:
    """Settle payouts left ``sending`` or never sent; run by beat every five minutes."""
    return disbursements_reconcile()


@shared_task(**TASK_OPTIONS)
def applications_resume_stalled_task() -> dict[str, int]:
    """Take up accepted, contracted and signed applications whose queued step never ran; beat, every five minutes."""
    return applications_resume_stalled()


__all__ = [
    "application_fund_task",
    "applications_resume_stalled_task",
    "disbursement_send_task",
    "disbursements_reconcile_task",
]
