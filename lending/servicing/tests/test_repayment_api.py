"""Pay now over the API and the web: a merchant asks for a collection, and only the rail's confirmation books a
payment. No merchant can post a payment, a prepayment or a payoff in any form."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lending.servicing.models import CollectionRequest, LoanState, Payment
from lending.servicing.tests.factories import active_loan
from sandbox.models import SandboxTransfer
from sandbox.services import sandbox_collection_settle

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def loan(merchant):
    # Started ten days ago: instalment 1 is the current one, nothing has fallen due.
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=10))


@pytest.fixture
def loan_in_arrears(merchant):
    # Started 40 days ago: instalment 1 fell due about ten days ago and is what is due now.
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))


def collections_url(loan):
    return reverse("api:loan-collections", args=[loan.pk])


def _post(api, loan, body, capture, **headers):
    with capture(execute=True):
        return api.post(collections_url(loan), body, format="json", **headers)


def _settle(confirm=True):
    transfer = SandboxTransfer.objects.get(kind=SandboxTransfer.Kind.COLLECTION, status="pending")
    return sandbox_collection_settle(transfer_id=transfer.pk, confirm=confirm)


# No payment from a merchant's hand.


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "200.00", "external_reference": "psp-1"},
        {"amount": "200.00", "external_reference": "psp-1", "received_on": "2020-01-01"},
        {"amount": "99999.00", "external_reference": "off", "kind": "full_payoff"},
    ],
)
def test_a_merchant_cannot_post_a_payment_of_any_kind(api, merchant_owner, loan, body):
    api.force_authenticate(merchant_owner)

    response = api.post(reverse("api:loan-payments", args=[loan.pk]), body, format="json")

    assert response.status_code == 405
    assert not Payment.objects.exists()


def test_the_prepayment_endpoint_is_gone(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.post(
        f"/api/v1/loans/{loan.pk}/prepayments/", {"full": True, "amount": "1", "external_reference": "x"}, format="json"
    )

    assert response.status_code == 404
    assert not Payment.objects.exists()


# Pay now over the API.


def test_paying_what_is_due_is_pending_until_the_rail_confirms(
    api, merchant_owner, loan_in_arrears, django_capture_on_commit_callbacks
):
    api.force_authenticate(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due

    response = _post(api, loan_in_arrears, {"purpose": "due", "reference": "app-1"}, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.data
    # Asked of the rail once the request commits; either way, no payment yet.
    assert response.data["status"] in ("requested", "pending")
    assert (D(response.data["amount"]), response.data["payment"]) == (due, None)
    assert CollectionRequest.objects.get().status == "pending"
    assert not Payment.objects.exists()
    collection = _settle(confirm=True)
    assert collection.status == "confirmed"
    payment = Payment.objects.get()
    assert (payment.source, payment.amount, payment.received_on) == ("collection", due, timezone.localdate())
    detail = api.get(reverse("api:loan-collection", args=[loan_in_arrears.pk, collection.pk]))
    assert (detail.data["status"], detail.data["payment"]) == ("confirmed", payment.pk)
    assert api.get(reverse("api:loan-payments", args=[loan_in_arrears.pk])).data["results"][0]["id"] == payment.pk


def test_a_failed_collection_books_nothing_and_says_why(
    api, merchant_owner, loan_in_arrears, django_capture_on_commit_callbacks
):
    api.force_authenticate(merchant_owner)
    _post(api, loan_in_arrears, {"purpose": "due", "reference": "app-1"}, django_capture_on_commit_callbacks)

    collection = _settle(confirm=False)

    assert collection.status == "failed"
    assert "did not cover" in collection.failure_reason
    assert not Payment.objects.exists()
    listed = api.get(collections_url(loan_in_arrears)).data["results"]
    assert [(row["status"], row["failure_reason"]) for row in listed] == [("failed", collection.failure_reason)]
    # Failed is closed: the merchant may ask again.
    again = _post(api, loan_in_arrears, {"purpose": "due", "reference": "app-2"}, django_capture_on_commit_callbacks)
    assert again.status_code == 202


def test_the_same_reference_answers_with_the_first_request(
    api, merchant_owner, loan, django_capture_on_commit_callbacks
):
    api.force_authenticate(merchant_owner)
    body = {"purpose": "other", "amount": "500.00", "reference": "app-1"}

    first = _post(api, loan, body, django_capture_on_commit_callbacks)
    again = _post(api, loan, body, django_capture_on_commit_callbacks)
    other = _post(api, loan, {**body, "amount": "600.00"}, django_capture_on_commit_callbacks)

    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert again.data["id"] == first.data["id"]
    assert other.data["code"] == "reference_reused"
    assert CollectionRequest.objects.count() == SandboxTransfer.objects.count() == 1


def test_one_collection_at_a_time_per_loan(api, merchant_owner, loan, django_capture_on_commit_callbacks):
    api.force_authenticate(merchant_owner)
    _post(api, loan, {"purpose": "other", "amount": "500.00", "reference": "app-1"}, django_capture_on_commit_callbacks)

    second = _post(
        api, loan, {"purpose": "other", "amount": "300.00", "reference": "app-2"}, django_capture_on_commit_callbacks
    )

    assert second.status_code == 409
    assert second.data["code"] == "collection_pending"
    assert "500.00" in second.data["message"]
    assert CollectionRequest.objects.count() == 1


def test_idempotency_key_replays_the_first_answer(api, merchant_owner, loan, django_capture_on_commit_callbacks):
    api.force_authenticate(merchant_owner)
    body = {"purpose": "other", "amount": "200.00", "reference": "app-1"}

    first = _post(api, loan, body, django_capture_on_commit_callbacks, HTTP_IDEMPOTENCY_KEY="k1")
    again = _post(api, loan, body, django_capture_on_commit_callbacks, HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again["Idempotent-Replayed"] == "true"
    assert CollectionRequest.objects.count() == 1


def test_a_payoff_must_be_exactly_todays_quote_and_nothing_is_asked_otherwise(
    api, merchant_owner, loan, django_capture_on_commit_callbacks
):
    api.force_authenticate(merchant_owner)
    total = D(api.get(reverse("api:loan-payoff-quote", args=[loan.pk])).data["total"])

    short = _post(
        api, loan, {"purpose": "payoff", "amount": "1.00", "reference": "a"}, django_capture_on_commit_callbacks
    )
    over = _post(
        api, loan, {"purpose": "payoff", "amount": "100000.00", "reference": "b"}, django_capture_on_commit_callbacks
    )

    assert (short.status_code, over.status_code) == (400, 400)
    assert "amount" in short.data["fields"]
    assert str(total) in short.data["fields"]["amount"][0]
    assert not CollectionRequest.objects.exists()
    assert not SandboxTransfer.objects.exists()

    exact = _post(
        api, loan, {"purpose": "payoff", "amount": str(total), "reference": "c"}, django_capture_on_commit_callbacks
    )
    assert exact.status_code == 202
    _settle(confirm=True)
    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF
    assert loan.credit_balance == D("0.00")
    assert Payment.objects.get().kind == Payment.Kind.FULL_PAYOFF


def test_another_amount_above_the_whole_loan_is_refused(api, merchant_owner, loan, django_capture_on_commit_callbacks):
    api.force_authenticate(merchant_owner)

    response = _post(
        api, loan, {"purpose": "other", "amount": "95182.00", "reference": "a"}, django_capture_on_commit_callbacks
    )

    assert response.status_code == 400
    assert "amount" in response.data["fields"]
    assert not SandboxTransfer.objects.exists()


def test_a_partial_prepayment_is_booked_as_one_when_confirmed(
    api, merchant_owner, loan, django_capture_on_commit_callbacks
):
    api.force_authenticate(merchant_owner)

    response = _post(
        api,
        loan,
        {"purpose": "prepay", "amount": "2000.00", "keep": "instalment", "reference": "pp-1"},
        django_capture_on_commit_callbacks,
    )
    _settle(confirm=True)

    assert response.status_code == 202
    assert Payment.objects.get().kind == Payment.Kind.PARTIAL_PREPAYMENT


@pytest.mark.parametrize("persona", ["other_merchant_owner", "partner_user", "loan_officer"])
def test_anyone_but_the_loans_merchant_gets_404_everywhere(
    api, loan, persona, request, django_capture_on_commit_callbacks
):
    api.force_authenticate(request.getfixturevalue(persona))

    assert api.get(reverse("api:loan-payments", args=[loan.pk])).status_code == 404
    assert api.get(collections_url(loan)).status_code == 404
    body = {"purpose": "other", "amount": "1.00", "reference": "x"}
    assert _post(api, loan, body, django_capture_on_commit_callbacks).status_code == 404
    assert api.get(reverse("api:loan-payoff-quote", args=[loan.pk])).status_code == 404
    assert not CollectionRequest.objects.exists()
    assert not Payment.objects.exists()


def test_anonymous_clients_are_refused(api, loan):
    assert api.get(reverse("api:loan-payments", args=[loan.pk])).status_code in (401, 403)
    assert api.post(collections_url(loan), {}, format="json").status_code in (401, 403)


def test_payoff_quote_for_a_date(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    on = loan.start_date + datetime.timedelta(days=31)  # past instalment 1's due date or on it

    response = api.get(reverse("api:loan-payoff-quote", args=[loan.pk]), {"on": on.isoformat()})

    assert response.status_code == 200
    assert response.data["valid_on"] == on.isoformat()
    assert response.data["principal"] == "12000.00"


def test_payoff_quote_with_a_bad_date_answers_400(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.get(reverse("api:loan-payoff-quote", args=[loan.pk]), {"on": "31/02/2025"})

    assert response.status_code == 400
    assert "on" in response.data["fields"]


# The merchant's web pages.


def test_pay_page_shows_nothing_due_now_before_the_first_due_date(client, merchant_owner, loan):
    client.force_login(merchant_owner)

    response = client.get(reverse("lending:repayment-pay", args=[loan.pk]))

    assert response.status_code == 200
    # Ten days after payout nothing has fallen due: next month's instalment is not "due now".
    assert response.context["due_now"] == D("0.00")


def test_on_the_day_of_payout_nothing_is_due_now(merchant):
    from lending.servicing.services.repayments import amount_due_now

    fresh = active_loan(merchant, start=timezone.localdate())
    assert amount_due_now(loan=fresh, on=timezone.localdate()) == D("0.00")


def test_paying_on_the_web_asks_once_shows_pending_then_confirmed(
    client, merchant_owner, loan_in_arrears, django_capture_on_commit_callbacks
):
    client.force_login(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due
    form = {"choice": "due", "amount": "", "keep": "term", "token": str(uuid.uuid4()), "confirmed_amount": str(due)}
    url = reverse("lending:repayment-pay", args=[loan_in_arrears.pk])

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, form)
        second = client.post(url, form)

    assert first.status_code == second.status_code == 302
    assert CollectionRequest.objects.count() == SandboxTransfer.objects.count() == 1
    assert not Payment.objects.exists()
    history = client.get(reverse("lending:repayment-history", args=[loan_in_arrears.pk])).content.decode()
    assert "collection-pending" in history
    assert "pending" in client.get(url).content.decode()  # the pay page says a payment is pending

    _settle(confirm=True)

    payment = Payment.objects.get()
    assert (payment.source, payment.amount) == ("collection", due)
    history = client.get(reverse("lending:repayment-history", args=[loan_in_arrears.pk])).content.decode()
    assert "collection-confirmed" in history
    assert payment.external_reference in history


def test_another_amount_without_an_amount_is_refused_on_the_form(client, merchant_owner, loan):
    client.force_login(merchant_owner)

    response = client.post(
        reverse("lending:repayment-pay", args=[loan.pk]), {"choice": "other", "token": str(uuid.uuid4())}
    )

    assert response.status_code == 400
    assert "Enter the amount you want to pay." in response.content.decode()
    assert not SandboxTransfer.objects.exists()
    assert not CollectionRequest.objects.exists()


def test_another_merchants_pay_and_history_pages_are_404(client, other_merchant_owner, loan):
    client.force_login(other_merchant_owner)

    assert client.get(reverse("lending:repayment-pay", args=[loan.pk])).status_code == 404
    assert client.get(reverse("lending:repayment-history", args=[loan.pk])).status_code == 404
