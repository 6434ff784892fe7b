"""The sandbox plays the platform: it settles collections by itself when told to, or when an officer says so in
the back office, and either way calls the portal back through the signed path the real platform uses."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from lending.servicing.models import CollectionRequest, Payment
from lending.servicing.services.collection_requests import collection_request
from lending.servicing.tests.factories import active_loan
from sandbox.models import SandboxTransfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def loan(merchant):
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))


def _pay(loan, owner, capture):
    with capture(execute=True):
        collection_request(loan=loan, purpose="other", amount="250.00", reference="r", by=owner)
    return CollectionRequest.objects.get()


@pytest.mark.parametrize(("outcome", "status", "payments"), [("confirm", "confirmed", 1), ("fail", "failed", 0)])
def test_the_sandbox_settles_by_itself_when_told_to(
    settings, loan, merchant_owner, django_capture_on_commit_callbacks, outcome, status, payments
):
    settings.SANDBOX_COLLECTION_OUTCOME = outcome

    collection = _pay(loan, merchant_owner, django_capture_on_commit_callbacks)

    assert collection.status == status
    assert Payment.objects.count() == payments


def test_by_default_a_collection_waits_for_the_officer(
    settings, loan, merchant_owner, django_capture_on_commit_callbacks
):
    settings.SANDBOX_COLLECTION_OUTCOME = "manual"

    collection = _pay(loan, merchant_owner, django_capture_on_commit_callbacks)

    assert collection.status == "pending"
    assert SandboxTransfer.objects.get().status == SandboxTransfer.Status.PENDING


def test_an_unknown_outcome_is_refused_loudly(settings, loan, merchant_owner):
    from sandbox.rails import SandboxCollectionRail

    settings.SANDBOX_COLLECTION_OUTCOME = "maybe"

    with pytest.raises(ValueError, match="SANDBOX_COLLECTION_OUTCOME"):
        SandboxCollectionRail().request(
            idempotency_key="6f3c1d52-7f3f-4c7a-9a55-1a2b3c4d5e6f",
            amount=1,
            account_number="1",
            account_name="a",
            bank_name="b",
        )


@pytest.mark.parametrize(("action", "status"), [("settle_confirm", "confirmed"), ("settle_refuse", "failed")])
def test_an_administrator_settles_a_collection_in_the_back_office(
    admin_client, loan, merchant_owner, django_capture_on_commit_callbacks, action, status
):
    _pay(loan, merchant_owner, django_capture_on_commit_callbacks)
    transfer = SandboxTransfer.objects.get()

    response = admin_client.post(
        reverse("admin:sandbox_sandboxtransfer_changelist"), {"action": action, "_selected_action": [transfer.pk]}
    )

    assert response.status_code == 302
    assert CollectionRequest.objects.get().status == status
    assert Payment.objects.count() == (1 if status == "confirmed" else 0)


def test_a_loan_officer_cannot_play_the_platform(
    client, loan_officer, loan, merchant_owner, django_capture_on_commit_callbacks
):
    _pay(loan, merchant_owner, django_capture_on_commit_callbacks)
    client.force_login(loan_officer)

    response = client.post(
        reverse("admin:sandbox_sandboxtransfer_changelist"),
        {"action": "settle_confirm", "_selected_action": [SandboxTransfer.objects.get().pk]},
    )

    assert response.status_code == 403
    assert CollectionRequest.objects.get().status == "pending"
