"""Webhooks as a partner receives them and as an officer follows them: signed, verifiable with the documented
example, retried with backoff for a day, every attempt kept, re-sendable, with secrets rotated without a gap."""

import datetime
import itertools
import json
import time
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import AuditEvent
from partners.api.schema import WEBHOOK_DOCS_SIGNATURE
from partners.checks import webhook_settings_check, webhook_transport_not_sandbox_check
from partners.models import WebhookDelivery, WebhookEvent, WebhookEventType
from partners.services.webhooks import (
    BACKOFF_CAP_SECONDS,
    HEADER_EVENT,
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WEBHOOK_DOCS_BODY,
    WEBHOOK_DOCS_SECRET,
    WEBHOOK_DOCS_TIMESTAMP,
    WebhookTransportError,
    partner_webhook_secret_rotate,
    webhook_deliver,
    webhook_event_record,
    webhook_resend,
    webhook_signature,
    webhook_signature_verify,
    webhooks_due_queue,
)
from partners.tests.factories_api import FundingPartnerFactory
from tests.api.conftest import generate_schema
from tests.concurrency import race

Status = WebhookEvent.Status
FAKE_TRANSPORT = "partners.tests.test_webhooks.fake_transport"


@dataclass
class Receiver:
    """The partner's end in tests: records each request and answers with the next scripted status."""

    answers: list = field(default_factory=list)
    received: list = field(default_factory=list)

    def __call__(self, *, url, body, headers, timeout):
        self.received.append({"url": url, "body": body, "headers": headers, "timeout": timeout})
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer


RECEIVER = Receiver()


def fake_transport(**request):
    return RECEIVER(**request)


@pytest.fixture
def receiver(settings):
    settings.PARTNER_WEBHOOK_TRANSPORT = FAKE_TRANSPORT
    RECEIVER.answers.clear()
    RECEIVER.received.clear()
    return RECEIVER


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def bank(db):
    return FundingPartnerFactory(code="bank-hooks")


def record(bank, key: str = "offer-77") -> WebhookEvent:
    return webhook_event_record(
        partner=bank, event=WebhookEventType.OFFER, key=key, payload={"offer": 77, "principal": "35000.00"}
    )


# The documented example.


def test_the_documented_example_signature_is_what_the_code_computes_and_what_the_docs_print():
    computed = webhook_signature(secret=WEBHOOK_DOCS_SECRET, timestamp=WEBHOOK_DOCS_TIMESTAMP, body=WEBHOOK_DOCS_BODY)
    description = generate_schema()["info"]["description"]

    assert computed == "571b6fe7517d08e93b92c51caaa5678260ee0486de8be6c8299008d95e73ae57"
    assert computed == WEBHOOK_DOCS_SIGNATURE
    assert f"X-Webhook-Signature: v1={computed}" in description
    assert WEBHOOK_DOCS_BODY.decode() in description
    assert f"`{WEBHOOK_DOCS_SECRET}`" in description
    assert f"`{WEBHOOK_DOCS_TIMESTAMP}`" in description


def test_the_documented_example_verifies_and_the_copied_function_in_the_docs_agrees():
    header = f"v1={WEBHOOK_DOCS_SIGNATURE}"
    at = int(WEBHOOK_DOCS_TIMESTAMP) + 30
    description = generate_schema()["info"]["description"]
    source = description.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the docs' own snippet, run as a partner would run it
    namespace["time"].time = lambda: at  # the snippet reads the clock; pin it to the example's moment

    assert webhook_signature_verify(WEBHOOK_DOCS_BODY, WEBHOOK_DOCS_TIMESTAMP, header, [WEBHOOK_DOCS_SECRET], now=at)
    assert namespace["webhook_signature_verify"](
        WEBHOOK_DOCS_BODY, WEBHOOK_DOCS_TIMESTAMP, header, [WEBHOOK_DOCS_SECRET]
    )
    assert not namespace["webhook_signature_verify"](
        WEBHOOK_DOCS_BODY + b" ", WEBHOOK_DOCS_TIMESTAMP, header, [WEBHOOK_DOCS_SECRET]
    )
    namespace["time"].time = time.time


@pytest.mark.parametrize(
    ("body", "timestamp", "secrets"),
    [
        (WEBHOOK_DOCS_BODY.replace(b"35000.00", b"95000.00"), WEBHOOK_DOCS_TIMESTAMP, [WEBHOOK_DOCS_SECRET]),
        (WEBHOOK_DOCS_BODY, str(int(WEBHOOK_DOCS_TIMESTAMP) + 1), [WEBHOOK_DOCS_SECRET]),
        (WEBHOOK_DOCS_BODY, WEBHOOK_DOCS_TIMESTAMP, ["whsec_someone_else"]),
    ],
    ids=["tampered body", "other timestamp", "wrong secret"],
)
def test_a_tampered_body_another_timestamp_or_a_wrong_secret_does_not_verify(body, timestamp, secrets):
    at = int(WEBHOOK_DOCS_TIMESTAMP)

    assert not webhook_signature_verify(body, timestamp, f"v1={WEBHOOK_DOCS_SIGNATURE}", secrets, now=at)


def test_a_stale_timestamp_does_not_verify_even_with_the_right_signature():
    header = f"v1={WEBHOOK_DOCS_SIGNATURE}"
    at = int(WEBHOOK_DOCS_TIMESTAMP)

    assert webhook_signature_verify(
        WEBHOOK_DOCS_BODY, WEBHOOK_DOCS_TIMESTAMP, header, [WEBHOOK_DOCS_SECRET], now=at + 300
    )
    assert not webhook_signature_verify(
        WEBHOOK_DOCS_BODY, WEBHOOK_DOCS_TIMESTAMP, header, [WEBHOOK_DOCS_SECRET], now=at + 301
    )


# Delivery.


def test_a_delivery_is_signed_with_the_partners_secret_and_marked_delivered(
    bank, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = record(bank)

    event.refresh_from_db()
    assert event.status == Status.DELIVERED
    assert event.attempts == 1
    [request] = receiver.received
    headers = request["headers"]
    assert request["url"] == "https://bank-hooks.example/webhooks"
    assert headers[HEADER_ID] == str(event.pk)
    assert headers[HEADER_EVENT] == "loan.offered"
    assert webhook_signature_verify(
        request["body"], headers[HEADER_TIMESTAMP], headers[HEADER_SIGNATURE], [bank.webhook_secret]
    )
    assert json.loads(request["body"])["data"] == {"offer": 77, "principal": "35000.00"}
    assert list(WebhookDelivery.objects.filter(event=event).values_list("succeeded", "status_code")) == [(True, 200)]


def test_recording_the_same_event_twice_records_and_sends_it_once(bank, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = record(bank)
        second = record(bank)

    assert first.pk == second.pk
    assert WebhookEvent.objects.count() == 1
    assert len(receiver.received) == 1


def test_the_outbox_row_is_rolled_back_with_its_event_and_nothing_is_sent(
    bank, receiver, django_capture_on_commit_callbacks
):
    class EventFailedError(Exception):
        pass

    def event_that_fails() -> None:
        with transaction.atomic():
            record(bank)
            raise EventFailedError

    with django_capture_on_commit_callbacks(execute=True) as queued, pytest.raises(EventFailedError):
        event_that_fails()

    assert WebhookEvent.objects.count() == 0
    assert queued == []
    assert receiver.received == []


def test_the_delivery_is_queued_only_when_the_events_transaction_commits(bank, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        event = record(bank)
        assert WebhookEvent.objects.filter(pk=event.pk).exists()

    assert [callback.__qualname__ for callback in queued] == ["partners.tasks.webhook_deliver_task.delay"]


def test_a_delivery_that_keeps_failing_backs_off_for_a_day_then_fails(bank, receiver, clock):
    start = clock.now
    receiver.answers.extend([503] * 40)
    event = record(bank)

    while True:
        event.refresh_from_db()
        if event.status != Status.PENDING:
            break
        clock.now = event.next_attempt_at
        # Not due a second early: a sweep that runs too soon sends nothing.
        clock.now -= datetime.timedelta(seconds=1)
        assert webhook_deliver(event_id=event.pk) is None
        clock.now += datetime.timedelta(seconds=1)
        webhook_deliver(event_id=event.pk)

    attempts = list(WebhookDelivery.objects.filter(event=event).order_by("id").values_list("attempted_at", flat=True))
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(attempts)]
    for number, gap in enumerate(gaps, start=1):
        full = min(60 * 2 ** (number - 1), BACKOFF_CAP_SECONDS)
        assert full * 0.9 <= gap <= full, (number, gap)
    assert gaps[:4] == sorted(gaps[:4])  # 1, 2, 4, 8 minutes, less jitter
    assert max(gaps) <= BACKOFF_CAP_SECONDS
    assert event.status == Status.FAILED
    assert event.attempts == len(attempts) == len(receiver.received)
    assert attempts[-2] < start + datetime.timedelta(hours=24) <= attempts[-1]
    assert not WebhookDelivery.objects.filter(event=event, succeeded=True).exists()
    assert AuditEvent.objects.filter(object_id=str(event.pk), action="webhook.failed").count() == 1


def test_a_timeout_or_refused_connection_is_kept_as_a_failed_attempt(bank, receiver, clock):
    receiver.answers.append(WebhookTransportError("ConnectTimeout: timed out"))
    event = record(bank)

    webhook_deliver(event_id=event.pk)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.PENDING, 1)
    [attempt] = WebhookDelivery.objects.filter(event=event)
    assert (attempt.succeeded, attempt.status_code, attempt.error) == (False, None, "ConnectTimeout: timed out")
    assert 54 <= (event.next_attempt_at - clock.now).total_seconds() <= 60


def test_the_sweep_queues_only_events_that_are_due(bank, clock, django_capture_on_commit_callbacks):
    due = record(bank, key="due")
    later = record(bank, key="later")
    WebhookEvent.objects.filter(pk=later.pk).update(next_attempt_at=clock.now + datetime.timedelta(minutes=5))
    WebhookEvent.objects.filter(pk=due.pk).update(next_attempt_at=clock.now - datetime.timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as queued:
        assert webhooks_due_queue() == 1

    assert len(queued) == 1


def test_an_event_another_worker_holds_is_not_sent_twice(bank, receiver, clock):
    event = record(bank)
    receiver.answers.append(500)
    webhook_deliver(event_id=event.pk)  # failed: next try in about a minute

    assert webhook_deliver(event_id=event.pk) is None
    assert len(receiver.received) == 1


def test_a_failed_event_is_sent_again_from_the_resend_service(
    bank, receiver, clock, risk_manager, django_capture_on_commit_callbacks
):
    event = record(bank)
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.FAILED, attempts=12, next_attempt_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        webhook_resend(event=event, by=risk_manager, reason="partner fixed its endpoint")

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DELIVERED, 13)
    assert event.retry_until == clock.now + datetime.timedelta(hours=24)
    assert AuditEvent.objects.filter(object_id=str(event.pk), action="webhook.resend", actor=risk_manager).count() == 1


# Secret rotation.


def test_after_rotation_both_secrets_sign_for_the_window_then_only_the_new_one(bank, receiver, risk_manager, settings):
    old = bank.webhook_secret
    new = partner_webhook_secret_rotate(partner=bank, by=risk_manager, reason="yearly rotation")
    bank.refresh_from_db()
    assert new == bank.webhook_secret != old
    assert len(new) >= 40

    during = record(bank, key="during")
    webhook_deliver(event_id=during.pk)
    headers = receiver.received[-1]["headers"]
    body = receiver.received[-1]["body"]
    assert headers[HEADER_SIGNATURE].count("v1=") == 2
    assert webhook_signature_verify(body, headers[HEADER_TIMESTAMP], headers[HEADER_SIGNATURE], [old])
    assert webhook_signature_verify(body, headers[HEADER_TIMESTAMP], headers[HEADER_SIGNATURE], [new])

    bank.webhook_secret_rotated_at -= datetime.timedelta(hours=settings.PARTNER_WEBHOOK_ROTATION_HOURS, seconds=1)
    bank.save(update_fields=["webhook_secret_rotated_at"])
    after = record(bank, key="after")
    webhook_deliver(event_id=after.pk)
    headers = receiver.received[-1]["headers"]
    body = receiver.received[-1]["body"]
    assert headers[HEADER_SIGNATURE].count("v1=") == 1
    assert not webhook_signature_verify(body, headers[HEADER_TIMESTAMP], headers[HEADER_SIGNATURE], [old])
    assert webhook_signature_verify(body, headers[HEADER_TIMESTAMP], headers[HEADER_SIGNATURE], [new])
    rotated = AuditEvent.objects.get(object_id=str(bank.pk), action="partner.webhook_secret_rotated")
    assert new not in json.dumps(rotated.data)
    assert old not in json.dumps(rotated.data)


# The back office.


@pytest.fixture
def risk_client(client, risk_manager):
    client.force_login(risk_manager)
    return client


def test_failing_deliveries_show_their_status_and_attempts_on_the_change_list(bank, receiver, clock, risk_client):
    receiver.answers.extend([502, 502, 502])
    event = record(bank)
    for _attempt in range(3):
        event.refresh_from_db()
        clock.now = event.next_attempt_at
        webhook_deliver(event_id=event.pk)

    listing = risk_client.get("/admin/partners/webhookevent/")
    page = risk_client.get(f"/admin/partners/webhookevent/{event.pk}/change/")

    assert listing.status_code == 200
    row = listing.content.decode().split(f"/admin/partners/webhookevent/{event.pk}/change/", 1)[1].split("</tr>", 1)[0]
    assert "Waiting to be delivered" in row
    assert '<td class="field-attempts">3</td>' in row
    assert page.status_code == 200
    assert page.content.decode().count("502") >= 3


def test_an_officer_resends_from_the_list_after_confirming_with_a_note(
    bank, receiver, risk_client, django_capture_on_commit_callbacks
):
    event = record(bank)
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.FAILED, next_attempt_at=None)
    form = {"action": "resend_selected", "_selected_action": [event.pk]}

    confirm = risk_client.post("/admin/partners/webhookevent/", form)
    with django_capture_on_commit_callbacks(execute=True):
        done = risk_client.post("/admin/partners/webhookevent/", {**form, "confirm": "1", "note": "endpoint fixed"})

    assert confirm.status_code == 200
    assert "Send webhook events again" in confirm.content.decode()
    assert done.status_code == 302
    event.refresh_from_db()
    assert event.status == Status.DELIVERED


def test_a_loan_officer_sees_events_but_cannot_resend(bank, client, loan_officer):
    event = record(bank)
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.FAILED, next_attempt_at=None)
    client.force_login(loan_officer)

    listing = client.get("/admin/partners/webhookevent/")
    refused = client.post(
        "/admin/partners/webhookevent/",
        {"action": "resend_selected", "_selected_action": [event.pk], "confirm": "1", "note": "x"},
    )

    assert listing.status_code == 200
    assert "resend_selected" not in listing.content.decode()
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert refused.status_code in {200, 302}


def test_rotating_a_secret_in_admin_shows_it_once_and_keeps_the_old_one_as_previous(bank, risk_client):
    old = bank.webhook_secret
    form = {"action": "rotate_webhook_secret", "_selected_action": [bank.pk]}

    confirm = risk_client.post("/admin/partners/partnercredentials/", form)
    shown = risk_client.post("/admin/partners/partnercredentials/", {**form, "confirm": "1", "note": "yearly"})

    bank.refresh_from_db()
    assert confirm.status_code == 200
    assert shown.status_code == 200
    assert bank.webhook_secret in shown.content.decode()
    assert bank.webhook_secret_previous == old
    assert "no-store" in shown["Cache-Control"]
    change_page = risk_client.get(f"/admin/partners/partnercredentials/{bank.pk}/change/").content.decode()
    assert bank.webhook_secret not in change_page
    assert "partner.webhook_secret_rotated" in change_page  # the audit trail, with the officer's note
    assert "yearly" in change_page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_workers_given_the_same_due_event_send_it_once(receiver):
    bank = FundingPartnerFactory(code="bank-race-hooks")
    # Made directly: recording it here would commit at once and deliver it before the race starts.
    event = WebhookEvent.objects.create(
        partner=bank, event=WebhookEventType.OFFER, key="race", payload={}, next_attempt_at=timezone.now()
    )

    outcomes = race(lambda: webhook_deliver(event_id=event.pk), times=5)

    event.refresh_from_db()
    assert len(receiver.received) == 1
    assert sum(outcome is not None for outcome in outcomes) == 1
    assert (event.status, event.attempts) == (Status.DELIVERED, 1)
    assert WebhookDelivery.objects.filter(event=event).count() == 1


# Settings fail closed.


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        ("PARTNER_WEBHOOK_TRANSPORT", "partners.services.webhooks.no_such_transport", "partners.E001"),
        ("PARTNER_WEBHOOK_TIMEOUT_SECONDS", 0, "partners.E002"),
        ("PARTNER_WEBHOOK_RETRY_HOURS", 12, "partners.E003"),
    ],
)
def test_a_missing_or_unsafe_webhook_setting_is_a_system_check_error(settings, name, value, error_id):
    assert webhook_settings_check(None) == []
    setattr(settings, name, value)

    assert [error.id for error in webhook_settings_check(None)] == [error_id]


def test_a_deployment_refuses_the_sandbox_transport(settings):
    settings.PARTNER_WEBHOOK_TRANSPORT = "sandbox.webhooks.in_process"

    assert [error.id for error in webhook_transport_not_sandbox_check(None)] == ["partners.E004"]


def test_an_officer_sets_the_webhook_url_and_signing_and_the_change_is_audited(bank, risk_client):
    page = f"/admin/partners/partnercredentials/{bank.pk}/change/"

    refused = risk_client.post(page, {"webhook_url": "http://bank.example/hooks", "request_signing_required": "on"})
    saved = risk_client.post(page, {"webhook_url": "https://hooks.bank.example/in", "request_signing_required": "on"})

    assert refused.status_code == 200
    assert "Use an https:// address: webhooks carry loan data." in refused.content.decode()
    assert saved.status_code == 302
    bank.refresh_from_db()
    assert (bank.webhook_url, bank.request_signing_required) == ("https://hooks.bank.example/in", True)
    audit = AuditEvent.objects.get(object_id=str(bank.pk), action="partner.webhook_settings_set")
    assert audit.data["after"] == {"webhook_url": "https://hooks.bank.example/in", "request_signing_required": True}
