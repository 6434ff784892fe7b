"""The applications API: status codes, bodies and who may call what."""

import datetime
import json
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from lending.origination.api.applications import ApplicationSerializer
from lending.origination.models import LoanApplication
from lending.origination.tests.factories import apply_for
from underwriting.models import Decision

pytestmark = pytest.mark.django_db

APPLICATIONS = "/api/v1/applications/"


@pytest.fixture(autouse=True)
def _throttle_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(verified_merchant_with_sales) -> APIClient:
    client = APIClient()
    client.force_authenticate(verified_merchant_with_sales.owner)
    return client


def create(api: APIClient, **body):
    return api.post(
        APPLICATIONS, {"product": "operating-loan", "amount": "20000.00", "term": 12, **body}, format="json"
    )


def url(application: LoanApplication, action: str = "") -> str:
    return f"{APPLICATIONS}{application.pk}/{action + '/' if action else ''}"


# Creating and submitting.


def test_applying_makes_a_draft_with_amounts_as_strings(api, loan_products):
    response = create(api, repayment_method="equal_principal")

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "draft"
    assert body["product"] == "operating-loan"
    assert body["amount"] == "20000.00"
    assert (body["term"], body["term_unit"], body["repayment_method"]) == (12, "months", "equal_principal")
    assert body["offer"] is None
    assert body["decision"] is None
    assert LoanApplication.objects.get(pk=body["id"]).state == "draft"


def test_terms_the_product_refuses_are_named_in_fields(api, loan_products):
    response = create(api, amount="900000", term="30")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["fields"]["amount"] == [
        "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places."
    ]
    assert body["fields"]["term"] == ["Allowed terms are from 3 to 24 months."]
    assert not LoanApplication.objects.exists()


def test_an_unknown_product_is_named_with_the_products_on_offer(api, loan_products):
    response = create(api, product="payday")

    assert response.status_code == 400
    assert response.json()["fields"]["product"][0].startswith("Unknown product “payday”. Offered products:")


def test_server_owned_fields_in_the_request_are_ignored(api, loan_products):
    response = create(api, state="approved", offer_amount="500000.00", merchant=999)

    assert response.status_code == 201
    application = LoanApplication.objects.get(pk=response.json()["id"])
    assert (application.state, application.offer_amount) == ("draft", None)


def test_submitting_answers_with_the_decision_and_the_offer(api, loan_products, decisions_approve):
    draft = create(api).json()

    response = api.post(f"{APPLICATIONS}{draft['id']}/submit/")

    assert response.status_code == 200
    body = response.json()
    application = LoanApplication.objects.get(pk=draft["id"])
    assert body["state"] == "approved"
    decision = body["decision"]
    assert decision["outcome"] == "approve"
    assert decision["grade"] == application.offer_grade
    assert decision["apr"] == f"{application.offer_apr:.2f}"
    assert decision["credit_line"] == f"{application.decision.credit_line:.2f}"
    assert isinstance(decision["reasons"], list)
    offer = body["offer"]
    assert offer["amount"] == "20000.00"
    assert offer["apr"] == decision["apr"]
    assert len(offer["schedule"]) == 12
    assert offer["expires_at"]


def test_a_declined_submission_lists_the_reasons_and_hints(api, loan_products, decisions_decline):
    draft = create(api).json()

    body = api.post(f"{APPLICATIONS}{draft['id']}/submit/").json()

    assert body["state"] == "declined"
    assert body["decision"]["outcome"] == "decline"
    assert body["decision"]["apr"] is None
    kinds = {reason["kind"] for reason in body["decline_reasons"]}
    assert "hint" in kinds
    assert all(reason["message"] for reason in body["decline_reasons"])


def test_submitting_what_is_not_a_draft_is_a_conflict(api, approved_application):
    response = api.post(url(approved_application, "submit"))

    assert response.status_code == 409
    assert response.json() == {"code": "wrong_state", "message": "Only a draft can be submitted.", "fields": {}}


def test_applying_with_submit_answers_with_the_decision_in_one_request(api, loan_products, decisions_approve):
    response = create(api, submit=True)

    assert response.status_code == 201
    body = response.json()
    application = LoanApplication.objects.get()
    assert body["id"] == application.pk
    assert (body["state"], application.state) == ("approved", "approved")
    assert body["decision"]["outcome"] == "approve"
    assert body["offer"]["amount"] == "20000.00"
    assert body["offer"]["apr"] == f"{application.offer_apr:.2f}"
    assert len(body["offer"]["schedule"]) == 12
    actions = list(
        AuditEvent.objects.filter(object_id=str(application.pk), action__startswith="application.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["application.create", "application.submit", "application.approve"]


def test_applying_with_submit_false_makes_a_draft(api, loan_products, decisions_approve):
    response = create(api, submit=False)

    assert response.status_code == 201
    assert response.json()["state"] == "draft"
    assert response.json()["decision"] is None


def test_applying_with_submit_declined_lists_the_reasons(api, loan_products, decisions_decline):
    body = create(api, submit=True).json()

    assert body["state"] == "declined"
    assert body["decision"]["outcome"] == "decline"
    assert {reason["kind"] for reason in body["decline_reasons"]} >= {"hint"}


@pytest.mark.parametrize("flag", ["maybe", "yes", "true", "1", 1])
def test_a_submit_flag_that_is_not_a_json_boolean_is_refused_and_decides_nothing(
    api, loan_products, decisions_approve, flag
):
    response = create(api, submit=flag)

    assert response.status_code == 400
    assert response.json()["fields"]["submit"] == ["Must be true or false: a JSON boolean, not text or a number."]
    assert not LoanApplication.objects.exists()
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (
            "50,000",
            'Write the amount without thousands separators or spaces, with a dot before the fen, such as "50000.00".',
        ),
        (
            "50 000.00",
            'Write the amount without thousands separators or spaces, with a dot before the fen, such as "50000.00".',
        ),
        (
            "50000,00",
            'Write the amount without thousands separators or spaces, with a dot before the fen, such as "50000.00".',
        ),
        (50000, 'Send the amount as a string, such as "50000.00": a JSON number can lose digits on the way.'),
    ],
)
def test_an_amount_that_is_not_a_decimal_string_with_a_dot_is_refused_naming_the_field(
    api, loan_products, decisions_approve, amount, message
):
    response = create(api, amount=amount, submit=True)

    assert response.status_code == 400
    assert response.json()["fields"] == {"amount": [message]}
    assert not LoanApplication.objects.exists()


def test_applying_with_submit_refused_terms_write_nothing(api, loan_products, decisions_approve):
    response = create(api, amount="900000", submit=True)

    assert response.status_code == 400
    assert "amount" in response.json()["fields"]
    assert not LoanApplication.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="application.").exists()


def test_applying_with_submit_leaves_no_draft_when_the_decision_fails(api, loan_products, decisions_approve):
    with (
        mock.patch("lending.origination.services.applications.decision_make", side_effect=RuntimeError("engine down")),
        pytest.raises(RuntimeError),
    ):
        create(api, submit=True)

    assert not LoanApplication.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="application.").exists()


def test_applying_with_submit_counts_the_application_in_progress(api, loan_products, decisions_approve):
    assert create(api, submit=True).json()["state"] == "approved"

    response = create(api, submit=True)

    # A business rule, not a field to correct: 409 with the rule's code.
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_open_applications"
    assert response.json()["fields"] == {}
    assert "You already have an application in progress" in response.json()["message"]
    assert LoanApplication.objects.count() == 1


def test_a_retried_apply_and_submit_with_the_same_key_decides_once(api, loan_products, decisions_approve):
    body = {"product": "operating-loan", "amount": "20000", "term": 12, "submit": True}
    first = api.post(APPLICATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="apply-submit-1")
    second = api.post(APPLICATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="apply-submit-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert LoanApplication.objects.count() == 1
    assert Decision.objects.count() == 1


@pytest.mark.parametrize("scorecard", ["decisions_approve", "decisions_decline", "decisions_refer"])
def test_the_shared_serializer_answers_as_a_fresh_one_would(request, api, loan_products, scorecard):
    request.getfixturevalue(scorecard)
    created = create(api, submit=True).json()
    application = LoanApplication.objects.select_related("product", "decision").get(pk=created["id"])

    fresh = ApplicationSerializer(application).data

    assert created == json.loads(json.dumps(fresh))
    assert api.get(url(application)).json() == created


# Accepting and withdrawing.


def test_accepting_an_offer(api, approved_application, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(url(approved_application, "accept"))

    assert response.status_code == 200
    assert response.json()["state"] == "accepted"


def test_accepting_an_expired_offer_is_a_conflict_that_says_so(api, approved_application):
    LoanApplication.objects.filter(pk=approved_application.pk).update(
        offer_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    response = api.post(url(approved_application, "accept"))

    assert response.status_code == 409
    assert response.json()["code"] == "offer_expired"
    assert response.json()["message"].startswith("This offer expired on")
    assert api.get(url(approved_application)).json()["state"] == "expired"


def test_withdrawing_with_a_reason(api, approved_application):
    response = api.post(url(approved_application, "withdraw"), {"reason": "Found other funding"}, format="json")

    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    assert response.json()["closed_at"]


def test_withdrawing_a_declined_application_is_a_conflict(api, declined_application):
    response = api.post(url(declined_application, "withdraw"))

    assert response.status_code == 409
    assert "this one is Declined" in response.json()["message"]


# Reading.


def test_the_list_holds_only_the_merchants_own_applications_in_cursor_pages(
    api, approved_application, other_verified_merchant_with_sales, loan_products
):
    theirs = apply_for(other_verified_merchant_with_sales, loan_products["operating-loan"])

    body = api.get(APPLICATIONS).json()

    assert [row["id"] for row in body["results"]] == [approved_application.pk]
    assert theirs.pk not in [row["id"] for row in body["results"]]
    assert set(body) >= {"next", "previous", "results"}


def test_one_application_with_its_offer(api, approved_application):
    response = api.get(url(approved_application))

    assert response.status_code == 200
    assert response.json()["offer"]["apr"] == f"{approved_application.offer_apr:.2f}"


def test_another_merchants_application_is_not_found(approved_application, other_verified_merchant_with_sales):
    outsider = APIClient()
    outsider.force_authenticate(other_verified_merchant_with_sales.owner)

    for response in (
        outsider.get(url(approved_application)),
        outsider.post(url(approved_application, "submit")),
        outsider.post(url(approved_application, "accept")),
        outsider.post(url(approved_application, "withdraw")),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    approved_application.refresh_from_db()
    assert approved_application.state == "approved"


@pytest.mark.parametrize("persona", ["partner_user", "loan_officer"])
def test_partners_and_officers_have_no_applications(request, persona, approved_application):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(persona))

    assert client.get(APPLICATIONS).status_code == 403
    assert client.post(APPLICATIONS, {"product": "operating-loan", "amount": "20000", "term": 12}).status_code == 403
    assert client.get(url(approved_application)).status_code == 403
    assert client.post(url(approved_application, "accept")).status_code == 403


def test_anonymous_clients_must_authenticate(approved_application):
    client = APIClient()

    assert client.get(APPLICATIONS).status_code == 401
    assert client.post(url(approved_application, "submit")).status_code == 401


def test_the_list_filters_by_product_and_by_the_day_applications_were_made(api, loan_products):
    older = create(api).json()["id"]
    newer = create(api, product="instalment-loan", amount="5000", term=6).json()["id"]
    made = timezone.make_aware(datetime.datetime(2026, 3, 1, 23, 30))  # 1 March in the portal's time zone
    LoanApplication.objects.filter(pk=older).update(created_at=made)

    def ids(**params):
        return [row["id"] for row in api.get(APPLICATIONS, params).json()["results"]]

    assert ids(created_to="2026-03-01") == [older]
    assert ids(created_from="2026-03-02") == [newer]
    assert ids(product="instalment-loan") == [newer]
    refused = api.get(APPLICATIONS, {"created_from": "1 March"})
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["created_from"]


# Conventions: idempotency and throttling.


def test_a_retried_create_with_the_same_key_makes_one_application(api, loan_products):
    first = api.post(
        APPLICATIONS,
        {"product": "operating-loan", "amount": "20000", "term": 12},
        format="json",
        HTTP_IDEMPOTENCY_KEY="apply-1",
    )
    second = api.post(
        APPLICATIONS,
        {"product": "operating-loan", "amount": "20000", "term": 12},
        format="json",
        HTTP_IDEMPOTENCY_KEY="apply-1",
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert LoanApplication.objects.count() == 1


def test_applying_is_limited_per_user(api, loan_products, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "applications": "2/hour"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        answers = [create(api).status_code for _ in range(3)]
        listed = api.get(APPLICATIONS).status_code

    assert answers == [201, 201, 429]
    assert listed == 200  # reading is not limited
