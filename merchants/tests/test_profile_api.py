"""GET and PATCH /api/v1/merchant/: the requesting merchant's own profile."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from merchants.choices import KycState
from merchants.models import Merchant
from merchants.services.kyc import kyc_submit
from merchants.tests.files.samples import add_required_documents

URL = "/api/v1/merchant/"


@pytest.fixture
def api(merchant_owner, merchant):
    client = APIClient()
    client.force_authenticate(merchant_owner)
    return client


def test_owner_reads_own_profile_with_the_id_number_masked(api, merchant):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == merchant.pk
    assert body["owner"] == "owner@shop-a.example"
    assert body["legal_name"] == "杭州甲商贸有限公司"
    assert body["legal_rep_id_number"] == merchant.masked_id_number
    assert merchant.legal_rep_id_number not in response.content.decode()
    assert (body["kyc_state"], body["kyc_state_label"]) == ("draft", "Draft")
    assert body["missing_documents"] == ["Business licence", "ID card, front", "ID card, back"]


def test_token_authentication_works(merchant_owner, merchant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=merchant_owner).key}")
    assert client.get(URL).json()["id"] == merchant.pk


def test_patch_changes_profile_fields_and_ignores_server_owned_ones(api, merchant):
    response = api.patch(
        URL, {"city": "杭州", "credit_code": "91330100799655058b", "kyc_state": "verified", "owner": 99}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["city"], body["credit_code"], body["kyc_state"]) == ("杭州", "91330100799655058B", "draft")
    stored = Merchant.objects.get(pk=merchant.pk)
    assert (stored.city, stored.kyc_state, stored.owner_id) == ("杭州", KycState.DRAFT, merchant.owner_id)


def test_patch_with_a_mistyped_code_is_400_with_the_field_error(api, merchant):
    response = api.patch(URL, {"credit_code": "91330100799655058C"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "credit_code": ["The check character does not match: the last character should be B, not C."]
    }
    assert Merchant.objects.get(pk=merchant.pk).credit_code == merchant.credit_code


def test_patch_with_an_unknown_industry_is_400(api):
    response = api.patch(URL, {"industry": "X0000"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"industry": ['"X0000" is not a valid choice.']}


def test_patch_of_a_submitted_profile_is_409(api, merchant, merchant_owner):
    add_required_documents(merchant)
    kyc_submit(merchant=merchant, by=merchant_owner)
    response = api.patch(URL, {"city": "杭州"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["message"]) == ("locked", "The profile cannot be changed while its KYC is Submitted.")


def test_anonymous_is_401(db):
    assert APIClient().get(URL).status_code == 401


def test_officer_has_no_merchant_profile(loan_officer):
    client = APIClient()
    client.force_authenticate(loan_officer)
    assert client.get(URL).status_code == 403
    assert not Merchant.objects.filter(owner=loan_officer).exists()


def test_schema_documents_the_operation(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    operations = schema["paths"]["/api/v1/merchant/"]
    assert operations["get"]["summary"] == "Get my business profile"
    assert operations["patch"]["summary"] == "Change my business profile"
    assert "kyc_state" not in schema["components"]["schemas"]["PatchedMerchantProfileInputRequest"]["properties"]
