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
