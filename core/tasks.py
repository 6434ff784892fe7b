from celery import shared_task

from core.api.idempotency import idempotency_keys_purge


@shared_task
def echo_task(message: str) -> str:
    """Return what it was given: proves a worker picks tasks off the broker (health checks, tests)."""
    return message


@shared_task
def idempotency_keys_purge_task() -> int:
    """Delete idempotency keys older than 48 hours (clients are promised 24); run hourly by beat."""
    return idempotency_keys_purge()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notice_email_task(notice_id: int) -> bool:
    """Email an in-app notice to its user (queued after the notice's transaction commits)."""
    from core.services.notices import notice_email_send

    return notice_email_send(notice_id=notice_id)


@shared_task
def notices_email_unsent_task() -> int:
    """Email the notices whose email never went out (broker down at the commit, retries spent); beat, every 10 min."""
    from core.services.notices import notices_email_unsent

    return notices_email_unsent()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, acks_late=True, reject_on_worker_lost=True)
def notices_email_task(notice_ids: list[int]) -> int:
    """Email a batch of notices (the nightly reminders; queued after their transaction commits)."""
    from core.services.notices import notices_email_send

    return notices_email_send(notice_ids=notice_ids)
