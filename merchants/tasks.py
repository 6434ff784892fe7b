"""Celery entry points for merchants: thin wrappers that take ids and call a service."""

from celery import shared_task


@shared_task(acks_late=True)
def licence_read_task(document_id: int) -> bool:
    """Read the name and credit code off an uploaded licence photo (queued after the upload commits)."""
    from merchants.services.documents import document_read_licence

    return document_read_licence(document_id=document_id) is not None


@shared_task(acks_late=True)
def sales_partitions_ensure_task() -> list[str]:
    """Nightly: the sales history's partitions for this month and the next months exist (PostgreSQL)."""
    from django.conf import settings
    from django.utils import timezone

    from merchants.services.sales_partitions import sales_partitions_ensure

    return sales_partitions_ensure(today=timezone.localdate(), months_ahead=settings.SALES_PARTITION_MONTHS_AHEAD)
