"""Celery entry points for merchants: thin wrappers that take ids and call a service."""

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def kyc_notify_task(merchant_id: int, audit_event_id: int) -> bool:
    """Email the merchant about the KYC decision recorded in the audit event (sent after commit)."""
    # Imported here because the service module queues this task: a top-level import would be circular.
    from merchants.services.kyc import kyc_notification_send

    return kyc_notification_send(merchant_id=merchant_id, audit_event_id=audit_event_id)


@shared_task(acks_late=True)
def licence_read_task(document_id: int) -> bool:
    """Read the name and credit code off an uploaded licence photo (queued after the upload commits)."""
    from merchants.services.documents import document_read_licence

    return document_read_licence(document_id=document_id) is not None
