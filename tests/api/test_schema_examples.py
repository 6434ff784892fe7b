"""The interactive docs are usable as they are: every request body and every JSON success answer has an example,
each example is valid against the schema it illustrates, and the examples name real products."""

import jsonschema
import pytest

from lending.catalogue.services.demo import products_seed
from tests.api.conftest import schema_operations

JSON = "application/json"


def _validator(openapi: dict, schema: dict) -> jsonschema.Draft202012Validator:
    # The components travel with the schema, so "$ref": "#/components/schemas/…" resolves.
    return jsonschema.Draft202012Validator({**schema, "components": openapi["components"]})


def _bodies(operation: dict):
    """(where, media) for the request body and each 2xx JSON answer of one operation."""
    body = operation.get("requestBody", {}).get("content", {})
    if JSON in body:
        yield "request", body[JSON]
    for code, response in operation["responses"].items():
        if code.startswith("2") and JSON in response.get("content", {}):
            yield code, response["content"][JSON]


def _nullable_to_type(schema):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema says it (``type: [t, "null"]``), all the way down."""
    if isinstance(schema, dict):
        converted = {key: _nullable_to_type(value) for key, value in schema.items() if key != "nullable"}
        if schema.get("nullable"):
            if "type" in converted:
                converted["type"] = [converted["type"], "null"]
            else:
                converted = {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(schema, list):
        return [_nullable_to_type(item) for item in schema]
    return schema


def test_every_request_body_and_json_answer_has_an_example(openapi):
    missing = [
        f"{op_id} {where}"
        for op_id, (_method, _path, operation) in schema_operations(openapi).items()
        for where, media in _bodies(operation)
        if not media.get("examples")
    ]
    assert missing == []


def test_every_example_is_valid_against_its_schema(openapi):
    converted = _nullable_to_type(openapi)
    invalid = []
    for op_id, (_method, _path, operation) in schema_operations(converted).items():
        for where, media in _bodies(operation):
            validator = _validator(converted, media["schema"])
            for name, example in media.get("examples", {}).items():
                for error in validator.iter_errors(example["value"]):
                    invalid.append(f"{op_id} {where} {name}: {error.json_path} {error.message}")
    assert invalid == []


@pytest.mark.django_db
def test_the_examples_name_products_that_exist(openapi):
    codes = {product.code for product in products_seed()}
    named = set()
    for _op_id, (_method, _path, operation) in schema_operations(openapi).items():
        for _where, media in _bodies(operation):
            for example in media.get("examples", {}).values():
                value = example["value"]
                for item in value.get("results", [value]) if isinstance(value, dict) else value:
                    if isinstance(item, dict) and isinstance(item.get("product"), str):
                        named.add(item["product"])
    assert named
    assert named <= codes
