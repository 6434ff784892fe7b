"""Webhook events for partners: recorded in the transaction of the event, delivered after it commits.

Delivery (``webhook_deliver``) never runs inside a web request: a Celery task takes the event's id. The body is the
event as JSON; it is signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` with the partner's current secret and
sent with four headers:

    X-Webhook-Id: 8812                                  the event's id (the same on every retry: de-duplicate on it)
    X-Webhook-Event: loan.offered                       the event type
    X-Webhook-Timestamp: 1767225600                     Unix seconds when this attempt was signed
    X-Webhook-Signature: v1=<hex>                       one "v1=" per valid secret, comma-separated

While a secret is being rotated (``PARTNER_WEBHOOK_ROTATION_HOURS`` after a rotation) the header carries a second
``v1=`` made with the previous secret, so a partner that has not switched yet still verifies. A 2xx answer is
delivered; anything else (another status, a timeout, a refused connection) is kept as a failed attempt and retried
after ``1 minute x 2^(attempt - 1)``, capped at 6 hours, with up to 10 % jitter, until at least 24 hours after the
event (``PARTNER_WEBHOOK_RETRY_HOURS``); then the event is failed, and an officer may re-send it from admin.

How a partner checks a signature is ``webhook_signature_verify``; the OpenAPI description carries the same function
with a worked example (``partners.api.schema.PARTNER_DOCS``, built from ``WEBHOOK_DOCS_*`` below).
"""

import hashlib
import hmac
import json
import random
import secrets as secrets_module
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.services.tokens import api_token_issue, api_tokens_revoke
from core.services.audit import audit_record
from core.transactions import task_on_commit
from partners.models import FundingPartner, LoanShare, WebhookDelivery, WebhookEvent, WebhookEventType

DELIVER_TASK = "partners.tasks.webhook_deliver_task"
SIGNATURE_VERSION = "v1"
BACKOFF_FIRST_SECONDS = 60
BACKOFF_CAP_SECONDS = 6 * 60 * 60
BACKOFF_JITTER = 0.10
# Verifying partners should refuse signatures older than this (replays of a captured delivery).
SIGNATURE_TOLERANCE_SECONDS = 300
ERROR_MAX_LENGTH = 300
HEADER_ID = "X-Webhook-Id"
HEADER_EVENT = "X-Webhook-Event"
HEADER_TIMESTAMP = "X-Webhook-Timestamp"
HEADER_SIGNATURE = "X-Webhook-Signature"
Status = WebhookEvent.Status


class WebhookTransportError(Exception):
    """The request did not get an HTTP answer (timeout, refused connection, TLS error)."""


class WebhookTransport(Protocol):
    def __call__(self, *, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST ``body`` to ``url``; the HTTP status, or ``WebhookTransportError`` when there was no answer."""


def requests_transport(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The production transport: an HTTPS POST with ``requests``, never following redirects."""
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise WebhookTransportError(f"{type(exc).__name__}: {exc}") from exc
    return response.status_code


def webhook_transport() -> WebhookTransport:
    """The transport ``PARTNER_WEBHOOK_TRANSPORT`` names (the sandbox partner's in the demo, a fake in tests)."""
    return import_string(settings.PARTNER_WEBHOOK_TRANSPORT)


# Signing and verifying.


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_signature_verify(
    body: bytes,
    timestamp: str,
    signature: str,
    secrets: list[str],
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """Whether ``signature`` (the X-Webhook-Signature header) signs ``body`` at ``timestamp`` with one of ``secrets``.

    For partners to copy: it needs only the standard library. ``body`` is the raw request body as received (bytes,
    before any JSON parsing); ``secrets`` are the partner's current secret and, while rotating, the previous one.
    A timestamp further than ``tolerance`` seconds from now is refused, so a captured delivery cannot be replayed
    later; comparisons are constant-time.
    """
    if not timestamp or not timestamp.isdigit() or not signature:
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        return False
    offered = [
        part.strip().removeprefix(f"{SIGNATURE_VERSION}=")
        for part in signature.split(",")
        if part.strip().startswith(f"{SIGNATURE_VERSION}=")
    ]
    for secret in filter(None, secrets):
        expected = webhook_signature(secret=secret, timestamp=timestamp, body=body)
        for candidate in offered:
            if hmac.compare_digest(expected.encode(), candidate.encode()):
                return True
    return False


def partner_valid_secrets(*, partner: FundingPartner, at: datetime | None = None) -> list[str]:
    """The secrets that sign (and verify) for ``partner`` now: the current one, and the previous one while rotating."""
    at = at or timezone.now()
    valid = [partner.webhook_secret] if partner.webhook_secret else []
    rotated = partner.webhook_secret_rotated_at
    window = timedelta(hours=settings.PARTNER_WEBHOOK_ROTATION_HOURS)
    if partner.webhook_secret_previous and rotated is not None and at < rotated + window:
        valid.append(partner.webhook_secret_previous)
    return valid


def webhook_signed_headers(*, partner: FundingPartner, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for ``body``: one ``v1=`` per secret valid now."""
    moment = time.time() if now is None else now
    timestamp = str(int(moment))
    at = datetime.fromtimestamp(moment, tz=timezone.get_current_timezone())
    signatures = [
        f"{SIGNATURE_VERSION}={webhook_signature(secret=secret, timestamp=timestamp, body=body)}"
        for secret in partner_valid_secrets(partner=partner, at=at)
    ]
    return {HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: ", ".join(signatures)}


def webhook_body(event: WebhookEvent) -> bytes:
    """The event as the partner receives it: compact JSON with sorted keys (what is signed is what is sent)."""
    document = {
        "id": event.pk,
        "event": event.event,
        "created_at": event.created_at,
        "partner": event.partner.code,
        "data": event.payload,
    }
    return json.dumps(
        document, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()


# Recording, delivering, retrying.


def webhook_event_record(*, partner: FundingPartner, event: str, key: str, payload: dict[str, Any]) -> WebhookEvent:
    """Record ``event`` for ``partner`` in the outbox, once per ``key`` (recording it again returns the first).

    Call it inside the transaction that makes the event, so the row commits exactly when the event does (and is
    rolled back with it); its delivery is queued for after the commit, and the sweep takes it up if the broker
    was down then.
    """
    now = timezone.now()
    with transaction.atomic():
        row, created = WebhookEvent.objects.get_or_create(
            partner=partner,
            key=key,
            defaults={
                "event": event,
                "payload": payload,
                "next_attempt_at": now,
                "retry_until": now + timedelta(hours=settings.PARTNER_WEBHOOK_RETRY_HOURS),
            },
        )
        if created:
            task_on_commit(DELIVER_TASK, row.pk)
    return row


def webhook_backoff_seconds(*, event_id: int, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failures: 60 x 2^(attempts-1), at most 6 h, less up to 10 %.

    The jitter is drawn from the event and the attempt, so a test (or an officer reading the log) can reproduce
    it, while events that failed together spread out instead of retrying in one burst.
    """
    base = min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    jitter = random.Random(f"{event_id}:{attempts}").uniform(0, BACKOFF_JITTER)
    return base * (1 - jitter)


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    status_code: int | None = None
    error: str = ""


def _claim(event_id: int) -> WebhookEvent | None:
    """Lock the event and hold it for this attempt (its next attempt moved past the request's timeout).

    Two workers given the same event (the task queued on commit and the sweep) cannot both send it: the second
    finds the event not due. A worker that dies mid-request leaves the event due again once the hold runs out.
    """
    now = timezone.now()
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update()
            .select_related("partner")
            .filter(pk=event_id, status=Status.PENDING)
            .first()
        )
        if event is None or (event.next_attempt_at is not None and event.next_attempt_at > now):
            return None
        hold = timedelta(seconds=settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS + BACKOFF_FIRST_SECONDS)
        event.next_attempt_at = now + hold
        event.save(update_fields=["next_attempt_at"])
    return event


def _send(event: WebhookEvent) -> tuple[DeliveryOutcome, int]:
    partner = event.partner
    if not partner.webhook_url:
        return DeliveryOutcome(delivered=False, error="The partner has no webhook URL."), 0
    if not partner.webhook_secret:
        return DeliveryOutcome(delivered=False, error="The partner has no webhook secret: rotate one in admin."), 0
    body = webhook_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "merchant-loan-portal-webhooks/1",
        HEADER_ID: str(event.pk),
        HEADER_EVENT: event.event,
        **webhook_signed_headers(partner=partner, body=body),
    }
    started = time.monotonic()
    try:
        status_code = webhook_transport()(
            url=partner.webhook_url, body=body, headers=headers, timeout=settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS
        )
    except WebhookTransportError as exc:
        outcome = DeliveryOutcome(delivered=False, error=str(exc)[:ERROR_MAX_LENGTH])
    else:
        outcome = DeliveryOutcome(delivered=200 <= status_code < 300, status_code=status_code)
    return outcome, int((time.monotonic() - started) * 1000)


def webhook_deliver(*, event_id: int) -> WebhookEvent | None:
    """Try to deliver one due event; keep the attempt; mark it delivered, or schedule the next try, or give up.

    The HTTP request runs outside any transaction (a slow partner holds no lock); the outcome is written in one
    transaction with the event locked. Returns the event, or None when it was not due (delivered, failed, or held
    by another worker).
    """
    claimed = _claim(event_id)
    if claimed is None:
        return None
    outcome, duration_ms = _send(claimed)
    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        WebhookDelivery.objects.create(
            event=event,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=duration_ms,
            succeeded=outcome.delivered,
        )
        before = event.status
        if outcome.delivered:
            event.status = Status.DELIVERED
            event.delivered_at = now
            event.next_attempt_at = None
        elif event.retry_until is not None and now >= event.retry_until:
            event.status = Status.FAILED
            event.next_attempt_at = None
        else:
            event.next_attempt_at = now + timedelta(
                seconds=webhook_backoff_seconds(event_id=event.pk, attempts=event.attempts)
            )
        event.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
        if event.status != before:
            audit_record(
                subject=event,
                action=f"webhook.{event.status}",
                from_state=before,
                to_state=event.status,
                data={"attempts": event.attempts, "status_code": outcome.status_code, "error": outcome.error},
            )
    return event


def webhooks_due_queue(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue a delivery for every pending event whose next attempt is due (the periodic sweep). Returns how many."""
    now = now or timezone.now()
    due = list(
        WebhookEvent.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        for event_id in due:
            task_on_commit(DELIVER_TASK, event_id)
    return len(due)


def webhook_resend(*, event: WebhookEvent, by: User, reason: str) -> WebhookEvent:
    """Send an event again (an officer in admin): pending now, retried for another day, queued after commit."""
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
        before = locked.status
        locked.status = Status.PENDING
        locked.next_attempt_at = now
        locked.retry_until = now + timedelta(hours=settings.PARTNER_WEBHOOK_RETRY_HOURS)
        locked.save(update_fields=["status", "next_attempt_at", "retry_until"])
        audit_record(
            subject=locked, action="webhook.resend", by=by, from_state=before, to_state=locked.status, reason=reason
        )
        task_on_commit(DELIVER_TASK, locked.pk)
    return locked


# The partner's credentials.


def partner_webhook_secret_rotate(*, partner: FundingPartner, by: User | None, reason: str) -> str:
    """Give the partner a new webhook secret and return it (to show once); the old one stays valid for a while.

    The previous secret keeps signing beside the new one for ``PARTNER_WEBHOOK_ROTATION_HOURS``, so the partner can
    switch without missing a delivery; rotating again before that drops the oldest at once. The secret never
    enters the audit trail.
    """
    secret = secrets_module.token_urlsafe(32)
    with transaction.atomic():
        locked = FundingPartner.objects.select_for_update().get(pk=partner.pk)
        locked.webhook_secret_previous = locked.webhook_secret
        locked.webhook_secret = secret
        locked.webhook_secret_rotated_at = timezone.now()
        locked.save(update_fields=["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"])
        audit_record(subject=locked, action="partner.webhook_secret_rotated", by=by, reason=reason)
    return secret


def partner_webhook_settings_set(
    *, partner: FundingPartner, webhook_url: str, request_signing_required: bool, by: User, reason: str = ""
) -> FundingPartner:
    """Set where the partner's webhooks go and whether its API requests must be signed; one audit row.

    A webhook URL must be HTTPS (events carry loan data); empty stops nothing from being recorded, but every
    delivery fails until a URL is set.
    """
    webhook_url = (webhook_url or "").strip()
    if webhook_url and not webhook_url.lower().startswith("https://"):
        raise ValidationError({"webhook_url": [_("Use an https:// address: webhooks carry loan data.")]})
    with transaction.atomic():
        locked = FundingPartner.objects.select_for_update().get(pk=partner.pk)
        before = {"webhook_url": locked.webhook_url, "request_signing_required": locked.request_signing_required}
        locked.webhook_url = webhook_url
        locked.request_signing_required = request_signing_required
        locked.save(update_fields=["webhook_url", "request_signing_required"])
        after = {"webhook_url": locked.webhook_url, "request_signing_required": locked.request_signing_required}
        if after != before:
            audit_record(
                subject=locked,
                action="partner.webhook_settings_set",
                by=by,
                reason=reason,
                data={"before": before, "after": after},
            )
    return locked


def partner_api_token_rotate(*, partner: FundingPartner, by: User | None, reason: str) -> Token:
    """Revoke the partner's API token and issue a new one (to show once): the old token stops answering at once."""
    if partner.api_user_id is None:
        raise ValidationError({"api_user": [_("This partner has no API account: set one first.")]})
    with transaction.atomic():
        locked = FundingPartner.objects.select_for_update().get(pk=partner.pk)
        api_tokens_revoke(user=locked.api_user, by=by, reason=reason or "partner API token rotated")
        token = api_token_issue(user=locked.api_user)
        audit_record(subject=locked, action="partner.api_token_rotated", by=by, reason=reason)
    return token


WEBHOOK_DOCS_SECRET = "whsec_example_do_not_use"  # noqa: S105 - the documented example, not a credential
WEBHOOK_DOCS_TIMESTAMP = "1767225600"
WEBHOOK_DOCS_BODY = (
    b'{"created_at":"2026-01-01T08:00:00+08:00","data":{"application":1042,"offer":77,"principal":"35000.00",'
    b'"share":"0.7000"},"event":"loan.offered","id":8812,"partner":"demo-bank"}'
)


# Loans turning overdue or defaulting (the daily job moves them in batches).

_LOAN_EVENTS = {"loan.mark_overdue": WebhookEventType.OVERDUE, "loan.default": WebhookEventType.DEFAULT}


def loans_moved_notify(*, action: str, loan_ids: list[int], on: date) -> int:
    """Record "loan.overdue" / "loan.defaulted" for each partner of the loans the daily job just moved; how many.

    Inside the job's transaction, so the events commit exactly when the loans' new states do. One query for the
    batch's co-funded loans; a loan turning overdue again after it was cured is a new event (its key names the day).
    """
    event = _LOAN_EVENTS.get(action)
    if event is None:
        return 0
    shares = (
        LoanShare.objects.filter(loan_id__in=loan_ids, partner__isnull=False)
        .select_related("partner", "loan")
        .order_by("loan_id", "partner_id")
    )
    recorded = 0
    for share in shares:
        loan = share.loan
        key = f"overdue:{loan.pk}:{on.isoformat()}" if event == WebhookEventType.OVERDUE else f"defaulted:{loan.pk}"
        webhook_event_record(
            partner=share.partner,
            event=event,
            key=key,
            payload={
                "loan_id": loan.pk,
                "on": on.isoformat(),
                "state": loan.state,
                "days_past_due": loan.days_past_due,
                "share": f"{share.share:.4f}",
                "principal": f"{share.principal:.2f}",
            },
        )
        recorded += 1
    return recorded


def on_loans_transitioned(sender, *, action: str, loan_ids: list[int], on: date, **kwargs) -> None:
    """Receiver of ``lending.servicing.signals.loans_transitioned``."""
    loans_moved_notify(action=action, loan_ids=loan_ids, on=on)
