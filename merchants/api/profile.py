"""The requesting merchant's own business profile: read it, and change it while KYC allows."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role
from merchants.api import examples
from merchants.choices import Industry, KycState, Province
from merchants.models import PROFILE_FIELDS, Merchant
from merchants.selectors.merchants import merchant_kyc_checklist
from merchants.services.kyc import KycError, merchant_get_or_create, merchant_update_profile


class ProfileLocked(APIException):
    """The profile is under review or verified, so it cannot change (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The profile cannot be changed in its current KYC state.")
    default_code = "locked"


class MerchantProfileApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="MerchantProfileInput")
    class InputSerializer(serializers.Serializer):
        # Only profile fields are accepted; the KYC state, owner and review fields are the server's.
        legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        credit_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
        industry = serializers.ChoiceField(choices=Industry.choices, required=False, allow_blank=True)
        province = serializers.ChoiceField(choices=Province.choices, required=False, allow_blank=True)
        city = serializers.CharField(max_length=60, required=False, allow_blank=True)
        founded_on = serializers.DateField(required=False, allow_null=True)
        legal_rep_name = serializers.CharField(max_length=60, required=False, allow_blank=True)
        legal_rep_id_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
        mobile = serializers.CharField(max_length=20, required=False, allow_blank=True)
        settlement_bank_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        settlement_account_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        settlement_account_number = serializers.CharField(max_length=34, required=False, allow_blank=True)

    @extend_schema_serializer(component_name="MerchantProfile")
    class OutputSerializer(serializers.ModelSerializer):
        owner = serializers.EmailField(source="owner.email", read_only=True)
        # Declared so that the schema says an unfilled choice is "" (read-only model fields lose allow_blank).
        industry = serializers.ChoiceField(choices=Industry.choices, allow_blank=True, read_only=True)
        province = serializers.ChoiceField(choices=Province.choices, allow_blank=True, read_only=True)
        kyc_state = serializers.ChoiceField(choices=KycState.choices, read_only=True)
        kyc_state_label = serializers.CharField(source="get_kyc_state_display", read_only=True)
        legal_rep_id_number = serializers.CharField(
            source="masked_id_number", read_only=True, help_text="Masked: first three and last four characters."
        )
        missing_fields = serializers.SerializerMethodField()
        missing_documents = serializers.SerializerMethodField()

        class Meta:
            model = Merchant
            fields = [
                "id",
                "owner",
                *PROFILE_FIELDS,
                "kyc_state",
                "kyc_state_label",
                "kyc_rejection_reason",
                "kyc_submitted_at",
                "kyc_reviewed_at",
                "missing_fields",
                "missing_documents",
                "updated_at",
            ]
            read_only_fields = fields

        def get_missing_fields(self, merchant: Merchant) -> list[str]:
            return merchant_kyc_checklist(merchant=merchant).missing_fields

        def get_missing_documents(self, merchant: Merchant) -> list[str]:
            return merchant_kyc_checklist(merchant=merchant).missing_documents

    def _merchant(self, request: Request) -> Merchant:
        if not request.user.has_role(Role.MERCHANT_OWNER):
            raise PermissionDenied(_("Only merchant owners have a business profile."))
        return merchant_get_or_create(owner=request.user)

    @extend_schema(summary="Get my business profile", responses=OutputSerializer, examples=[examples.MERCHANT])
    def get(self, request: Request) -> Response:
        merchant = self._merchant(request)
        return Response(self.OutputSerializer(merchant).data)

    @extend_schema(
        summary="Change my business profile",
        description="Only while KYC is draft or rejected; send only the fields to change. 409 when locked.",
        request=InputSerializer,
        responses=OutputSerializer,
        examples=[examples.MERCHANT_CHANGE, examples.MERCHANT_CHANGED],
    )
    def patch(self, request: Request) -> Response:
        merchant = self._merchant(request)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            merchant = merchant_update_profile(merchant=merchant, by=request.user, data=serializer.validated_data)
        except KycError as exc:
            raise ProfileLocked(" ".join(exc.messages)) from exc
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise serializers.ValidationError(detail) from exc
        return Response(self.OutputSerializer(merchant).data)
