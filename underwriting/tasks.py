"""Celery entry points for underwriting: thin wrappers that call a service."""

from celery import shared_task

from underwriting.services.decisions import preapproved_limits_refresh


@shared_task(acks_late=True)
def preapproved_limits_refresh_task() -> int:
    """Nightly: recompute every verified merchant's pre-approved limit (safe to run twice: it overwrites)."""
    return preapproved_limits_refresh()
