from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.internal.ratelimit import get_rates
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts.services.tokens import EmailNotVerifiedError, api_token_issue, api_tokens_revoke
from core.api.authentication import token_expires_at
from core.api.throttling import AtomicCounterMixin


class AuthThrottle(AtomicCounterMixin, AnonRateThrottle):
    """Requests per IP address to the token endpoint, whatever their outcome."""

    scope = "auth"
    rate = "20/min"


def _failed_login_lockout_seconds() -> int:
    # allauth does not say how long a lock has left, so the client is told the longest window of the
    # `login_failed` limits: waiting that long always clears the lock.
    rates = get_rates(app="allauth.account", action="login_failed")
    return int(max((rate.duration for rate in rates), default=60))


class EmailNotVerified(PermissionDenied):
    default_code = "email_not_verified"


class TokenObtainApi(APIView):
    """Exchange an email and password for an API token, valid for ``API_TOKEN_LIFETIME``.

    Only an account whose email address is verified gets one, as on the web. Failed attempts count against
    the same per-account and per-IP limits as the web sign-in: an account locked there is locked here too,
    and the answer is 429 with Retry-After.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires = serializers.DateTimeField(help_text="After this the token is refused; ask for a new one.")

    def get_authenticate_header(self, request) -> str:
        # A 401 carries WWW-Authenticate (DRF turns one without it into a 403): the scheme the token is then used with.
        return 'Token realm="api"'

    @extend_schema(
        summary="Obtain an API token",
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "A merchant's owner signs in",
                value={"email": "owner@shenzhen-noodles.example", "password": "correct horse battery staple"},
                request_only=True,
            ),
            OpenApiExample(
                "The token, and when it stops working",
                value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "expires": "2027-01-02T10:15:00+08:00"},
                response_only=True,
            ),
        ],
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="A field is missing or malformed; `fields` names it."),
            401: OpenApiResponse(description="Email or password is not correct (the same answer for both)."),
            403: OpenApiResponse(description="The account's email address is not verified yet."),
            429: OpenApiResponse(description="Too many attempts; the Retry-After header says when to try again."),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # allauth's authenticate applies its `login_failed` limits; the API shares them with the web form,
        # so it cannot be used to get around a lock.
        adapter = get_account_adapter(request._request)
        try:
            user = adapter.authenticate(
                request._request, email=data.validated_data["email"].lower(), password=data.validated_data["password"]
            )
        except DjangoValidationError as exc:
            if exc.code != "too_many_login_attempts":
                raise
            raise Throttled(wait=_failed_login_lockout_seconds(), detail=exc.messages[0]) from exc
        if user is None or not user.is_active:
            # One answer for an unknown email and a wrong password, so accounts cannot be discovered. Credentials
            # that were not accepted are a 401, not a 400: nothing in the request's shape is wrong.
            raise AuthenticationFailed(_("Email or password is not correct."), code="invalid_credentials")
        try:
            token = api_token_issue(user=user)
        except EmailNotVerifiedError as exc:
            raise EmailNotVerified(detail=exc.args[0]) from exc
        return Response(self.OutputSerializer({"token": token.key, "expires": token_expires_at(token)}).data)


class TokenRevokeApi(APIView):
    """Revoke the caller's API token (the owner can do the same on the web's security page)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Revoke the current API token", request=None, responses={204: None})
    def delete(self, request):
        api_tokens_revoke(user=request.user, by=request.user, reason="revoked through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)
