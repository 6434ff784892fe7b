"""Malformed input of any shape answers 400 in the API's error shape, never 500: deep nesting, NUL characters,
huge numbers, wrong content types. Against the real endpoints, including the unauthenticated token endpoint."""

import pytest
from rest_framework.test import APIClient

from lending.catalogue.tests.factories import LoanProductFactory

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "Null characters are not allowed."


def deep_json(levels: int) -> str:
    return '{"product": ' + "[" * levels + "]" * levels + "}"


@pytest.fixture
def owner_client(merchant):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(merchant.owner)
    return client


@pytest.fixture
def anonymous():
    return APIClient(raise_request_exception=False)


@pytest.fixture
def product(db):
    return LoanProductFactory(code="operating-loan")


def assert_error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    return body


@pytest.mark.parametrize("url", ["/api/v1/auth/token/", "/api/v1/applications/", "/api/v1/quotes/"])
def test_json_nested_5000_levels_deep_is_a_400(owner_client, url):
    response = owner_client.post(url, deep_json(5000), content_type="application/json", REMOTE_ADDR="203.0.113.5")

    body = assert_error(response)
    assert body["code"] == "parse_error"
    assert body["message"] == "The JSON is nested too deeply (more than 32 levels)."


def test_deep_json_on_the_unauthenticated_token_endpoint_is_a_400(anonymous):
    response = anonymous.post(
        "/api/v1/auth/token/", deep_json(5000), content_type="application/json", REMOTE_ADDR="203.0.113.6"
    )

    assert assert_error(response)["code"] == "parse_error"


def test_a_nul_character_in_a_product_code_in_the_body_names_the_field(owner_client, product):
    response = owner_client.post(
        "/api/v1/applications/", {"product": "operating\x00-loan", "amount": "10000.00", "term": 6}, format="json"
    )

    body = assert_error(response)
    assert body["code"] == "validation_error"
    assert body["fields"] == {"product": [NUL_MESSAGE]}


def test_a_nul_character_in_a_nested_key_names_where_it_is(anonymous):
    response = anonymous.post(
        "/api/v1/auth/token/", '{"email": {"a\\u0000": 1}}', content_type="application/json", REMOTE_ADDR="203.0.113.7"
    )

    assert assert_error(response)["fields"] == {"email": [NUL_MESSAGE]}


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/applications/?product=operating%00-loan", "product"),
        ("/api/v1/loans/?state=active%00", "state"),
        ("/api/v1/sales/?from=2026-01-01%00", "from"),
        ("/api/v1/products/?kind%00=x", "kind\x00"),
    ],
)
def test_a_nul_character_in_a_query_parameter_names_the_parameter(owner_client, product, url, field):
    response = owner_client.get(url)

    body = assert_error(response)
    assert body["code"] == "validation_error"
    assert body["fields"] == {field: [NUL_MESSAGE]}


def test_a_nul_character_in_the_path_is_a_400(owner_client, product):
    response = owner_client.get("/api/v1/products/operating%00-loan/")

    body = assert_error(response)
    assert body["message"] == "The address contains a NUL character."


def test_a_nul_character_in_a_web_page_query_is_a_plain_400(client):
    response = client.get("/loans/calculator/?product=operating%00-loan")

    assert response.status_code == 400
    assert response.content.decode() == "Some fields are not valid: product."


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"product": "operating-loan", "amount": "10000.00", "term": 1' + "0" * 40 + "}", "term"),
        ('{"product": "operating-loan", "amount": 1' + "0" * 40 + ', "term": 6}', "amount"),
        ('{"product": "operating-loan", "amount": "10000.00", "term": -1' + "0" * 30 + "}", "term"),
    ],
)
def test_a_number_too_large_for_any_field_names_the_field(owner_client, product, payload, field):
    response = owner_client.post("/api/v1/applications/", payload, content_type="application/json")

    body = assert_error(response)
    assert body["code"] == "validation_error"
    assert field in body["fields"]


def test_a_number_with_thousands_of_digits_is_a_400(owner_client, product):
    payload = '{"product": "operating-loan", "amount": "10000.00", "term": ' + "9" * 5000 + "}"

    response = owner_client.post("/api/v1/applications/", payload, content_type="application/json")

    assert assert_error(response)["code"] == "parse_error"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(owner_client, product, constant):
    payload = '{"product": "operating-loan", "amount": ' + constant + ', "term": 6}'

    response = owner_client.post("/api/v1/applications/", payload, content_type="application/json")

    body = assert_error(response)
    assert body["code"] == "parse_error"
    assert constant in body["message"]


def test_an_unknown_charset_is_read_as_utf8_and_the_fields_checked(anonymous):
    response = anonymous.post(
        "/api/v1/auth/token/",
        b'{"email": "a@b.example", "password": "x"}',
        content_type="application/json; charset=x-no-such-charset",
        REMOTE_ADDR="203.0.113.8",
    )

    # Read and checked: the fields are well formed, and the credentials are refused.
    assert assert_error(response, status=401)["code"] == "invalid_credentials"


def test_bytes_that_are_not_utf8_are_a_400(anonymous):
    response = anonymous.post(
        "/api/v1/auth/token/", b'{"email": "\xff\xfe"}', content_type="application/json", REMOTE_ADDR="203.0.113.9"
    )

    assert assert_error(response)["code"] == "parse_error"


def test_a_content_type_the_api_does_not_read_is_a_415_in_the_error_shape(owner_client, product):
    response = owner_client.post("/api/v1/applications/", "product=x", content_type="text/plain")

    body = assert_error(response, status=415)
    assert body["code"] == "unsupported_media_type"
    assert body["message"] == 'Unsupported media type "text/plain" in request.'


def test_a_multipart_body_without_a_boundary_is_a_400(owner_client, product):
    response = owner_client.post("/api/v1/applications/", b"--x\r\n", content_type="multipart/form-data")

    assert assert_error(response)["code"] == "parse_error"
