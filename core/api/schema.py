"""OpenAPI conventions: one ``Error`` component, the error answers every operation can give, idempotency keys.

Wired in settings: ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "core.api.schema.AutoSchema"`` and
``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`` ending with ``"core.api.schema.postprocess_error_responses"``.
"""

from django.utils.translation import gettext as _
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter

from core.api.idempotency import IDEMPOTENCY_HEADER, KEY_MAX_LENGTH, REPLAYED_HEADER, IdempotentMixin

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer has this shape (see core.api.exceptions).",
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable, machine-readable reason, e.g. validation_error, not_authenticated, "
            "permission_denied, not_found, conflict, throttled, idempotency_key_reused.",
        },
        "message": {"type": "string", "description": "A sentence for a person, in the request's language."},
        "fields": {
            "type": "object",
            "description": "Each input field (or header) that was not accepted, with its messages; empty "
            "when the error is not about a field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "message", "fields"],
}
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _strip_suffix(name: str) -> str:
    for suffix in ("Serializer", "ViewSet", "View", "Api"):
        if name.endswith(suffix) and name != suffix:
            return name.removesuffix(suffix)
    return name


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with names that do not collide and idempotency documented."""

    def get_serializer_name(self, serializer, direction) -> str:
        # House style nests Input/Output serializers in their view; name each component after its whole
        # nesting so that every view's "InputSerializer" gets its own component:
        # TokenObtainApi.InputSerializer -> TokenObtainInput, SalesImportApi.InputSerializer.DaySerializer ->
        # SalesImportInputDay.
        qualname = type(serializer).__qualname__
        if "." not in qualname or "<locals>" in qualname:
            return super().get_serializer_name(serializer, direction)
        return "".join(_strip_suffix(part) for part in qualname.split("."))

    def _is_idempotent(self) -> bool:
        return isinstance(self.view, IdempotentMixin) and self.method in self.view.idempotent_methods

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_idempotent():
            parameters = [
                *parameters,
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    type={"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH},
                    location=OpenApiParameter.HEADER,
                    pattern=r"^[!-~][ -~]*$",
                    description=_(
                        "A unique value per intended action (a UUID). Sending the same request again with the "
                        "same key answers the first response again, with the header %(header)s: true, and does "
                        "nothing twice. Keys are kept for at least 24 hours."
                    )
                    % {"header": REPLAYED_HEADER},
                ),
            ]
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation and self._is_idempotent():
            registry.register_on_missing(
                ResolvedComponent(
                    name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA, object=ERROR_COMPONENT, schema=ERROR_SCHEMA
                )
            )
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "409",
                _error_response(
                    _("The object's state does not allow this, or the request with this Idempotency-Key is running.")
                ),
            )
            responses.setdefault("422", _error_response(_("This Idempotency-Key was used for a different request.")))
        return operation


def _standard_errors(method: str, operation: dict) -> dict[str, str]:
    """The error answers this operation can give, with their descriptions."""
    security = operation.get("security") or [{}]
    authenticates = any(requirement for requirement in security)
    has_input = "requestBody" in operation or any(
        parameter.get("in") != "path" for parameter in operation.get("parameters", [])
    )
    errors = {}
    if has_input:
        errors["400"] = _("The input is not valid; fields names each field that was not accepted and why.")
    if "requestBody" in operation:
        errors["415"] = _("The body's content type is not one this operation reads (see its request body).")
    if authenticates:
        errors["401"] = _("No valid credentials were sent (missing, unknown or revoked token).")
        errors["403"] = _("The credentials are valid but this client may not do this.")
    errors["404"] = _("Not found, or not yours: the two are not told apart.")
    if method in _WRITE_METHODS:
        errors["409"] = _("The object's current state does not allow this.")
    errors["429"] = _("Too many requests; the Retry-After header says after how many seconds to try again.")
    return errors


def postprocess_error_responses(result, generator, request, public):
    """Give every operation its error answers, all with the one ``Error`` schema.

    Responses a view documents itself keep their description; one without a body gets the ``Error`` body.
    """
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in _standard_errors(method, operation).items():
                response = responses.setdefault(code, {"description": description})
                response.setdefault("content", {"application/json": {"schema": ERROR_REF}})
                if code == "429":
                    response.setdefault(
                        "headers",
                        {"Retry-After": {"schema": {"type": "integer"}, "description": _("Seconds to wait.")}},
                    )
                if code == "401":
                    response.setdefault(
                        "headers",
                        {"WWW-Authenticate": {"schema": {"type": "string"}, "description": _("The scheme: Token.")}},
                    )
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response.setdefault("content", {"application/json": {"schema": ERROR_REF}})
    return result
