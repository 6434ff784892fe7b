"""One JSON shape for every API error: ``{"code", "message", "fields"}``.

``fields`` maps each offending input field to its messages (empty when the error is not about a
field). Domain errors raised by services are translated here, so views never format errors.

A 400 always names the field it is about. A service's refusal that names no field is a business rule the request
runs into (an application already in progress, no scorecard to decide with): that is a 409 with the rule's own
code, never a 400 with nothing to correct.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import StateConflict


class Conflict(exceptions.APIException):
    """The object is not in a state that allows this, or a concurrent request won."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This cannot be done in the object's current state.")
    default_code = "conflict"


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {}
    return {name: _flatten(value) for name, value in detail.items() if name != "non_field_errors"}


def _rule_code(exc: DjangoValidationError) -> str:
    errors = exc.error_dict.get(NON_FIELD_ERRORS, []) if hasattr(exc, "error_dict") else exc.error_list
    codes = {error.code for error in errors if error.code}
    return codes.pop() if len(codes) == 1 else Conflict.default_code


def _translate(exc):
    if isinstance(exc, DjangoValidationError):
        if not hasattr(exc, "error_dict"):
            return Conflict(detail=" ".join(exc.messages), code=_rule_code(exc))
        fields = {name: errors for name, errors in exc.message_dict.items() if name != NON_FIELD_ERRORS}
        if not fields:
            return Conflict(detail=" ".join(exc.message_dict[NON_FIELD_ERRORS]), code=_rule_code(exc))
        return exceptions.ValidationError(exc.message_dict)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, StateConflict):
        return Conflict(detail=exc.message, code=exc.code)
    if isinstance(exc, (TransitionNotAllowed, ConcurrentTransition)):
        return Conflict()
    return exc


def api_exception_handler(exc, context):
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail)
        non_field = _flatten(detail.get("non_field_errors", [])) if isinstance(detail, dict) else _flatten(detail)
        message = (
            non_field[0]
            if non_field
            else str(_("Some fields are not valid: %(names)s.") % {"names": ", ".join(fields)})
        )
        code = "validation_error"
    else:
        fields = {}
        message = " ".join(_flatten(detail))
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
    # Keep DRF's response (and its headers: Retry-After, WWW-Authenticate); only the body changes.
    response.data = {"code": code, "message": message, "fields": fields}
    return response
