"""Webhook events for partners: recorded in the transaction of the event, delivered after it commits."""

from typing import Any

from partners.models import FundingPartner, WebhookEvent


def webhook_event_record(*, partner: FundingPartner, event: str, key: str, payload: dict[str, Any]) -> WebhookEvent:
    """Record ``event`` for ``partner`` in the outbox, once per ``key`` (recording it again returns the first).

    Call it inside the transaction that makes the event, so the row commits exactly when the event does.
    """
    row, _created = WebhookEvent.objects.get_or_create(
        partner=partner, key=key, defaults={"event": event, "payload": payload}
    )
    return row
