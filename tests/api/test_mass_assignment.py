"""Fields the server owns (ids, owners, KYC state, timestamps, later states, amounts and APRs) cannot be set
through the API: every writable operation is sent them and must ignore or refuse them."""

import datetime
import json

import pytest
from django.apps import apps
from django.db import models

from lending.servicing.services.rails import rail_signed_headers
from merchants.choices import KycState
from merchants.models import Merchant
from tests.api.conftest import api_conventions, generate_schema, schema_operations
from tests.api.test_authorisation_matrix import MATRIX

WRITE_METHODS = {"POST", "PUT", "PATCH"}
POISON_ID = 987_654
POISON_TEXT = "POISONED-BY-CLIENT"
POISON_DAY = datetime.date(2001, 2, 3)
POISON_TIME = "2001-02-03T04:05:06+08:00"
# Names a request body must never offer: the server decides them. A later operation that truly takes one as
# input (say a partner quoting its own rate) is listed in ALLOWED_INPUT with the reason.
SERVER_OWNED = {
    "id",
    "pk",
    "owner",
    "owner_id",
    "user",
    "user_id",
    "merchant",
    "merchant_id",
    "kyc_state",
    "kyc_rejection_reason",
    "kyc_submitted_at",
    "kyc_reviewed_at",
    "kyc_reviewed_by",
    "created_at",
    "updated_at",
    "imported_at",
    "uploaded_by",
    "uploaded_at",
    "state",
    "status",
    "decision",
    "score",
    "grade",
    "approved_amount",
    "principal_outstanding",
    "apr",
    "interest_rate",
}
ALLOWED_INPUT: dict[str, set[str]] = {
    # The rail reports what became of its own collection: the status is its word, which is the point of the call.
    "rails_collections_callback_create": {"status"},
}
PROJECT_APPS = ("core", "accounts", "merchants", "underwriting", "lending")


def _poison(personas) -> dict:
    other = personas["merchant_b"]
    officer = personas["officer"].user
    return {
        "id": POISON_ID,
        "pk": POISON_ID,
        "owner": other.user.pk,
        "owner_id": other.user.pk,
        "user": other.user.pk,
        "user_id": other.user.pk,
        "merchant": other.merchant.pk,
        "merchant_id": other.merchant.pk,
        "kyc_state": KycState.VERIFIED,
        "kyc_rejection_reason": POISON_TEXT,
        "kyc_submitted_at": POISON_TIME,
        "kyc_reviewed_at": POISON_TIME,
        "kyc_reviewed_by": officer.pk,
        "created_at": POISON_TIME,
        "updated_at": POISON_TIME,
        "imported_at": POISON_TIME,
        "state": "funded",
        "status": "approved",
        "decision": "approve",
        "score": 999,
        "grade": "A",
        "approved_amount": "9999999.00",
        "apr": "0.0001",
        "interest_rate": "0.0001",
    }


def _poisoned(body, poison: dict):
    """``body`` with the poison added to every object in it (the top level and each nested item)."""
    if isinstance(body, dict):
        return {**poison, **{name: _poisoned(value, poison) for name, value in body.items()}}
    if isinstance(body, list):
        return [_poisoned(item, poison) for item in body]
    return body


def _echoed(answer, poison: dict) -> list[str]:
    """Fields of the answered object that carry the value the client tried to force on them.

    Only the object itself is looked at: nested tables (a product's price for every grade) may hold the same
    values for their own reasons.
    """
    objects = answer if isinstance(answer, list) else [answer]
    return [
        name
        for obj in objects
        if isinstance(obj, dict)
        for name, value in obj.items()
        if name in poison and name not in {"id", "pk"} and value == poison[name]
    ]


def _writable_operations(openapi) -> dict:
    return {op_id: op for op_id, op in schema_operations(openapi).items() if op[0] in WRITE_METHODS}


def _properties(schema: dict, openapi: dict, seen: frozenset = frozenset()) -> set[str]:
    """Every property name anywhere in a request schema, following $refs, arrays and compositions."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        return _properties(openapi["components"]["schemas"][name], openapi, seen | {name})
    names = set(schema.get("properties", {}))
    children = list(schema.get("properties", {}).values())
    children += [schema[key] for key in ("items", "additionalProperties") if isinstance(schema.get(key), dict)]
    children += [s for key in ("allOf", "oneOf", "anyOf") for s in schema.get(key, [])]
    for child in children:
        names |= _properties(child, openapi, seen)
    return names


def test_no_request_body_offers_a_field_the_server_owns(openapi):
    offered = {}
    for op_id, (_method, _path, operation) in _writable_operations(openapi).items():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            names = _properties(media["schema"], openapi) & SERVER_OWNED - ALLOWED_INPUT.get(op_id, set())
            if names:
                offered[op_id] = sorted(names)
    assert offered == {}


def _caller(op_id: str) -> str:
    """The persona for whom this operation succeeds, else the one it hears (the rail, whose callback names no
    collection here), else merchant A (where nobody's can, e.g. a state conflict)."""
    expect = MATRIX[op_id].expect
    heard = [name for name, status in expect.items() if status not in (401, 403)]
    return next((name for name in heard if 200 <= expect[name] < 300), heard[0] if heard else "merchant_a")


def _rows_with_poison() -> list[str]:
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        if model.objects.filter(pk=POISON_ID).exists():
            found.append(f"{model.__name__} #{POISON_ID}")
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateTimeField):
                if model.objects.filter(**{f"{field.name}__date": POISON_DAY}).exists():
                    found.append(f"{model.__name__}.{field.name}")
            elif (
                isinstance(field, (models.CharField, models.TextField))
                and not field.choices
                and model.objects.filter(**{field.name: POISON_TEXT}).exists()
            ):
                found.append(f"{model.__name__}.{field.name}")
    return found


def _server_owned_state(merchant: Merchant) -> dict:
    return (
        Merchant.objects.filter(pk=merchant.pk)
        .values(
            "owner_id",
            "kyc_state",
            "kyc_rejection_reason",
            "kyc_submitted_at",
            "kyc_reviewed_at",
            "kyc_reviewed_by",
            "created_at",
        )
        .get()
    )


def _writable_operation_ids() -> list[str]:
    # Read from the schema when the tests are collected, so a new writable endpoint is tried automatically.
    with api_conventions():
        return sorted(_writable_operations(generate_schema()))


@pytest.mark.parametrize("op_id", _writable_operation_ids())
def test_server_owned_fields_sent_by_a_client_are_ignored_or_refused(op_id, personas, openapi):
    assert op_id in MATRIX, f"{op_id} needs a row in the authorisation MATRIX (with a body to send)"
    method, path, _operation = _writable_operations(openapi)[op_id]
    me = personas[_caller(op_id)]
    row = MATRIX[op_id]
    own_before = _server_owned_state(me.merchant) if me.merchant else None
    other_b = _server_owned_state(personas["merchant_b"].merchant)
    poison = _poison(personas)
    body = _poisoned(row.body(personas, me) or {}, poison)

    payload = json.dumps(body)
    headers = rail_signed_headers(body=payload.encode()) if me.signs else {}
    response = me.client().generic(
        method, path.format(**row.path_params(personas, me)), payload, content_type="application/json", headers=headers
    )

    # Done (2xx), refused for its input (400), not found (404) or refused for the object's state (409):
    # never done with the poison.
    assert response.status_code < 300 or response.status_code in (400, 404, 409), response.content
    assert POISON_TEXT not in response.content.decode()
    assert "2001-02-03" not in response.content.decode()
    if response.get("Content-Type", "").startswith("application/json"):
        assert _echoed(response.json(), poison) == []
    assert _rows_with_poison() == []
    if own_before is not None:
        assert _server_owned_state(me.merchant) == own_before
    assert _server_owned_state(personas["merchant_b"].merchant) == other_b
