"""Idempotency-Key: a retried POST answers the first response again and does nothing twice."""

import datetime
import threading
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from core.api import idempotency
from core.api.idempotency import IdempotentMixin, request_fingerprint
from core.models import AuditEvent, IdempotencyKey
from core.services.audit import audit_record
from core.tasks import idempotency_keys_purge_task
from merchants.api import sales as sales_api
from merchants.api.sales import SalesImportApi
from merchants.models import SalesDay

WORK = "test.idempotent_work"


class _AmountInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    note = serializers.CharField(required=False)


class _CreateApi(IdempotentMixin, APIView):
    """Does one countable piece of work (an audit row) per request that runs."""

    def post(self, request):
        data = _AmountInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = audit_record(subject=request.user, action=WORK, by=request.user, data={"amount": str(request.data)})
        return Response(
            {"id": event.pk, "amount": data.data["amount"]},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/things/{event.pk}/"},
        )


class _SlowCreateApi(IdempotentMixin, APIView):
    def post(self, request):
        time.sleep(0.5)
        event = audit_record(subject=request.user, action=WORK, by=request.user)
        return Response({"id": event.pk}, status=status.HTTP_201_CREATED)


class _CrashingApi(IdempotentMixin, APIView):
    calls = 0

    def post(self, request):
        type(self).calls += 1
        if type(self).calls == 1:
            raise RuntimeError("the payment gateway hung up")
        audit_record(subject=request.user, action=WORK, by=request.user)
        return Response({"ok": True}, status=status.HTTP_201_CREATED)


class _UnavailableApi(IdempotentMixin, APIView):
    def post(self, request):
        return Response({"code": "unavailable", "message": "try later", "fields": {}}, status=503)


class _UploadApi(IdempotentMixin, APIView):
    def post(self, request):
        audit_record(subject=request.user, action=WORK, by=request.user)
        upload = request.data["file"]
        return Response({"size": upload.size, "first_line": upload.read().splitlines()[0].decode()}, status=201)


class _OpenApi(IdempotentMixin, APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        return Response({"ok": True}, status=201)


urlpatterns = [
    path("things/", _CreateApi.as_view()),
    path("other-things/", _CreateApi.as_view()),
    path("slow-things/", _SlowCreateApi.as_view()),
    path("crashing/", _CrashingApi.as_view()),
    path("unavailable/", _UnavailableApi.as_view()),
    path("uploads/", _UploadApi.as_view()),
    path("open/", _OpenApi.as_view()),
    path("sales/", SalesImportApi.as_view()),
]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def client_a(merchant_owner):
    client = APIClient()
    client.force_authenticate(merchant_owner)
    return client


def _work_done() -> int:
    return AuditEvent.objects.filter(action=WORK).count()


def _post(client, url, body, key=None, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, body, format="json", headers=headers, **extra)


def test_a_replay_answers_the_first_response_again_and_does_nothing_twice(client_a):
    first = _post(client_a, "/things/", {"amount": "1200.50"}, key="k-1")
    again = _post(client_a, "/things/", {"amount": "1200.50"}, key="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"id": first.json()["id"], "amount": "1200.50"}
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert _work_done() == 1


def test_the_same_body_with_other_key_order_and_spacing_is_the_same_request(client_a):
    _post(client_a, "/things/", {"amount": "10.00", "note": "stock"}, key="k-order")
    again = client_a.post(
        "/things/",
        '{ "note" : "stock",  "amount": "10.00" }',
        content_type="application/json",
        headers={"Idempotency-Key": "k-order"},
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert _work_done() == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(client_a):
    _post(client_a, "/things/", {"amount": "10.00"}, key="k-2")
    response = _post(client_a, "/things/", {"amount": "99.00"}, key="k-2")

    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used for a different request. Use a new key.",
        "fields": {},
    }
    assert _work_done() == 1


def test_the_same_key_on_another_endpoint_is_refused_with_422(client_a):
    _post(client_a, "/things/", {"amount": "10.00"}, key="k-path")
    response = _post(client_a, "/other-things/", {"amount": "10.00"}, key="k-path")
    assert response.status_code == 422
    assert _work_done() == 1


def test_a_key_whose_first_request_is_still_running_answers_409(client_a, merchant_owner):
    raw = APIRequestFactory().post("/things/", {"amount": "10.00"}, format="json")
    fingerprint = request_fingerprint(Request(raw, parsers=[JSONParser()]))
    IdempotencyKey.objects.create(user=merchant_owner, key="k-busy", request_hash=fingerprint)

    response = _post(client_a, "/things/", {"amount": "10.00"}, key="k-busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert _work_done() == 0


def test_a_key_abandoned_by_a_dead_worker_is_released_after_ten_minutes(client_a, merchant_owner):
    raw = APIRequestFactory().post("/things/", {"amount": "10.00"}, format="json")
    fingerprint = request_fingerprint(Request(raw, parsers=[JSONParser()]))
    stale = IdempotencyKey.objects.create(user=merchant_owner, key="k-dead", request_hash=fingerprint)
    IdempotencyKey.objects.filter(pk=stale.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=11))

    response = _post(client_a, "/things/", {"amount": "10.00"}, key="k-dead")

    assert response.status_code == 201
    assert _work_done() == 1
    assert IdempotencyKey.objects.get(user=merchant_owner, key="k-dead").state == IdempotencyKey.State.DONE


def test_keys_belong_to_one_client_so_another_client_never_gets_its_answer(client_a, other_merchant_owner):
    first = _post(client_a, "/things/", {"amount": "10.00"}, key="shared-key")
    client_b = APIClient()
    client_b.force_authenticate(other_merchant_owner)

    response = _post(client_b, "/things/", {"amount": "10.00"}, key="shared-key")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert response.json()["id"] != first.json()["id"]
    assert _work_done() == 2


def test_without_a_key_every_request_runs(client_a):
    _post(client_a, "/things/", {"amount": "10.00"})
    _post(client_a, "/things/", {"amount": "10.00"})
    assert _work_done() == 2
    assert IdempotencyKey.objects.count() == 0


def test_a_validation_error_is_kept_and_replayed_like_any_answer(client_a):
    first = _post(client_a, "/things/", {"amount": "12.345"}, key="k-invalid")
    again = _post(client_a, "/things/", {"amount": "12.345"}, key="k-invalid")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert list(again.json()["fields"]) == ["amount"]
    assert again["Idempotent-Replayed"] == "true"


def test_an_unhandled_error_releases_the_key_so_the_client_can_retry_with_it(merchant_owner):
    _CrashingApi.calls = 0
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(merchant_owner)

    crashed = _post(client, "/crashing/", {"amount": "1.00"}, key="k-crash")
    assert crashed.status_code == 500
    assert not IdempotencyKey.objects.filter(key="k-crash").exists()

    retried = _post(client, "/crashing/", {"amount": "1.00"}, key="k-crash")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert _work_done() == 1


def test_a_5xx_answer_is_not_kept(client_a):
    response = _post(client_a, "/unavailable/", {"amount": "1.00"}, key="k-503")
    assert response.status_code == 503
    assert not IdempotencyKey.objects.filter(key="k-503").exists()


def test_an_upload_sent_again_is_a_replay_and_a_different_file_is_refused(client_a):
    def upload(content: bytes):
        csv_file = SimpleUploadedFile("sales.csv", content, content_type="text/csv")
        return client_a.post("/uploads/", {"file": csv_file}, format="multipart", headers={"Idempotency-Key": "k-up"})

    first = upload(b"date,gross_sales\n2025-01-01,100.00\n")
    again = upload(b"date,gross_sales\n2025-01-01,100.00\n")
    other = upload(b"date,gross_sales\n2025-01-02,999.00\n")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"size": 35, "first_line": "date,gross_sales"}
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert _work_done() == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Idempotency-Key must not be empty."),
        ("x" * 256, "Idempotency-Key must be at most 255 characters."),
        ("clé-unique", "Idempotency-Key may contain only printable ASCII characters (a UUID is ideal)."),
    ],
)
def test_a_malformed_key_is_refused_naming_the_header(client_a, key, message):
    response = client_a.post(
        "/things/", {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1")
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"Idempotency-Key": [message]}
    assert _work_done() == 0


def test_an_anonymous_client_cannot_use_a_key(db):
    response = _post(APIClient(), "/open/", {}, key="k-anon")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "Idempotency-Key": ["Only an authenticated client can use an Idempotency-Key."]
    }
    assert IdempotencyKey.objects.count() == 0


def test_a_refused_request_uses_up_no_key(db):
    response = _post(APIClient(), "/things/", {"amount": "1.00"}, key="k-refused")
    assert response.status_code == 401
    assert IdempotencyKey.objects.count() == 0


def test_the_purge_task_deletes_keys_older_than_48_hours_and_keeps_younger_ones(merchant_owner):
    now = timezone.now()
    for key, age in (("old", 49), ("young", 47)):
        row = IdempotencyKey.objects.create(user=merchant_owner, key=key, request_hash="0" * 64)
        IdempotencyKey.objects.filter(pk=row.pk).update(created_at=now - datetime.timedelta(hours=age))

    assert idempotency_keys_purge_task.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_do_the_work_once(merchant_owner):
    barrier = threading.Barrier(2)
    results: list = []

    def send():
        try:
            client = APIClient()
            client.force_authenticate(merchant_owner)
            barrier.wait(timeout=10)
            response = _post(client, "/slow-things/", {"amount": "5.00"}, key="k-race")
            results.append((response.status_code, response.json(), response.get("Idempotent-Replayed")))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert _work_done() == 1
    assert len(results) == 2
    winners = [r for r in results if r[0] == 201 and r[2] is None]
    losers = [r for r in results if r not in winners]
    assert len(winners) == 1
    # The loser either arrived while the winner ran (409) or just after it finished (a replay).
    loser_status, loser_body, replayed = losers[0]
    assert (loser_status, loser_body["code"]) == (409, "idempotency_in_progress") or (
        loser_status == 201 and replayed == "true" and loser_body == winners[0][1]
    )


def test_the_sales_import_behind_the_mixin_imports_once_and_replays(merchant):
    # Proves the one-line adoption (``class SalesImportApi(IdempotentMixin, APIView)``) on the real endpoint.
    client = APIClient()
    client.force_authenticate(merchant.owner)
    day = {"gross_sales": "880.00", "refunds": "0.00", "transaction_count": "9", "distinct_customers": "7"}
    body = {"days": [{"date": "2025-04-01", **day}, {"date": "2025-04-02", **day}]}

    first = _post(client, "/sales/", body, key="import-2025-04")
    again = _post(client, "/sales/", body, key="import-2025-04")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["created"] == 2
    assert again["Idempotent-Replayed"] == "true"
    assert SalesDay.all_rows.filter(merchant=merchant, source="declared").count() == 2
    assert AuditEvent.objects.filter(action="sales.import").count() == 1


# On PostgreSQL outside a transaction, as in production: the claim is one statement committed before the work, and
# the answer commits with the work, durably (no asynchronous commit anywhere).


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_claim_is_one_statement_and_the_answer_commits_with_the_work(merchant_owner):
    client = APIClient()
    client.force_authenticate(merchant_owner)

    with CaptureQueriesContext(connection) as queries:
        first = _post(client, "/things/", {"amount": "7.00"}, key="k-one-statement")
    statements = [q["sql"] for q in queries.captured_queries]  # read now: the next request resets the log
    bookkeeping = [sql for sql in statements if "core_idempotencykey" in sql]
    again = _post(client, "/things/", {"amount": "7.00"}, key="k-one-statement")
    other = _post(client, "/things/", {"amount": "8.00"}, key="k-one-statement")

    claims = [sql for sql in bookkeeping if sql.startswith("INSERT")]
    assert len(claims) == 1
    assert "ON CONFLICT" in claims[0]
    assert not any("synchronous_commit" in sql for sql in bookkeeping)
    answer = next(i for i, sql in enumerate(statements) if sql.startswith('UPDATE "core_idempotencykey"'))
    work = next(i for i, sql in enumerate(statements) if 'INSERT INTO "core_auditevent"' in sql)
    # In one transaction: the claim's row locked first, then the work, then its answer.
    lock = next(i for i, sql in enumerate(statements) if "FOR UPDATE" in sql and "core_idempotencykey" in sql)
    assert lock < work < answer
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert other.status_code == 422
    stored = IdempotencyKey.objects.get(key="k-one-statement")
    assert (stored.state, stored.response_status, stored.response_body) == ("done", 201, first.json())
    assert stored.response_headers == {"Location": first["Location"]}
    assert _work_done() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_crash_releases_the_key_for_a_retry(merchant_owner):
    _CrashingApi.calls = 0
    client = APIClient()
    client.force_authenticate(merchant_owner)

    with pytest.raises(RuntimeError, match="hung up"):
        _post(client, "/crashing/", {"amount": "1.00"}, key="k-crash-once")
    assert not IdempotencyKey.objects.filter(key="k-crash-once").exists()

    retried = _post(client, "/crashing/", {"amount": "1.00"}, key="k-crash-once")
    replayed = _post(client, "/crashing/", {"amount": "1.00"}, key="k-crash-once")

    assert retried.status_code == replayed.status_code == 201
    assert replayed["Idempotent-Replayed"] == "true"
    assert _work_done() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_key_in_flight_answers_409_and_an_abandoned_one_is_taken(merchant_owner):
    raw = APIRequestFactory().post("/things/", {"amount": "10.00"}, format="json")
    fingerprint = request_fingerprint(Request(raw, parsers=[JSONParser()]))
    busy = IdempotencyKey.objects.create(user=merchant_owner, key="k-in-flight", request_hash=fingerprint)
    client = APIClient()
    client.force_authenticate(merchant_owner)

    in_flight = _post(client, "/things/", {"amount": "10.00"}, key="k-in-flight")
    IdempotencyKey.objects.filter(pk=busy.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=11))
    taken = _post(client, "/things/", {"amount": "10.00"}, key="k-in-flight")

    assert (in_flight.status_code, in_flight.json()["code"]) == (409, "idempotency_in_progress")
    assert taken.status_code == 201
    assert IdempotencyKey.objects.get(key="k-in-flight").state == IdempotencyKey.State.DONE
    assert _work_done() == 1


# A crash between the effect and its key's answer. The answer commits in the effect's transaction, so there is no
# moment at which the effect is on file and its key unanswered: a crash before the commit leaves neither, and a
# crash after it leaves both. Either way the retry with the same key ends with the work done exactly once.

SALES_BODY = {
    "days": [
        {
            "date": "2025-05-0" + str(n),
            "gross_sales": "640.00",
            "refunds": "0.00",
            "transaction_count": "8",
            "distinct_customers": "6",
        }
        for n in (1, 2)
    ]
}


def _sales_imports() -> int:
    return AuditEvent.objects.filter(action="sales.import").count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_service_commits_leaves_no_effect_without_its_answer(merchant):
    client = APIClient()
    client.force_authenticate(merchant.owner)
    real_import = sales_api.sales_import_rows

    def import_then_crash(**kwargs):
        real_import(**kwargs)  # the service's own transaction has finished here
        raise RuntimeError("the worker died before answering")

    with (
        mock.patch.object(sales_api, "sales_import_rows", side_effect=import_then_crash),
        pytest.raises(RuntimeError, match="worker died"),
    ):
        _post(client, "/sales/", SALES_BODY, key="k-crash-sales")

    assert SalesDay.all_rows.filter(merchant=merchant).count() == 0
    assert _sales_imports() == 0
    assert not IdempotencyKey.objects.filter(key="k-crash-sales").exists()

    retried = _post(client, "/sales/", SALES_BODY, key="k-crash-sales")
    again = _post(client, "/sales/", SALES_BODY, key="k-crash-sales")

    assert retried.status_code == again.status_code == 201
    assert retried.json()["created"] == 2
    assert again.json() == retried.json()
    assert again["Idempotent-Replayed"] == "true"
    assert SalesDay.all_rows.filter(merchant=merchant).count() == 2
    assert _sales_imports() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_crash_while_storing_the_answer_rolls_the_effect_back_and_the_retry_does_it_once(merchant_owner):
    client = APIClient()
    client.force_authenticate(merchant_owner)

    with (
        mock.patch.object(idempotency, "idempotency_key_answer", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError, match="disk full"),
    ):
        _post(client, "/things/", {"amount": "3.00"}, key="k-crash-answer")
    assert _work_done() == 0
    assert not IdempotencyKey.objects.filter(key="k-crash-answer").exists()

    retried = _post(client, "/things/", {"amount": "3.00"}, key="k-crash-answer")
    replayed = _post(client, "/things/", {"amount": "3.00"}, key="k-crash-answer")

    assert retried.status_code == replayed.status_code == 201
    assert replayed.json() == retried.json()
    assert replayed["Idempotent-Replayed"] == "true"
    assert _work_done() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_commit_is_answered_from_the_key_and_nothing_runs_again(merchant):
    client = APIClient()
    client.force_authenticate(merchant.owner)
    real = IdempotentMixin._answer_in_one_transaction

    def commit_then_crash(self, *args, **kwargs):
        real(self, *args, **kwargs)  # the effect and its answer are committed
        raise RuntimeError("the connection dropped before the answer was sent")

    with (
        mock.patch.object(IdempotentMixin, "_answer_in_one_transaction", commit_then_crash),
        pytest.raises(RuntimeError, match="connection dropped"),
    ):
        _post(client, "/sales/", SALES_BODY, key="k-lost-answer")

    retried = _post(client, "/sales/", SALES_BODY, key="k-lost-answer")

    assert retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json()["created"] == 2
    assert SalesDay.all_rows.filter(merchant=merchant).count() == 2
    assert _sales_imports() == 1
