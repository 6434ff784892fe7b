"""The sandbox platform settling a collection: it marks its own transfer and calls the portal back, signed.

The callback goes through ``collection_callback_receive``, the same verification and the same settling as the
real platform's HTTP callback, so the demo exercises the path production takes.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from lending.servicing.models import CollectionRequest
from lending.servicing.services.collection_requests import collection_callback_receive
from lending.servicing.services.rails import SIGNATURE_HEADER, TIMESTAMP_HEADER, rail_signed_headers
from sandbox.models import SandboxTransfer

REFUSED = "The merchant's settlements did not cover the amount."


def sandbox_collection_settle(*, transfer_id: int, confirm: bool, reason: str = REFUSED) -> CollectionRequest | None:
    """Settle a pending sandbox collection (money arrives, or refused) and deliver the signed callback.

    Returns the portal's collection request as the callback left it; a transfer already settled is only
    called back again (as a real platform retries its callbacks), which changes nothing.
    """
    with transaction.atomic():
        transfer = SandboxTransfer.objects.select_for_update().get(pk=transfer_id, kind=SandboxTransfer.Kind.COLLECTION)
        if transfer.status == SandboxTransfer.Status.PENDING:
            transfer.status = SandboxTransfer.Status.SETTLED if confirm else SandboxTransfer.Status.FAILED
            transfer.failure_reason = "" if confirm else reason
            transfer.settled_at = timezone.now()
            transfer.save(update_fields=["status", "failure_reason", "settled_at"])
    return sandbox_callback_deliver(transfer=transfer)


def sandbox_callback_body(transfer: SandboxTransfer) -> bytes:
    settled = transfer.status == SandboxTransfer.Status.SETTLED
    payload = {
        "idempotency_key": str(transfer.idempotency_key),
        "reference": transfer.reference,
        "status": "confirmed" if settled else "failed",
        "amount": f"{transfer.amount:.2f}",
        "settled_on": timezone.localdate(transfer.settled_at).isoformat() if transfer.settled_at else None,
        "error": transfer.failure_reason,
    }
    return json.dumps(payload, sort_keys=True).encode()


def sandbox_callback_deliver(*, transfer: SandboxTransfer) -> CollectionRequest | None:
    if transfer.status == SandboxTransfer.Status.PENDING:
        return None
    body = sandbox_callback_body(transfer)
    headers = rail_signed_headers(body=body)
    return collection_callback_receive(
        body=body, timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER]
    )
