"""The loan contract over the API: download its PDF, sign it (re-authenticating with the password)."""

from allauth.account.adapter import get_adapter as get_account_adapter
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.exceptions import Conflict
from core.api.fields import StrictBooleanField
from core.api.idempotency import IdempotentMixin
from core.api.permissions import IsMerchantOwner, get_owned_object_or_404
from lending.origination.api import examples
from lending.origination.api.applications import ApplicationConflictMixin, ApplicationSerializer
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.contracts import (
    SignerLockedOut,
    contract_newest,
    contract_pdf_bytes,
    contract_sign,
    signer_password_check,
)


def _rendered_contract(application: LoanApplication, *, missing: type[exceptions.APIException]) -> Contract:
    """The application's newest contract once it has a PDF; 409 while it is being prepared, ``missing`` if none."""
    contract = contract_newest(application=application)
    if contract is None and application.state != ApplicationState.ACCEPTED:
        raise missing(
            _("There is no contract for this application: it is %(state)s.")
            % {"state": application.get_state_display()},
            code="no_contract",
        )
    if contract is None or contract.status == Contract.Status.RENDERING:
        raise Conflict(_("The contract is being prepared. Try again in a few seconds."), code="contract_not_ready")
    return contract


class ApplicationContractApi(APIView):
    """The newest contract of one of the merchant's own applications, as a PDF."""

    permission_classes = [IsMerchantOwner]

    def perform_content_negotiation(self, request, force=False):
        # The PDF is sent as a plain Django response; only errors go through the renderers, and they are JSON
        # whatever the client accepts (a client asking for application/pdf still gets a readable 404 or 409).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="applications_contract",
        summary="Download the application's contract (PDF)",
        description=(
            "The newest version of the loan contract, as the merchant signs it. 409 while it is still being "
            "prepared (a few seconds after the offer is accepted)."
        ),
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The contract as a PDF."),
            409: OpenApiResponse(description="The contract is being prepared; try again in a few seconds."),
        },
    )
    def get(self, request, pk: int):
        application = get_owned_object_or_404(LoanApplication.objects.all(), user=request.user, pk=pk)
        contract = _rendered_contract(application, missing=exceptions.NotFound)
        try:
            pdf = contract_pdf_bytes(contract=contract)
        except FileNotFoundError as exc:
            raise exceptions.NotFound() from exc
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="contract-{application.pk}-v{contract.version}.pdf"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class ApplicationSignApi(IdempotentMixin, ApplicationConflictMixin, APIView):
    """Sign the newest contract of one of the merchant's own applications.

    API clients re-authenticate with the account's password in the request; after five wrong passwords in fifteen
    minutes signing with a password is refused (429) until the window has passed.
    """

    permission_classes = [IsMerchantOwner]

    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(
            trim_whitespace=False, write_only=True, help_text="The account's password, to confirm it is the owner."
        )
        consent = StrictBooleanField(
            help_text="true: the merchant has read the contract and agrees to its terms (the consent text version "
            "in force is recorded)."
        )

    class OutputSerializer(ApplicationSerializer):
        """The application as every other step answers it, with its signature and the contract signed."""

        class ContractSerializer(serializers.Serializer):
            version = serializers.IntegerField()
            document_id = serializers.UUIDField()
            status = serializers.CharField()
            sha256 = serializers.CharField(source="signed_sha256", help_text="SHA-256 of the PDF that was signed.")
            signed_at = serializers.DateTimeField()
            consent_text_version = serializers.CharField(help_text="The consent wording the signer agreed to.")

        signed_at = serializers.DateTimeField(allow_null=True)
        contract = ContractSerializer(source="signed_contract")

    @extend_schema(
        operation_id="applications_sign",
        summary="Sign the application's contract",
        request=InputSerializer,
        examples=[examples.SIGN_REQUEST, examples.APPLICATION_SIGNED],
        responses={
            200: OutputSerializer,
            409: OpenApiResponse(
                description="The contract is not ready, was replaced by a newer version, is already signed, or "
                "its document failed the integrity check."
            ),
        },
    )
    def post(self, request, pk: int):
        application = get_owned_object_or_404(LoanApplication.objects.all(), user=request.user, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = _rendered_contract(application, missing=Conflict)
        try:
            signer_password_check(user=request.user, password=data.validated_data["password"])
        except SignerLockedOut as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=exc.messages[0]) from exc
        signed = contract_sign(
            contract=contract,
            by=request.user,
            ip=get_account_adapter(request).get_client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            consent=data.validated_data["consent"],
            reauthenticated_with="password",
        )
        # Read again: with eager tasks (development) the funding task has already run after the commit.
        application = LoanApplication.objects.select_related("product", "decision").get(pk=application.pk)
        application.signed_contract = signed
        return Response(self.OutputSerializer(application).data)


urlpatterns = [
    path("applications/<int:pk>/contract/", ApplicationContractApi.as_view(), name="application-contract"),
    path("applications/<int:pk>/sign/", ApplicationSignApi.as_view(), name="application-sign"),
]
