"""Celery entry points of the partners app. Thin: each calls one service, which is idempotent."""

from __future__ import annotations

import datetime
from datetime import date

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from partners.services.insurance import insurance_claims_open
from partners.services.offers import partner_offers_lapse
from partners.services.settlements import partners_settle_day
from partners.services.webhooks import webhook_deliver, webhooks_due_queue


@shared_task
def partner_offers_lapse_task() -> int:
    """Lapse partner offers whose answer window closed, and offer their loans to the next lender."""
    return partner_offers_lapse()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def partners_settle_day_task(business_date: str | None = None) -> list[int]:
    """Settle a business day (ISO date; yesterday by default) for every partner; running it again changes nothing."""
    day = date.fromisoformat(business_date) if business_date else timezone.localdate() - datetime.timedelta(days=1)
    return [settlement.pk for settlement in partners_settle_day(business_date=day)]


@shared_task
def webhook_deliver_task(event_id: int) -> None:
    """Try to deliver one webhook event (queued when it is recorded, re-sent, or due again)."""
    webhook_deliver(event_id=event_id)


@shared_task
def webhooks_due_task() -> int:
    """The periodic sweep: queue every pending event whose next attempt is due."""
    return webhooks_due_queue()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def insurance_claims_open_task() -> int:
    """Daily, after servicing has counted the days past due: open the claims that became due (idempotent)."""
    return insurance_claims_open()
