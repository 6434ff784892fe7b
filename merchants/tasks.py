"""Celery entry points for merchants: thin wrappers that take ids and call a service."""

from celery import shared_task


@shared_task(acks_late=True)
def licence_read_task(document_id: int) -> bool:
    """Read the name and credit code off an uploaded licence photo (queued after the upload commits)."""
    from merchants.services.documents import document_read_licence

    return document_read_licence(document_id=document_id) is not None
