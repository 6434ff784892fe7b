"""The sandbox platform's own work: settling a collection when it is set to settle by itself."""

from celery import shared_task


@shared_task
def sandbox_collection_settle_task(transfer_id: int, confirm: bool) -> str | None:
    from sandbox.services import sandbox_collection_settle

    collection = sandbox_collection_settle(transfer_id=transfer_id, confirm=confirm)
    return collection.status if collection is not None else None
