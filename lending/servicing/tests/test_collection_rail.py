"""The collection rail's word is the only way a merchant's "pay now" becomes a payment: signed callbacks (forged,
stale, altered or replayed ones change nothing), the reconciliation job, and the platform's HTTP rail itself."""

import datetime
import json
import time
from decimal import Decimal

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent, Notice
from lending.servicing.models import CollectionRequest, Payment
from lending.servicing.services.collection_requests import collection_request, collection_send, collections_reconcile
from lending.servicing.services.rails import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PayoutFailed,
    PlatformPayoutRail,
    PlatformWithholdingRail,
    RailNoAnswer,
    RailRefused,
    rail_signature,
    rail_signed_headers,
)
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import active_loan
from sandbox.models import SandboxTransfer
from sandbox.services import sandbox_callback_body

pytestmark = pytest.mark.django_db
D = Decimal
CALLBACK = "/api/v1/rails/collections/callback/"


@pytest.fixture
def loan(merchant):
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))


@pytest.fixture
def pending(loan, merchant_owner):
    """A collection of 500.00 the sandbox rail has accepted and not settled."""
    requested = collection_request(loan=loan, purpose="other", amount="500.00", reference="r-1", by=merchant_owner)
    collection_send(collection_id=requested.collection.pk)
    collection = CollectionRequest.objects.get()
    assert collection.status == "pending"
    return collection


def _body(collection, **changes):
    payload = {
        "idempotency_key": str(collection.idempotency_key),
        "reference": "COL-RAIL-1",
        "status": "confirmed",
        "amount": f"{collection.amount:.2f}",
        "settled_on": timezone.localdate().isoformat(),
        **changes,
    }
    return json.dumps(payload).encode()


def _deliver(body: bytes, headers: dict):
    return APIClient().generic(
        "POST",
        CALLBACK,
        body,
        content_type="application/json",
        headers=headers,
    )


def test_a_signed_confirmation_books_one_payment(pending):
    body = _body(pending)

    response = _deliver(body, rail_signed_headers(body=body))

    assert response.status_code == 200, response.content
    pending.refresh_from_db()
    assert (response.json()["status"], pending.status, pending.rail_reference) == (
        "confirmed",
        "confirmed",
        "COL-RAIL-1",
    )
    payment = Payment.objects.get()
    assert (payment.amount, payment.source, pending.payment_id) == (D("500.00"), "collection", payment.pk)
    assert AuditEvent.objects.filter(action="collection.confirm").count() == 1


def test_a_confirmation_delivered_twice_books_one_payment(pending):
    body = _body(pending)
    headers = rail_signed_headers(body=body)

    first, second = _deliver(body, headers), _deliver(body, headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action="collection.confirm").count() == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(lambda body: rail_signed_headers(body=body, secret="not-the-rails-secret"), id="wrong-secret"),
        pytest.param(lambda body: rail_signed_headers(body=body, now=time.time() - 301), id="stale"),
        pytest.param(lambda body: rail_signed_headers(body=body, now=time.time() + 301), id="from-the-future"),
        pytest.param(
            lambda body: {**rail_signed_headers(body=body), SIGNATURE_HEADER: "sha256=" + "0" * 64}, id="zeros"
        ),
        pytest.param(lambda body: rail_signed_headers(body=body.replace(b"500.00", b"5.00")), id="other-body"),
        pytest.param(lambda body: {TIMESTAMP_HEADER: "abc", SIGNATURE_HEADER: "sha256=x"}, id="garbage"),
    ],
)
def test_a_forged_stale_or_altered_callback_changes_nothing(pending, forge):
    body = _body(pending)

    response = _deliver(body, forge(body))

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not Payment.objects.exists()


def test_a_replayed_callback_outside_the_window_is_refused(pending):
    body = _body(pending)
    captured = rail_signed_headers(body=body, now=time.time() - 3600)

    response = _deliver(body, captured)

    assert response.status_code == 401
    assert not Payment.objects.exists()


def test_the_previous_secret_still_verifies_while_rotating(pending, settings):
    body = _body(pending)
    old = settings.RAIL_CALLBACK_SECRET
    settings.RAIL_CALLBACK_PREVIOUS_SECRET = old
    settings.RAIL_CALLBACK_SECRET = "the-new-secret-of-at-least-thirty-two-chars"

    response = _deliver(body, rail_signed_headers(body=body, secret=old))

    assert response.status_code == 200
    assert Payment.objects.count() == 1


def test_a_failure_callback_books_nothing_and_tells_the_merchant(pending, merchant_owner):
    body = _body(pending, status="failed", error="Insufficient settlements.")

    response = _deliver(body, rail_signed_headers(body=body))

    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.failure_reason) == ("failed", "Insufficient settlements.")
    assert not Payment.objects.exists()
    assert Notice.objects.filter(user=merchant_owner, title__contains="could not be collected").exists()
    # A confirmation arriving after the failure changes nothing.
    late = _body(pending)
    assert _deliver(late, rail_signed_headers(body=late)).status_code == 200
    assert not Payment.objects.exists()


def test_a_confirmation_of_another_amount_is_refused(pending):
    body = _body(pending, amount="5000.00")

    response = _deliver(body, rail_signed_headers(body=body))

    assert response.status_code == 409
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "confirmed"}, "idempotency_key"),
        ({"idempotency_key": "x", "status": "maybe", "reference": "R"}, "status"),
    ],
)
def test_a_malformed_callback_answers_400_naming_the_field(pending, payload, field):
    body = json.dumps(payload).encode()

    response = _deliver(body, rail_signed_headers(body=body))

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_callback_for_an_unknown_collection_answers_404(pending):
    body = _body(pending, idempotency_key="00000000-0000-0000-0000-000000000000")

    assert _deliver(body, rail_signed_headers(body=body)).status_code == 404


# The sandbox rail behind the same interface.


def test_the_sandbox_signs_its_callbacks_as_the_platform_does(pending, settings):
    transfer = SandboxTransfer.objects.get()
    transfer.status, transfer.settled_at = "settled", timezone.now()
    transfer.save()
    body = sandbox_callback_body(transfer)
    headers = rail_signed_headers(body=body)

    assert headers[SIGNATURE_HEADER] == rail_signature(
        secret=settings.RAIL_CALLBACK_SECRET, timestamp=headers[TIMESTAMP_HEADER], body=body
    )
    assert _deliver(body, headers).status_code == 200
    assert Payment.objects.get().amount == D("500.00")


def test_a_merchant_without_a_settlement_account_gets_a_failed_collection(loan, merchant, merchant_owner):
    merchant.settlement_account_number = ""
    merchant.save()

    requested = collection_request(loan=loan, purpose="other", amount="100.00", reference="r", by=merchant_owner)
    collection = collection_send(collection_id=requested.collection.pk)

    assert collection.status == "failed"
    assert "settlement account" in collection.failure_reason
    assert not Payment.objects.exists()


# Reconciliation: asking the rail when its answer never came.


def test_reconciliation_resends_an_unanswered_request_with_the_same_key(loan, merchant_owner, monkeypatch):
    requested = collection_request(loan=loan, purpose="other", amount="100.00", reference="r", by=merchant_owner)

    def no_answer(self, **kwargs):
        raise RailNoAnswer("timeout")

    with monkeypatch.context() as patch:
        patch.setattr("sandbox.rails.SandboxCollectionRail.request", no_answer)
        assert collection_send(collection_id=requested.collection.pk).status == "requested"

    counts = collections_reconcile(older_than=datetime.timedelta(0))

    assert counts["resent"] == 1
    transfer = SandboxTransfer.objects.get()
    assert transfer.idempotency_key == requested.collection.idempotency_key
    assert CollectionRequest.objects.get().status == "pending"


def test_reconciliation_books_what_the_rail_settled_when_its_callback_was_lost(pending):
    transfer = SandboxTransfer.objects.get()
    transfer.status, transfer.settled_at = "settled", timezone.now()
    transfer.save()

    counts = collections_reconcile(older_than=datetime.timedelta(0))
    again = collections_reconcile(older_than=datetime.timedelta(0))

    assert (counts["settled"], again["settled"]) == (1, 0)
    assert Payment.objects.count() == 1


def test_a_payoff_that_no_longer_fits_is_booked_as_an_ordinary_payment(loan, merchant_owner, monkeypatch):
    from lending.servicing.services.repayments import payoff_quote

    total = payoff_quote(loan=loan, on=timezone.localdate()).total
    requested = collection_request(loan=loan, purpose="payoff", amount=None, reference="off", by=merchant_owner)
    collection_send(collection_id=requested.collection.pk)
    # The money settles tomorrow, when a day's more interest is owed: today's quote no longer pays the loan off.
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    body = _body(requested.collection, amount=f"{total:.2f}", settled_on=tomorrow.isoformat())
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args: tomorrow)

    assert _deliver(body, rail_signed_headers(body=body)).status_code == 200

    payment = Payment.objects.get()
    assert (payment.amount, payment.kind, payment.received_on) == (total, Payment.Kind.REGULAR, tomorrow)
    loan.refresh_from_db()
    assert loan.state != "paid_off"
    assert Notice.objects.filter(user=merchant_owner, title__contains="ordinary repayment").exists()


# received_on: never before what the nightly job has already serviced.


def test_a_payment_before_the_last_serviced_day_is_refused_naming_received_on(loan):
    loan.serviced_on = timezone.localdate()
    loan.save()

    with pytest.raises(ValidationError) as refused:
        payment_record(
            loan=loan,
            amount=D("10.00"),
            received_on=timezone.localdate() - datetime.timedelta(days=1),
            source="officer",
            external_reference="late",
        )

    assert "received_on" in refused.value.message_dict
    assert not Payment.objects.exists()


# The platform's HTTP rail.


@pytest.fixture
def platform(settings):
    settings.PLATFORM_RAIL_URL = "https://rails.platform.test/v1"
    settings.PLATFORM_RAIL_SECRET = "platform-secret-for-the-tests-only-1234"
    with responses.RequestsMock() as mocked:
        yield mocked


def test_the_platform_rail_sends_a_signed_withholding_request(platform):
    platform.post(
        "https://rails.platform.test/v1/withholdings/", json={"reference": "W-1", "status": "pending"}, status=201
    )

    answer = PlatformWithholdingRail().request(
        idempotency_key="6f3c1d52-7f3f-4c7a-9a55-1a2b3c4d5e6f",
        amount=D("500.00"),
        account_number="6222",
        account_name="Shop",
        bank_name="Bank",
    )

    assert (answer.reference, answer.status) == ("W-1", "pending")
    sent = platform.calls[0].request
    assert json.loads(sent.body)["amount"] == "500.00"
    assert sent.headers[SIGNATURE_HEADER] == rail_signature(
        secret="platform-secret-for-the-tests-only-1234", timestamp=sent.headers[TIMESTAMP_HEADER], body=sent.body
    )


@pytest.mark.parametrize(("status", "error"), [(422, RailRefused), (503, RailNoAnswer)])
def test_the_platform_rail_turns_refusals_and_outages_into_rail_errors(platform, status, error):
    platform.post("https://rails.platform.test/v1/withholdings/", json={"error": "no settlements"}, status=status)

    with pytest.raises(error):
        PlatformWithholdingRail().request(
            idempotency_key="6f3c1d52-7f3f-4c7a-9a55-1a2b3c4d5e6f",
            amount=D("1.00"),
            account_number="1",
            account_name="a",
            bank_name="b",
        )


def test_the_platform_rail_queries_and_knows_an_unknown_key(platform):
    platform.get("https://rails.platform.test/v1/withholdings/k-1/", status=404)
    platform.get(
        "https://rails.platform.test/v1/withholdings/k-2/",
        json={"reference": "W-2", "status": "confirmed", "amount": "9.00", "settled_on": "2026-12-01"},
    )

    assert PlatformWithholdingRail().query(idempotency_key="k-1") is None
    answer = PlatformWithholdingRail().query(idempotency_key="k-2")
    assert (answer.status, answer.amount, answer.settled_on) == ("confirmed", D("9.00"), datetime.date(2026, 12, 1))


def test_the_platform_payout_rail_reports_a_refusal_as_a_failed_payout(platform):
    platform.post("https://rails.platform.test/v1/payouts/", json={"error": "account closed"}, status=409)

    with pytest.raises(PayoutFailed, match="account closed"):
        PlatformPayoutRail().send(
            idempotency_key="k", amount=D("1.00"), account_number="1", account_name="a", bank_name="b"
        )


def test_the_callback_is_in_the_schema_with_its_signature_scheme(db):
    schema = APIClient().get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][CALLBACK]["post"]
    assert operation["security"] == [{"RailSignature": []}]
