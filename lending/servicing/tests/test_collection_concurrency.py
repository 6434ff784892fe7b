"""Pay now raced from many threads on PostgreSQL, over HTTP: one request is created and answered 202, every other
identical one gets the first answer (200) or a 409, never a second "created"; a confirmation raced with itself
books one payment."""

import datetime
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from lending.servicing.models import CollectionRequest, Payment
from lending.servicing.services.collection_requests import collection_request, collection_send
from lending.servicing.services.rails import rail_signed_headers
from lending.servicing.tests.factories import active_loan
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 50


def test_fifty_identical_pay_now_requests_create_one(merchant, merchant_owner):
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))
    body = {"purpose": "other", "amount": "300.00", "reference": "double-click"}

    def attempt():
        client = APIClient()
        client.force_authenticate(merchant_owner)
        response = client.post(f"/api/v1/loans/{loan.pk}/collections/", body, format="json")
        return response.status_code, response.json().get("id")

    outcomes = race(attempt, times=THREADS)

    codes = [code for code, _id in outcomes]
    assert codes.count(202) == 1, codes
    assert set(codes) <= {202, 200, 409}, codes
    assert CollectionRequest.objects.count() == 1
    only = CollectionRequest.objects.get().pk
    assert {request_id for code, request_id in outcomes if code in (200, 202)} == {only}


def test_fifty_different_pay_now_requests_leave_one_open(merchant, merchant_owner):
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))
    counter = iter(range(THREADS))

    def attempt():
        client = APIClient()
        client.force_authenticate(merchant_owner)
        body = {"purpose": "other", "amount": "300.00", "reference": f"r-{next(counter)}"}
        return client.post(f"/api/v1/loans/{loan.pk}/collections/", body, format="json").status_code

    codes = race(attempt, times=THREADS)

    assert codes.count(202) == 1, codes
    assert set(codes) <= {202, 409}, codes
    assert CollectionRequest.objects.filter(status__in=CollectionRequest.OPEN).count() == 1


def test_a_confirmation_raced_with_itself_books_one_payment(merchant, merchant_owner):
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))
    requested = collection_request(loan=loan, purpose="other", amount="300.00", reference="r", by=merchant_owner)
    collection_send(collection_id=requested.collection.pk)
    body = json.dumps(
        {
            "idempotency_key": str(requested.collection.idempotency_key),
            "reference": "COL-1",
            "status": "confirmed",
            "amount": "300.00",
        }
    ).encode()
    headers = rail_signed_headers(body=body)

    def attempt():
        response = APIClient().generic(
            "POST", "/api/v1/rails/collections/callback/", body, content_type="application/json", headers=headers
        )
        return response.status_code

    codes = race(attempt, times=10)

    assert set(codes) == {200}, codes
    assert Payment.objects.count() == 1
