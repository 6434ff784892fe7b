"""The repayment API and the merchant's pay-now pages: status codes, who sees what, idempotency."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from lending.servicing.models import LoanState, Payment, SimulatedTransfer
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def loan(merchant):
    # Started ten days ago: instalment 1 is the current one, nothing has fallen due.
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=10))


def payments_url(loan):
    return reverse("api:loan-payments", args=[loan.pk])


def test_merchant_posts_a_repayment_and_gets_201_with_the_allocations(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.post(payments_url(loan), {"amount": "200.00", "external_reference": "psp-1"}, format="json")

    assert response.status_code == 201, response.data
    assert response.data["amount"] == "200.00"
    assert response.data["source"] == "api"
    first_interest = loan.instalments.get(number=1).interest_due
    assert response.data["allocations"][0] == {
        "instalment": 1,
        "component": "interest",
        "amount": f"{first_interest:.2f}",
    }


def test_the_same_reference_again_answers_200_with_the_first_payment(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    first = api.post(payments_url(loan), {"amount": "200.00", "external_reference": "psp-1"}, format="json")

    again = api.post(payments_url(loan), {"amount": "200.00", "external_reference": "psp-1"}, format="json")

    assert again.status_code == 200
    assert again.data["id"] == first.data["id"]
    assert Payment.objects.count() == 1


def test_the_same_reference_with_another_amount_answers_409(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    api.post(payments_url(loan), {"amount": "200.00", "external_reference": "psp-1"}, format="json")

    response = api.post(payments_url(loan), {"amount": "300.00", "external_reference": "psp-1"}, format="json")

    assert response.status_code == 409
    assert response.data["code"] == "reference_reused"


def test_a_bad_amount_answers_400_naming_the_field(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.post(payments_url(loan), {"amount": "-1", "external_reference": "psp-1"}, format="json")

    assert response.status_code == 400
    assert "amount" in response.data["fields"]


def test_idempotency_key_replays_the_first_answer(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    body = {"amount": "200.00", "external_reference": "psp-1"}

    first = api.post(payments_url(loan), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(payments_url(loan), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"


def test_listing_payments_shows_the_loans_payments(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    api.post(payments_url(loan), {"amount": "200.00", "external_reference": "psp-1"}, format="json")

    response = api.get(payments_url(loan))

    assert response.status_code == 200
    assert [row["external_reference"] for row in response.data["results"]] == ["psp-1"]


@pytest.mark.parametrize("persona", ["other_merchant_owner", "partner_user", "loan_officer"])
def test_anyone_but_the_loans_merchant_gets_404_everywhere(api, loan, persona, request):
    api.force_authenticate(request.getfixturevalue(persona))

    assert api.get(payments_url(loan)).status_code == 404
    assert api.post(payments_url(loan), {"amount": "1.00", "external_reference": "x"}, format="json").status_code == 404
    assert api.get(reverse("api:loan-payoff-quote", args=[loan.pk])).status_code == 404
    prepay = api.post(
        reverse("api:loan-prepayments", args=[loan.pk]),
        {"full": True, "amount": "1", "external_reference": "x"},
        format="json",
    )
    assert prepay.status_code == 404
    assert not Payment.objects.exists()


def test_anonymous_clients_are_refused(api, loan):
    assert api.get(payments_url(loan)).status_code in (401, 403)


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


def test_full_prepayment_over_the_api_pays_the_loan_off(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)
    total = api.get(reverse("api:loan-payoff-quote", args=[loan.pk])).data["total"]

    response = api.post(
        reverse("api:loan-prepayments", args=[loan.pk]),
        {"full": True, "amount": total, "external_reference": "off-1"},
        format="json",
    )

    assert response.status_code == 201
    assert response.data["kind"] == "full_payoff"
    loan.refresh_from_db()
    assert loan.state == LoanState.PAID_OFF


def test_partial_prepayment_over_the_api_while_nothing_is_due(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.post(
        reverse("api:loan-prepayments", args=[loan.pk]),
        {"amount": "2000.00", "external_reference": "pp-1", "keep": "instalment"},
        format="json",
    )

    assert response.status_code == 201
    assert response.data["kind"] == "partial_prepayment"


def test_full_payoff_below_the_quote_answers_400(api, merchant_owner, loan):
    api.force_authenticate(merchant_owner)

    response = api.post(
        reverse("api:loan-prepayments", args=[loan.pk]),
        {"full": True, "amount": "100.00", "external_reference": "off-1"},
        format="json",
    )

    assert response.status_code == 400
    assert "amount" in response.data["fields"]


# The merchant's web pages.


def test_pay_page_shows_nothing_due_now_before_the_first_due_date_and_todays_payoff(client, merchant_owner, loan):
    client.force_login(merchant_owner)

    response = client.get(reverse("lending:repayment-pay", args=[loan.pk]))

    assert response.status_code == 200
    # Ten days after payout nothing has fallen due: next month's instalment is not "due now".
    assert response.context["due_now"] == D("0.00")
    assert "Nothing is due now" in response.content.decode() or response.context["due_now"] == D("0.00")


def test_on_the_day_of_payout_nothing_is_due_now(merchant):
    from lending.servicing.services.repayments import amount_due_now

    fresh = active_loan(merchant, start=timezone.localdate())
    assert amount_due_now(loan=fresh, on=timezone.localdate()) == D("0.00")


def test_paying_what_is_due_collects_once_even_when_the_form_is_sent_twice(client, merchant_owner, merchant):
    client.force_login(merchant_owner)
    # Started 40 days ago: instalment 1 fell due about ten days ago and is what is due now.
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))
    due = loan.instalments.get(number=1).payment_due
    form = {"choice": "due", "amount": "", "keep": "term", "token": str(uuid.uuid4())}

    first = client.post(reverse("lending:repayment-pay", args=[loan.pk]), form)
    second = client.post(reverse("lending:repayment-pay", args=[loan.pk]), form)

    assert first.status_code == second.status_code == 302
    payment = Payment.objects.get()
    assert (payment.source, payment.amount) == ("portal", due)
    transfer = SimulatedTransfer.objects.get()
    assert transfer.amount == -due
    assert transfer.reference.startswith("COL")
    history = client.get(reverse("lending:repayment-history", args=[loan.pk]))
    assert payment.external_reference in history.content.decode()


def test_another_amount_without_an_amount_is_refused_on_the_form(client, merchant_owner, loan):
    client.force_login(merchant_owner)

    response = client.post(
        reverse("lending:repayment-pay", args=[loan.pk]), {"choice": "other", "token": str(uuid.uuid4())}
    )

    assert response.status_code == 400
    assert "Enter the amount you want to pay." in response.content.decode()
    assert not SimulatedTransfer.objects.exists()


def test_another_merchants_pay_and_history_pages_are_404(client, other_merchant_owner, loan):
    client.force_login(other_merchant_owner)

    assert client.get(reverse("lending:repayment-pay", args=[loan.pk])).status_code == 404
    assert client.get(reverse("lending:repayment-history", args=[loan.pk])).status_code == 404
