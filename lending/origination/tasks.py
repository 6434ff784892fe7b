"""Celery entry points of origination: offers expiring, contracts made and rendered, loans funded and paid out.

Thin: each takes ids and calls one service, which is safe to run again (it locks and re-reads the state), so the
funding tasks are acknowledged late and re-queued when a worker dies: a repeat finds the work done.
"""

import datetime
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from core.services.jobs import job_run_start
from lending.origination.models import LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.funding import (
    FundingError,
    application_fund,
    applications_resume_stalled,
    disbursement_send,
    disbursements_reconcile,
)


@shared_task
def offers_expire_task() -> int:
    """Expire every offer past its validity; run hourly by beat. Returns how many expired."""
    # Imported here: the services queue tasks of this package, so a top-level import would be circular.
    from lending.origination.services.applications import applications_expire_offers

    return applications_expire_offers()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def contract_prepare_task(application_id: int) -> int | None:
    """Make the contract of an accepted offer (queued on commit when the merchant accepts). Returns its id."""
    # Imported here: the services queue tasks of this package, so a top-level import would be circular.
    from lending.origination.services.contracts import contract_prepare

    contract = contract_prepare(application_id=application_id)
    return contract.pk if contract else None


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def contract_render_task(contract_id: int) -> str:
    """Render a contract version to PDF and make it ready to sign. Returns its status."""
    from lending.origination.services.contracts import contract_render

    return contract_render(contract_id=contract_id).status


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def final_schedule_render_task(final_schedule_id: int) -> str:
    """Render a loan's final schedule to PDF (queued on commit when its payout succeeds). Returns its status."""
    from lending.origination.services.final_schedule import final_schedule_render

    return final_schedule_render(final_schedule_id=final_schedule_id).status


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


@shared_task(acks_late=True)
def preapproved_limits_refresh_task(on: str | None = None) -> dict[str, int]:
    """Nightly: start the run that recomputes every verified merchant's pre-approved limit for ``on`` (ISO date,
    today by default), in chunks of merchants the workers share; returns the run's id and its number of chunks.

    Underwriting computes the limits; lending tells it which merchants have a loan in default
    (``lending.origination.jobs``).
    """
    from lending.origination.jobs import PREAPPROVED_LIMITS_JOB

    day = datetime.date.fromisoformat(on) if on else timezone.localdate()
    run = job_run_start(job=PREAPPROVED_LIMITS_JOB, on=day)
    return {"run": run.pk, "chunks": run.chunks_total}
