"""A request id for every request, so audit rows can be tied back to the request that made them; and a guard
against NUL characters in addresses and query strings."""

import contextvars
import uuid

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext_lazy as _

NUL_MESSAGE = _("Null characters are not allowed.")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdMiddleware:
    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.META.get(self.header, "")[:64]
        request_id = supplied or uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-Id"] = request_id
        return response


class NulCharacterMiddleware:
    """Answer 400 to a request whose address or query string holds a NUL character.

    No legitimate client sends one; PostgreSQL cannot compare with one (the lookup raises, which would be a 500),
    and a filter or a path converter may hand it straight to a query. API requests get the error shape with the
    offending parameter named; web pages get a plain 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return self._refuse(request, str(_("The address contains a NUL character.")), {})
        bad = [key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)]
        if bad:
            fields = {key: [str(NUL_MESSAGE)] for key in bad}
            message = str(_("Some fields are not valid: %(names)s.") % {"names": ", ".join(bad)})
            return self._refuse(request, message, fields)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, message: str, fields: dict) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"code": "validation_error", "message": message, "fields": fields}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
