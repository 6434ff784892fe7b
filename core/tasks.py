from celery import shared_task


@shared_task
def echo_task(message: str) -> str:
    """Return what it was given: proves a worker picks tasks off the broker (health checks, tests)."""
    return message
