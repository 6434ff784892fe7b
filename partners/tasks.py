"""Partners' Celery tasks: thin, each calls one service."""

from celery import shared_task

from partners.services.offers import partner_offers_lapse
from partners.services.webhooks import webhook_deliver, webhooks_due_queue


@shared_task
def partner_offers_lapse_task() -> int:
    """Lapse partner offers whose answer window closed, and offer their loans to the next lender."""
    return partner_offers_lapse()


@shared_task
def webhook_deliver_task(event_id: int) -> None:
    """Try to deliver one webhook event (queued when it is recorded, re-sent, or due again)."""
    webhook_deliver(event_id=event_id)


@shared_task
def webhooks_due_task() -> int:
    """The periodic sweep: queue every pending event whose next attempt is due."""
    return webhooks_due_queue()
