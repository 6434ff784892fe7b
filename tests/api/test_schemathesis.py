"""Schemathesis against our own OpenAPI document, in-process through WSGI, on the real PostgreSQL test database.

For every operation, generated requests never get a server error, and every answer — status, content type,
headers, body — is one the schema describes. Requests are generated both valid and deliberately invalid (wrong
types, out-of-range numbers, NUL characters in strings, query parameters and path segments), and sent as a
merchant owner and as a partner bank, each with its own token: every operation is tried by both personas.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from partners.tests.factories_api import FundingPartnerFactory, co_funded_loan, offer_to

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db):
    # Django closes "old" connections when a request starts and finishes; inside the test's transaction that
    # would drop the connection and everything the test set up. Django's own test client pauses them the same way.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", WSGIHandler())
        # Both kinds of request, and NUL characters allowed in generated strings (they are what an attacker sends).
        schema.config.generation.update(modes=list(GenerationMode), allow_x00=True)
        yield schema
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def partner_bank(partner_user):
    """The partner persona as a funding partner with an open offer and a co-funded loan (the partner API's rows)."""
    partner = FundingPartnerFactory(code="bank-x", api_user=partner_user)
    offer_to(partner)
    co_funded_loan(partner)
    return partner


HYPOTHESIS_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)


def call_as(case, user) -> None:
    # A fresh token each time: the revoke operation is among those tried.
    token, _created = Token.objects.get_or_create(user=user)
    case.call_and_validate(
        headers={"Authorization": f"Token {token.key}"},
        checks=CHECKS,
        # A real WSGI server always sets the peer address; the sign-in rate limits key on it.
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


@pytest.mark.postgres
@schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_no_server_errors_and_every_answer_matches_the_schema(case, merchant):
    call_as(case, merchant.owner)


@pytest.mark.postgres
@schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_as_a_partner_bank_no_server_errors_and_every_answer_matches_the_schema(case, partner_bank):
    call_as(case, partner_bank.api_user)
