"""The insurer's claims over the partner API: its claims on covered loans, and settling or rejecting them.

Who may call: an insurer's API account (role Partner, linked to the insurer), for its own claims once submitted to
it (an opened claim is still the platform's). A partner bank's account is refused (403): claims are insurers' only.
Another insurer's claim answers 404, the same as a missing one; anonymous: 401. The integrator mounts
``claims_urlpatterns`` under ``/api/v1/partner/`` (URL names ``api:partner-claims…``).
"""

import django_filters
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import states_filter
from core.api.idempotency import IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from core.api.permissions import IsPartner
from partners.models import ClaimState, InsuranceClaim
from partners.selectors.insurance import claims_for_insurer
from partners.services.insurance import claim_reject, claim_settle

MONEY = {"max_digits": 14, "decimal_places": 2}

_CLAIM = {
    "id": 77,
    "loan": 311,
    "product": "operating-loan",
    "state": "submitted",
    "agreement_version": 2,
    "cover_share": "0.8000",
    "loss_on": "2027-05-04",
    "days_past_due": 60,
    "principal_lost": "33438.12",
    "interest_lost": "297.13",
    "claimable": "26988.20",
    "settled_amount": None,
    "insurer_reference": "",
    "reason": "",
    "opened_at": "2027-05-04T01:30:02+08:00",
    "submitted_at": "2027-05-04T10:12:40+08:00",
    "settled_at": None,
    "rejected_at": None,
}
CLAIM_EXAMPLE = OpenApiExample("A claim submitted to the insurer", value=_CLAIM, response_only=True)


class IsInsurer(IsPartner):
    """A partner account that is an insurer's; a partner bank's account is refused."""

    message = _("Only an insurer's account sees insurance claims.")

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and getattr(request.user, "insurer", None) is not None


class ClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    loan = serializers.IntegerField(source="loan_id")
    product = serializers.CharField(source="loan.product.code")
    state = serializers.ChoiceField(choices=ClaimState.choices)
    agreement_version = serializers.IntegerField(source="cover.agreement.version")
    cover_share = serializers.DecimalField(
        source="cover.cover_share", max_digits=5, decimal_places=4, help_text="The insured fraction of the loss."
    )
    loss_on = serializers.DateField(help_text="The day the loss was counted (the claim opened).")
    days_past_due = serializers.IntegerField()
    principal_lost = serializers.DecimalField(**MONEY, help_text="Principal still owed on that day.")
    interest_lost = serializers.DecimalField(**MONEY, help_text="Interest due by that day and unpaid.")
    claimable = serializers.DecimalField(
        **MONEY, help_text="cover_share x (principal_lost + interest_lost), half-up to the fen."
    )
    settled_amount = serializers.DecimalField(**MONEY, allow_null=True, help_text="What the insurer paid.")
    insurer_reference = serializers.CharField()
    reason = serializers.CharField(help_text="Why it was rejected.")
    opened_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)


def _own_claim(request: Request, pk: int) -> InsuranceClaim:
    found = claims_for_insurer(user=request.user).select_related("loan__product").filter(pk=pk).first()
    if found is None:
        raise NotFound
    return found


class ClaimFilter(django_filters.FilterSet):
    state = states_filter([choice for choice in ClaimState.choices if choice[0] != ClaimState.OPENED])

    class Meta:
        model = InsuranceClaim
        fields = ["state"]


class ClaimListApi(generics.ListAPIView):
    """The insurer's claims, newest first."""

    permission_classes = [IsInsurer]
    serializer_class = ClaimSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = ClaimFilter

    def get_queryset(self):
        return claims_for_insurer(user=self.request.user).select_related("loan__product", "cover__agreement")

    @extend_schema(
        summary="List the insurer's claims",
        description="Claims submitted to the insurer on loans it covers, newest first, in cursor pages (50 a page, "
        "`page_size` up to 200), filtered by state. Insurers only: a partner bank's account gets 403.",
        responses={200: ClaimSerializer(many=True), 403: OpenApiResponse(description="Not an insurer's account.")},
        examples=[CLAIM_EXAMPLE],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ClaimDetailApi(APIView):
    permission_classes = [IsInsurer]

    @extend_schema(
        summary="One of the insurer's claims",
        responses={
            200: ClaimSerializer,
            403: OpenApiResponse(description="Not an insurer's account."),
            404: OpenApiResponse(description="No such claim of yours."),
        },
        examples=[CLAIM_EXAMPLE],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ClaimSerializer(_own_claim(request, pk)).data)


class ClaimSettleApi(IdempotentMixin, APIView):
    permission_classes = [IsInsurer]

    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(
            **MONEY, help_text='What the insurer paid, as a string such as "26988.20"; at most the claimable.'
        )
        reference = serializers.CharField(max_length=64, help_text="The insurer's reference for the payment.")

    @extend_schema(
        summary="Settle a claim: record the payment the insurer made",
        description="A submitted claim only; the amount is above 0.00 and at most the claimable amount. Later "
        "recoveries on the loan are shared with the insurer pro rata (amount paid / loss).",
        request=InputSerializer,
        responses={
            200: ClaimSerializer,
            400: OpenApiResponse(description="Invalid input; `fields` names the field."),
            403: OpenApiResponse(description="Not an insurer's account."),
            404: OpenApiResponse(description="No such claim of yours."),
            409: OpenApiResponse(description="The claim is not submitted (already settled or rejected)."),
        },
        examples=[
            OpenApiExample(
                "Paid in full", value={"amount": "26988.20", "reference": "PA-CLM-20270512-0042"}, request_only=True
            ),
            OpenApiExample(
                "Settled",
                value={
                    **_CLAIM,
                    "state": "settled",
                    "settled_amount": "26988.20",
                    "insurer_reference": "PA-CLM-20270512-0042",
                    "settled_at": "2027-05-12T15:02:11+08:00",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        claim = _own_claim(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        settled = claim_settle(claim=claim, amount=values["amount"], reference=values["reference"], by=request.user)
        return Response(ClaimSerializer(_own_claim(request, settled.pk)).data)


class ClaimRejectApi(IdempotentMixin, APIView):
    permission_classes = [IsInsurer]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000, help_text="Why the insurer refuses the claim.")
        reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @extend_schema(
        summary="Reject a claim, with the reason",
        request=InputSerializer,
        responses={
            200: ClaimSerializer,
            400: OpenApiResponse(description="Invalid input; `fields` names the field."),
            403: OpenApiResponse(description="Not an insurer's account."),
            404: OpenApiResponse(description="No such claim of yours."),
            409: OpenApiResponse(description="The claim is not submitted (already settled or rejected)."),
        },
        examples=[
            OpenApiExample(
                "Excluded cause",
                value={"reason": "保单除外责任：欺诈 Excluded: fraud at origination", "reference": "PA-R-0042"},
                request_only=True,
            ),
            OpenApiExample(
                "Rejected",
                value={
                    **_CLAIM,
                    "state": "rejected",
                    "insurer_reference": "PA-R-0042",
                    "reason": "保单除外责任：欺诈 Excluded: fraud at origination",
                    "rejected_at": "2027-05-12T15:02:11+08:00",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        claim = _own_claim(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data["reason"].strip():
            raise serializers.ValidationError({"reason": [_("Say why the claim is rejected.")]})
        rejected = claim_reject(
            claim=claim,
            reason=data.validated_data["reason"],
            reference=data.validated_data["reference"],
            by=request.user,
        )
        return Response(ClaimSerializer(_own_claim(request, rejected.pk)).data)


claims_urlpatterns = [
    path("partner/claims/", ClaimListApi.as_view(), name="partner-claims"),
    path("partner/claims/<int:pk>/", ClaimDetailApi.as_view(), name="partner-claim"),
    path("partner/claims/<int:pk>/settle/", ClaimSettleApi.as_view(), name="partner-claim-settle"),
    path("partner/claims/<int:pk>/reject/", ClaimRejectApi.as_view(), name="partner-claim-reject"),
]

__all__ = ["claims_urlpatterns"]
