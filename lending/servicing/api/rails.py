"""The rail's callback: the payment platform says a collection was confirmed or failed.

Not a user's API: no token, no session. The caller proves it is the rail by signing the raw body (HMAC-SHA256
over ``<timestamp>.<body>`` with the shared secret, in ``X-Rail-Timestamp`` and ``X-Rail-Signature``), checked in
constant time within a replay window before the body is read. A forged, altered or stale callback is a 401 and
changes nothing; a genuine one delivered twice books one payment (the second finds the collection settled).
"""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lending.servicing.api import examples
from lending.servicing.models import CollectionRequest
from lending.servicing.services.collection_requests import collection_callback_receive
from lending.servicing.services.rails import SIGNATURE_HEADER, TIMESTAMP_HEADER, RailSignatureInvalid


class SignatureInvalid(APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "signature_invalid"
    default_detail = _("The callback's signature is missing, wrong or outside the replay window.")


class RawJsonParser(BaseParser):
    """Leaves the body alone: the signature is over the exact bytes sent, so they are read as they came."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class CallbackSerializer(serializers.Serializer):
    idempotency_key = serializers.UUIDField(help_text="The key the portal sent with the collection request.")
    reference = serializers.CharField(help_text="The rail's own reference for the collection.")
    status = serializers.ChoiceField(choices=["confirmed", "failed", "pending"])
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    settled_on = serializers.DateField(required=False, allow_null=True)
    error = serializers.CharField(required=False, allow_blank=True, help_text="Why it failed.")


class RailCollectionCallbackApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawJsonParser]
    throttle_classes: list = []

    @extend_schema(
        summary="The rail's signed callback: a collection confirmed or failed",
        auth=[{"RailSignature": []}],
        parameters=[
            OpenApiParameter(
                TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True, description="Unix seconds."
            ),
        ],
        request=CallbackSerializer,
        examples=[examples.CALLBACK_CONFIRMED, examples.CALLBACK_FAILED, examples.CALLBACK_ANSWER],
        responses={
            200: inline_serializer("CallbackAnswer", {"status": serializers.CharField()}),
            400: OpenApiResponse(description="A malformed body; `fields` names the field."),
            401: OpenApiResponse(description="Unsigned, wrongly signed, or outside the replay window."),
            404: OpenApiResponse(description="No collection has that idempotency key."),
            409: OpenApiResponse(description="The rail confirmed another amount than was asked."),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            collection = collection_callback_receive(
                body=request.body,
                timestamp=request.headers.get(TIMESTAMP_HEADER),
                signature=request.headers.get(SIGNATURE_HEADER),
            )
        except RailSignatureInvalid:
            raise SignatureInvalid from None
        except CollectionRequest.DoesNotExist:
            raise NotFound from None
        return Response({"status": collection.status})


urlpatterns = [
    path("rails/collections/callback/", RailCollectionCallbackApi.as_view(), name="rail-collection-callback"),
]
