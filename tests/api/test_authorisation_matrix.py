"""Who may call what: every operation of the OpenAPI schema by nine personas, with the answer each must get.

The platform feed's token is a system credential scoped to one operation, sending settlement sales: everywhere
else it is refused (403), even on the public operations, so a leaked feed token opens nothing else. The payment
rail has no account at all: it signs its callbacks with the shared secret, which opens the callback and nothing
else (everywhere else it is as anonymous as any client without a token).

The table is the API's authorisation policy in one place. An operation that appears in the schema without a
row here fails the suite, so every new endpoint has to state who may call it. Beyond the status code, every
call proves that the answer carries nothing of another persona's data and that nobody else's rows changed.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lending.origination.models import LoanApplication
from lending.servicing.models import Loan
from lending.servicing.services.rails import rail_signed_headers
from merchants.models import Merchant, SalesDay
from partners.models import LoanShare, PartnerOffer, PartnerSettlement
from tests.api.conftest import DEFAULT_PASSWORD, PERSONAS, PRODUCT_CODE, Persona, schema_operations

Personas = dict[str, Persona]


@dataclass(frozen=True)
class Row:
    """One operation's expected answers, and how to make a request that would succeed for its owner."""

    expect: dict[str, int]
    body: Callable[[Personas, Persona], dict | None] = lambda personas, me: None
    path_params: Callable[[Personas, Persona], dict] = lambda personas, me: {}
    # The answer must contain the caller's own data (so a 200 is about the caller, not an empty page).
    shows_own: bool = False
    # Personas whose data a caller may legitimately see (an officer reviewing a merchant, later).
    may_see: dict[str, set[str]] = field(default_factory=dict)
    # Personas whose data a caller may legitimately change (the platform feed writes a merchant's sales).
    may_change: dict[str, set[str]] = field(default_factory=dict)
    headers: Callable[[Personas, Persona], dict] = lambda personas, me: {}


def _everyone(status: int, *, anonymous: int, platform_feed: int = 403, partners: int = 403) -> dict[str, int]:
    # The platform feed's token answers only on its own operation, and a partner's only under /api/v1/partner/
    # (and on revoking itself); the few operations that read no credentials at all (the token exchange, the
    # calculator's quotes) treat them as the anonymous clients they then are. The rail sends no token: it is
    # anonymous here.
    return {
        **dict.fromkeys(PERSONAS, status),
        "anonymous": anonymous,
        "rail_callback": anonymous,
        "platform_feed": platform_feed,
        "partner_x": partners,
        "partner_y": partners,
        "insurer": partners,
    }


def _merchants_only(status: int) -> dict[str, int]:
    return {
        "merchant_a": status,
        "merchant_b": status,
        "partner_x": 403,
        "partner_y": 403,
        "insurer": 403,
        "officer": 403,
        "platform_feed": 403,
        "rail_callback": 401,
        "anonymous": 401,
    }


def _staff_only(status: int) -> dict[str, int]:
    return {
        "merchant_a": 403,
        "merchant_b": 403,
        "partner_x": 403,
        "partner_y": 403,
        "insurer": 403,
        "officer": status,
        "platform_feed": 403,
        "rail_callback": 401,
        "anonymous": 401,
    }


def _insurers_only(status: int) -> dict[str, int]:
    # Claims are insurers' alone: a partner bank's account is refused like everyone else's (403), never shown one.
    return {**dict.fromkeys(PERSONAS, 403), "insurer": status, "rail_callback": 401, "anonymous": 401}


def _insurer_claim(personas: Personas, me: Persona) -> dict:
    from partners.models import InsuranceClaim

    return {"id": InsuranceClaim.objects.get(cover__insurer__api_user=personas["insurer"].user).pk}


def _rail_callback(personas: Personas, me: Persona) -> dict:
    # A well-formed confirmation naming a collection no persona has: the rail is heard (404), everyone else is not.
    return {
        "idempotency_key": "00000000-0000-4000-8000-000000000000",
        "reference": "COL-MATRIX",
        "status": "confirmed",
        "amount": "100.00",
    }


def _feed_batch(personas: Personas, me: Persona) -> dict:
    return {
        "batch_id": "settlement-2025-02-01",
        "merchant_credit_code": personas["merchant_a"].merchant.credit_code,
        **_one_sales_day(personas, me),
    }


def _one_sales_day(personas: Personas, me: Persona) -> dict:
    day = {
        "date": "2025-02-01",
        "gross_sales": "1500.00",
        "refunds": "0.00",
        "transaction_count": "12",
        "distinct_customers": "9",
    }
    return {"days": [day]}


def _own_application(personas: Personas, me: Persona) -> dict:
    return {"id": (me.application or personas["merchant_a"].application).pk}


# A draft submitted by a merchant that has not passed KYC is decided at once (declined by the KYC rule).
SUBMIT_STATUS = 200


def _partners_only(status: int) -> dict[str, int]:
    return {
        "merchant_a": 403,
        "merchant_b": 403,
        "partner_x": status,
        "partner_y": status,
        "insurer": 403,
        "officer": 403,
        "platform_feed": 403,
        "rail_callback": 401,
        "anonymous": 401,
    }


def _own_offer(personas: Personas, me: Persona) -> dict:
    # A partner names its own offer; everyone else is pointed at partner X's.
    return {"id": (me.offer or personas["partner_x"].offer).pk}


def _own_loan(personas: Personas, me: Persona) -> dict:
    return {"id": (me.loan or personas["partner_x"].loan).pk}


def _own_settlement(personas: Personas, me: Persona) -> dict:
    return {"id": (me.settlement or personas["partner_x"].settlement).pk}


MATRIX: dict[str, Row] = {
    "auth_token_create": Row(
        # Everyone with an account may exchange its own password for a token; anonymous sends no account.
        expect=_everyone(200, anonymous=401, platform_feed=401, partners=200),  # the feed has no password
        body=lambda personas, me: {"email": me.email or "nobody@example.com", "password": DEFAULT_PASSWORD},
    ),
    "auth_token_revoke_destroy": Row(expect=_everyone(204, anonymous=401, partners=204)),
    "merchant_retrieve": Row(expect=_merchants_only(200), shows_own=True),
    "merchant_partial_update": Row(
        expect=_merchants_only(200), body=lambda personas, me: {"city": "宁波"}, shows_own=True
    ),
    "sales_list": Row(expect=_merchants_only(200), shows_own=True),
    "sales_create": Row(expect=_merchants_only(201), body=_one_sales_day),
    # Only the platform's feed writes platform rows (here: merchant A's credit file, which it may change).
    "platform_sales_feed": Row(
        expect={**dict.fromkeys(PERSONAS, 403), "platform_feed": 201, "rail_callback": 401, "anonymous": 401},
        body=_feed_batch,
        headers=lambda personas, me: {"Idempotency-Key": f"matrix-{me.name}"},
        may_see={"platform_feed": {"merchant_a"}},
        may_change={"platform_feed": {"merchant_a"}},
    ),
    # The public loan calculator: the catalogue and indicative quotes, for anyone; a quote creates nothing.
    "products_list": Row(expect=_everyone(200, anonymous=200)),
    "products_retrieve": Row(
        expect=_everyone(200, anonymous=200), path_params=lambda personas, me: {"code": PRODUCT_CODE}
    ),
    "quotes_create": Row(
        expect=_everyone(200, anonymous=200, platform_feed=200, partners=200),
        body=lambda personas, me: {"product": PRODUCT_CODE, "amount": "50000.00", "term": 12},
    ),
    # Applications: a merchant reaches only its own; the path names the caller's own application (partners,
    # officers and anonymous clients are pointed at merchant A's). Reaching another merchant's is tested in
    # test_applications_of_another_merchant_are_not_found below.
    "applications_list": Row(expect=_merchants_only(200), shows_own=True),
    "applications_create": Row(
        # The matrix merchants have not passed KYC: the rule refuses it (409, with its code), and nothing is made.
        expect=_merchants_only(409),
        body=lambda personas, me: {"product": PRODUCT_CODE, "amount": "20000.00", "term": 12},
    ),
    "applications_retrieve": Row(expect=_merchants_only(200), path_params=_own_application, shows_own=True),
    "applications_submit": Row(expect=_merchants_only(SUBMIT_STATUS), path_params=_own_application),
    "applications_accept": Row(expect=_merchants_only(409), path_params=_own_application),
    "applications_withdraw": Row(
        expect=_merchants_only(200), path_params=_own_application, body=lambda personas, me: {"reason": ""}
    ),
    "applications_contract": Row(expect=_merchants_only(404), path_params=_own_application),  # a draft has none
    "applications_sign": Row(
        expect=_merchants_only(409),
        path_params=_own_application,
        body=lambda personas, me: {"password": DEFAULT_PASSWORD, "consent": True},
    ),
    "loans_list": Row(expect=_merchants_only(200)),
    # Repayments: the matrix personas have no loans, so every caller is told "not found" alike.
    "loans_payments_retrieve": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999}
    ),
    # Pay now: a merchant asks for a collection; nobody posts a payment (that operation no longer exists).
    "loans_collections_list": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999}
    ),
    "loans_collections_create": Row(
        expect=_everyone(404, anonymous=401),
        path_params=lambda personas, me: {"id": 999999},
        body=lambda personas, me: {"purpose": "other", "amount": "100.00", "reference": "matrix-1"},
    ),
    "loans_collections_retrieve": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999, "collection_id": 1}
    ),
    # Only the rail's signature opens its callback; a token of any persona counts for nothing there.
    "rails_collections_callback_create": Row(
        expect={**dict.fromkeys(PERSONAS, 401), "rail_callback": 404},
        body=_rail_callback,
    ),
    "loans_payoff_quote_retrieve": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999}
    ),
    "loans_statement_retrieve": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999}
    ),
    "loans_deferral_requests_retrieve": Row(
        expect=_everyone(404, anonymous=401), path_params=lambda personas, me: {"id": 999999}
    ),
    "loans_deferral_requests_create": Row(
        expect=_everyone(404, anonymous=401),
        path_params=lambda personas, me: {"id": 999999},
        body=lambda personas, me: {"instalment": 1, "new_due_date": "2030-01-10", "reason": "matrix"},
    ),
    "loans_retrieve": Row(expect=_merchants_only(404), path_params=lambda personas, me: {"id": 999999}),
    # The nightly runs' progress: staff only (the officer persona); merchants, partners and the feed get 403.
    "jobs_runs_list": Row(expect=_staff_only(200)),
    # Exposure limits' utilisation: risk staff only (officers and risk managers); nobody outside the back office.
    "risk_limits_list": Row(
        expect={
            **dict.fromkeys(PERSONAS, 403),
            "officer": 200,
            "rail_callback": 401,
            "anonymous": 401,
        }
    ),
    # The partner API: each bank reaches only its own offers and loans (another's, or the platform's own loans,
    # are tested in test_partner_objects_of_anyone_else_are_not_found below).
    "partner_offers_list": Row(expect=_partners_only(200), shows_own=True),
    "partner_offers_retrieve": Row(expect=_partners_only(200), path_params=_own_offer, shows_own=True),
    "partner_offers_accept": Row(
        expect=_partners_only(200),
        path_params=_own_offer,
        body=lambda personas, me: {"reference": f"matrix-{me.name}"},
        shows_own=True,
    ),
    "partner_offers_decline": Row(
        expect=_partners_only(200),
        path_params=_own_offer,
        body=lambda personas, me: {"reference": f"matrix-{me.name}", "reason": "matrix"},
        shows_own=True,
    ),
    "partner_offers_merchant_retrieve": Row(expect=_partners_only(200), path_params=_own_offer),
    "partner_loans_list": Row(expect=_partners_only(200), shows_own=True),
    "partner_loans_retrieve": Row(expect=_partners_only(200), path_params=_own_loan, shows_own=True),
    "partner_distributions_list": Row(expect=_partners_only(200)),
    "partner_settlements_list": Row(expect=_partners_only(200)),
    "partner_settlements_retrieve": Row(expect=_partners_only(200), path_params=_own_settlement),
    "partner_settlements_statement_retrieve": Row(expect=_partners_only(200), path_params=_own_settlement),
    # The insurer's claims (another insurer's claim is tested in partners/tests/test_insurance_api.py).
    "partner_claims_list": Row(expect=_insurers_only(200), shows_own=True),
    "partner_claims_retrieve": Row(expect=_insurers_only(200), path_params=_insurer_claim, shows_own=True),
    "partner_claims_settle_create": Row(
        expect=_insurers_only(200),
        path_params=_insurer_claim,
        body=lambda personas, me: {"amount": "20000.00", "reference": "MATRIX-SETTLE-1"},
        shows_own=True,
    ),
    "partner_claims_reject_create": Row(
        expect=_insurers_only(200),
        path_params=_insurer_claim,
        body=lambda personas, me: {"reason": "matrix", "reference": "MATRIX-REJECT-1"},
        shows_own=True,
    ),
}
# The only operations an anonymous client may call (the schema and docs pages are outside the schema).
ANONYMOUS_MAY_CALL = {"auth_token_create", "products_list", "products_retrieve", "quotes_create"}


def test_every_operation_in_the_schema_has_a_row_in_the_matrix(openapi):
    missing = sorted(set(schema_operations(openapi)) - set(MATRIX))
    assert missing == [], f"Add these operations to MATRIX (who may call them, and what each persona gets): {missing}"


def test_the_matrix_has_no_row_for_an_operation_that_is_gone(openapi):
    assert sorted(set(MATRIX) - set(schema_operations(openapi))) == []


def test_every_row_names_every_persona():
    assert {op_id: sorted(row.expect) for op_id, row in MATRIX.items()} == {op_id: sorted(PERSONAS) for op_id in MATRIX}


def test_anonymous_clients_are_refused_everywhere_but_the_token_endpoint(openapi):
    for op_id, row in MATRIX.items():
        if op_id not in ANONYMOUS_MAY_CALL:
            assert row.expect["anonymous"] in {401, 403}, op_id
    open_in_schema = {
        op_id
        for op_id, (_m, _p, operation) in schema_operations(openapi).items()
        if {} in operation.get("security", [{}])
    }
    assert open_in_schema <= ANONYMOUS_MAY_CALL


@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/docs/"])
def test_anonymous_clients_may_read_the_schema_and_the_docs(db, url):
    assert APIClient().get(url).status_code == 200


def _text(response) -> str:
    if response.get("Content-Type", "").startswith("application/json") and response.content:
        return json.dumps(response.json(), ensure_ascii=False)
    return response.content.decode(errors="replace")


def _state_of(persona: Persona) -> tuple:
    """Everything a persona owns, as plain values: it must not change when someone else calls the API."""
    if persona.user is None:
        return ()
    token = list(Token.objects.filter(user=persona.user).values_list("key", flat=True))
    if persona.partner is not None:
        offers = list(PartnerOffer.objects.filter(partner=persona.partner).order_by("pk").values())
        shares = list(LoanShare.objects.filter(partner=persona.partner).order_by("pk").values())
        loans = list(Loan.objects.filter(shares__partner=persona.partner).order_by("pk").values())
        settlements = list(PartnerSettlement.objects.filter(partner=persona.partner).order_by("pk").values())
        return (token, offers, shares, loans, settlements)
    if persona.merchant is None:
        return (token,)
    merchant = list(Merchant.objects.filter(pk=persona.merchant.pk).values())
    days = list(SalesDay.all_rows.filter(merchant=persona.merchant).order_by("date", "id").values())
    applications = list(LoanApplication.objects.filter(merchant=persona.merchant).order_by("pk").values())
    return (token, merchant, days, applications)


def _call(persona: Persona, personas: Personas, op_id: str, method: str, path: str):
    row = MATRIX[op_id]
    url = path.format(**row.path_params(personas, persona))
    body = row.body(personas, persona)
    client = persona.client()
    payload = json.dumps(body) if body is not None else ""
    headers = row.headers(personas, persona)
    if persona.signs:
        headers = {**headers, **rail_signed_headers(body=payload.encode())}
    return client.generic(method, url, payload, content_type="application/json", headers=headers)


@pytest.mark.parametrize("persona_name", PERSONAS)
@pytest.mark.parametrize("op_id", sorted(MATRIX))
def test_each_persona_gets_its_expected_answer_and_nothing_of_anyone_else(op_id, persona_name, personas, openapi):
    method, path, _operation = schema_operations(openapi)[op_id]
    row = MATRIX[op_id]
    me = personas[persona_name]
    for persona in personas.values():
        persona.client()  # every account holds a token, so a revoked one would show
    changeable = row.may_change.get(persona_name, set())
    others = {name: p for name, p in personas.items() if name != persona_name}
    before = {name: _state_of(p) for name, p in others.items() if name not in changeable}

    response = _call(me, personas, op_id, method, path)

    assert response.status_code == row.expect[persona_name], _text(response)
    text = _text(response)
    allowed = row.may_see.get(persona_name, set())
    for name, other in others.items():
        if name not in allowed:
            leaked = [marker for marker in other.markers if marker in text]
            assert leaked == [], f"{persona_name} was shown {name}'s data: {leaked}"
    if row.shows_own and 200 <= response.status_code < 300:
        assert any(marker in text for marker in me.markers), f"{persona_name} did not get its own data"
    after = {name: _state_of(p) for name, p in others.items() if name not in changeable}
    assert after == before, f"{persona_name} changed someone else's data"


APPLICATION_OPERATIONS = (
    "applications_retrieve",
    "applications_submit",
    "applications_accept",
    "applications_withdraw",
    "applications_contract",
    "applications_sign",
)


@pytest.mark.parametrize("op_id", APPLICATION_OPERATIONS)
def test_applications_of_another_merchant_are_not_found(op_id, personas, openapi):
    """Merchant B naming merchant A's application gets the same 404 as for one that does not exist."""
    method, path, _operation = schema_operations(openapi)[op_id]
    intruder, owner = personas["merchant_b"], personas["merchant_a"]
    before = _state_of(owner)

    response = intruder.client().generic(
        method, path.format(id=owner.application.pk), json.dumps({}), content_type="application/json"
    )

    assert response.status_code == 404, _text(response)
    assert response.json()["code"] == "not_found"
    assert _state_of(owner) == before


# Every partner operation that names an object, with whose objects an intruding bank tries: the other bank's, and
# for loans one the platform funds alone (it was never offered, so it has no offer to name).
PARTNER_OBJECT_CASES = [
    ("partner_offers_retrieve", "other_partner"),
    ("partner_offers_accept", "other_partner"),
    ("partner_offers_decline", "other_partner"),
    ("partner_offers_merchant_retrieve", "other_partner"),
    ("partner_loans_retrieve", "other_partner"),
    ("partner_loans_retrieve", "platform_only"),
    ("partner_settlements_retrieve", "other_partner"),
    ("partner_settlements_statement_retrieve", "other_partner"),
]


def test_every_partner_operation_naming_an_object_is_tried_by_an_intruder(openapi):
    # Insurers' claims are refused to banks outright (403, in the matrix); another insurer's claim is not found
    # (partners/tests/test_insurance_api.py).
    naming = {
        op_id
        for op_id, (_m, path, _o) in schema_operations(openapi).items()
        if "/partner/" in path and "{" in path and "/partner/claims/" not in path
    }
    assert naming == {op_id for op_id, _target in PARTNER_OBJECT_CASES}


@pytest.mark.parametrize("intruder_name", ["partner_x", "partner_y"])
@pytest.mark.parametrize(("op_id", "target"), PARTNER_OBJECT_CASES)
def test_partner_objects_of_anyone_else_are_not_found(
    op_id, target, intruder_name, personas, platform_only_loan, openapi
):
    """A bank naming the other bank's offer or loan, or a loan the platform funds alone, gets the same 404 as for
    one that does not exist, and nothing of it changes."""
    method, path, _operation = schema_operations(openapi)[op_id]
    intruder = personas[intruder_name]
    owner = personas["partner_y" if intruder_name == "partner_x" else "partner_x"]
    if target == "platform_only":
        target_id = platform_only_loan.pk
    else:
        target_id = (
            owner.loan
            if op_id.startswith("partner_loans")
            else owner.settlement
            if op_id.startswith("partner_settlements")
            else owner.offer
        ).pk
    body = json.dumps({"reference": "intruder", "reason": "intruder"})
    before = (_state_of(owner), list(LoanShare.objects.filter(loan=platform_only_loan).values()))

    response = intruder.client().generic(method, path.format(id=target_id), body, content_type="application/json")
    missing = intruder.client().generic(method, path.format(id=999999), body, content_type="application/json")

    assert response.status_code == 404, _text(response)
    assert response.content == missing.content
    assert not any(marker in _text(response) for marker in owner.markers)
    assert (_state_of(owner), list(LoanShare.objects.filter(loan=platform_only_loan).values())) == before
