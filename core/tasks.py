from celery import shared_task

from core.api.idempotency import idempotency_keys_purge


@shared_task(ignore_result=False)
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


# Nightly runs in chunks (core.services.jobs). A chunk's work and its done mark commit together, so the task is
# acknowledged late and put back on the queue when its worker dies: the repeat finds it done or does it once.


@shared_task(ignore_result=False, acks_late=True, reject_on_worker_lost=True)
def job_chunk_task(chunk_id: int) -> str:
    """Run one chunk of a nightly run (queued as one of a chord's group); returns its status for the chord."""
    from core.services.jobs import job_chunk_run

    return job_chunk_run(chunk_id=chunk_id).status


@shared_task(acks_late=True)
def job_run_finish_task(chunk_statuses: list[str], run_id: int) -> str:
    """The chord's last step: record the run once all its chunks have finished; returns the run's status."""
    from core.services.jobs import job_run_finish

    return job_run_finish(run_id=run_id).status


@shared_task
def job_runs_resume_task() -> dict[str, int]:
    """Run again the chunks that failed or lost their worker, and record finished runs; beat, every 10 minutes."""
    from core.services.jobs import job_runs_resume

    return job_runs_resume()
