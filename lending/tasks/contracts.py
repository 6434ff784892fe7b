"""Celery entry points of the contract stage: thin, each takes ids and calls a service."""

from celery import shared_task

__all__ = ["contract_prepare_task", "contract_render_task"]


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def contract_prepare_task(application_id: int) -> int | None:
    """Make the contract of an accepted offer (queued on commit when the merchant accepts). Returns its id."""
    # Imported here: the services queue tasks of this package, so a top-level import would be circular.
    from lending.services.contracts import contract_prepare

    contract = contract_prepare(application_id=application_id)
    return contract.pk if contract else None


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def contract_render_task(contract_id: int) -> str:
    """Render a contract version to PDF and make it ready to sign. Returns its status."""
    from lending.services.contracts import contract_render

    return contract_render(contract_id=contract_id).status
