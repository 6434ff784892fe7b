"""Celery entry points of the application stage: thin, each takes ids and calls a service."""

from celery import shared_task

__all__ = ["notice_email_task", "notices_email_unsent_task", "offers_expire_task"]


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notice_email_task(notice_id: int) -> bool:
    """Email an in-app notice to its user (queued after the notice's transaction commits)."""
    from lending.notices import notice_email_send

    return notice_email_send(notice_id=notice_id)


@shared_task
def notices_email_unsent_task() -> int:
    """Email the notices whose email never went out (broker down at the commit, retries spent); beat, every 10 min."""
    from lending.notices import notices_email_unsent

    return notices_email_unsent()


@shared_task
def offers_expire_task() -> int:
    """Expire every offer past its validity; run hourly by beat. Returns how many expired."""
    # Imported here: the services queue tasks of this package, so a top-level import would be circular.
    from lending.services.applications import applications_expire_offers

    return applications_expire_offers()
