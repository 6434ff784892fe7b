"""Partners' Celery tasks: thin, each calls one service."""

from celery import shared_task

from partners.services.offers import partner_offers_lapse


@shared_task
def partner_offers_lapse_task() -> int:
    """Lapse partner offers whose answer window closed, and offer their loans to the next lender."""
    return partner_offers_lapse()
