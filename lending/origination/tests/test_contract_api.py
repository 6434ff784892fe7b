"""The contract over the API: the PDF of one's own application, and signing it with the password."""

import hashlib
from unittest import mock

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.contracts import PASSWORD_ATTEMPTS, contract_create_for
from lending.origination.tests.factories import prepared_contract

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def contract(accepted_application, django_capture_on_commit_callbacks) -> Contract:
    return prepared_contract(accepted_application, django_capture_on_commit_callbacks)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def contract_path(application_id: int) -> str:
    return f"/api/v1/applications/{application_id}/contract/"


def sign_path(application_id: int) -> str:
    return f"/api/v1/applications/{application_id}/sign/"


def sign(api: APIClient, application_id: int, **body):
    body = {"password": DEFAULT_PASSWORD, "consent": True, **body}
    return api.post(sign_path(application_id), body, format="json", HTTP_USER_AGENT="merchant-app/2.1")


# The PDF.


def test_owner_downloads_the_contract_pdf(contract):
    response = api_as(contract.application.merchant.owner).get(contract_path(contract.application_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert hashlib.sha256(response.content).hexdigest() == contract.sha256


def test_owner_asking_for_a_pdf_explicitly_gets_it(contract):
    api = api_as(contract.application.merchant.owner)
    response = api.get(contract_path(contract.application_id), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")


def test_an_application_without_a_contract_has_no_pdf(approved_application):
    response = api_as(approved_application.merchant.owner).get(contract_path(approved_application.pk))
    assert response.status_code == 404
    assert response.json()["code"] == "no_contract"


def test_another_merchants_contract_is_not_found(contract, other_merchant_owner, other_merchant):
    response = api_as(other_merchant_owner).get(contract_path(contract.application_id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_contract_still_being_prepared_answers_409_in_json_even_to_a_pdf_client(
    accepted_application, django_capture_on_commit_callbacks
):
    api = api_as(accepted_application.merchant.owner)
    before = api.get(contract_path(accepted_application.pk), HTTP_ACCEPT="application/pdf")
    with django_capture_on_commit_callbacks(execute=False):
        contract_create_for(application_id=accepted_application.pk)
    rendering = api.get(contract_path(accepted_application.pk))

    for response in (before, rendering):
        assert response.status_code == 409
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "contract_not_ready"
        assert "being prepared" in response.json()["message"]


def test_anonymous_clients_must_authenticate(contract):
    assert APIClient().get(contract_path(contract.application_id)).status_code == 401
    assert APIClient().post(sign_path(contract.application_id), {}, format="json").status_code == 401


def test_officers_and_partners_are_refused_the_merchants_endpoints(contract, loan_officer, partner_user):
    for user in (loan_officer, partner_user):
        assert api_as(user).get(contract_path(contract.application_id)).status_code == 403
        assert sign(api_as(user), contract.application_id).status_code == 403


# Signing.


def test_signing_with_password_and_consent_answers_the_signed_application(contract):
    response = sign(api_as(contract.application.merchant.owner), contract.application_id)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == contract.application_id
    assert body["state"] == "signed"
    assert body["signed_at"] is not None
    assert body["offer"]["amount"] == "20000.00"
    assert body["contract"]["version"] == 1
    assert body["contract"]["status"] == "signed"
    assert body["contract"]["sha256"] == contract.sha256
    assert body["contract"]["document_id"] == str(contract.document_id)
    assert "password" not in body
    signed = Contract.objects.get(pk=contract.pk)
    assert (signed.reauthenticated_with, signed.signer_user_agent, signed.signer_ip) == (
        "password",
        "merchant-app/2.1",
        "127.0.0.1",
    )


def test_a_wrong_password_answers_400_naming_the_password(contract):
    response = sign(api_as(contract.application.merchant.owner), contract.application_id, password="wrong")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["password"]
    assert "The password is not correct" in response.json()["fields"]["password"][0]
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_too_many_wrong_passwords_answer_429_with_retry_after(contract):
    api = api_as(contract.application.merchant.owner)
    for _attempt in range(PASSWORD_ATTEMPTS):
        sign(api, contract.application_id, password="wrong")

    response = sign(api, contract.application_id)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many wrong passwords" in response.json()["message"]


def test_missing_consent_answers_400_naming_consent(contract):
    api = api_as(contract.application.merchant.owner)

    refused = sign(api, contract.application_id, consent=False)
    missing = api.post(sign_path(contract.application_id), {"password": DEFAULT_PASSWORD}, format="json")

    assert refused.status_code == 400
    assert refused.json()["fields"] == {"consent": ["You must agree to the contract terms"]}
    assert missing.status_code == 400
    assert list(missing.json()["fields"]) == ["consent"]
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_signing_another_merchants_contract_is_not_found(contract, other_merchant_owner, other_merchant):
    response = sign(api_as(other_merchant_owner), contract.application_id)

    assert response.status_code == 404
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_signing_twice_answers_409(contract):
    api = api_as(contract.application.merchant.owner)
    assert sign(api, contract.application_id).status_code == 200

    again = sign(api, contract.application_id)

    assert again.status_code == 409
    assert again.json()["code"] == "already_signed"


def test_signing_before_the_offer_is_accepted_answers_409(approved_application):
    response = sign(api_as(approved_application.merchant.owner), approved_application.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "no_contract"
    assert response.json()["message"] == "There is no contract for this application: it is Approved."
    assert LoanApplication.objects.get(pk=approved_application.pk).state == ApplicationState.APPROVED


def test_a_retried_signature_with_the_same_idempotency_key_replays_the_first_answer(
    contract, django_capture_on_commit_callbacks
):
    api = api_as(contract.application.merchant.owner)
    headers = {"HTTP_IDEMPOTENCY_KEY": "sign-3f1c"}
    with (
        mock.patch("lending.origination.tasks.application_fund_task.delay") as fund,
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = api.post(
            sign_path(contract.application_id),
            {"password": DEFAULT_PASSWORD, "consent": True},
            format="json",
            **headers,
        )
        retry = api.post(
            sign_path(contract.application_id),
            {"password": DEFAULT_PASSWORD, "consent": True},
            format="json",
            **headers,
        )

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert fund.call_count == 1


# The schema.


def test_schema_documents_the_pdf_as_binary_and_the_sign_body():
    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    download = schema["paths"]["/api/v1/applications/{id}/contract/"]["get"]
    signing = schema["paths"]["/api/v1/applications/{id}/sign/"]["post"]

    assert download["responses"]["200"]["content"]["application/pdf"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert "409" in download["responses"]
    body = signing["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"password", "consent"}
    assert any(parameter["name"] == "Idempotency-Key" for parameter in signing["parameters"])
