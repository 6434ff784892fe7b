"""Partners' Celery tasks: thin, each calls one service."""

from celery import shared_task

from partners.services.insurance import insurance_claims_open


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def insurance_claims_open_task() -> int:
    """Daily, after servicing has counted the days past due: open the claims that became due (idempotent)."""
    return insurance_claims_open()
