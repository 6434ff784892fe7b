"""The loans offered to a partner: the list, one offer, the answer (accept or decline) and the offered merchant's file.

A partner decides each loan itself (banks keep their own risk control): it reads the offer and the merchant file,
then accepts or declines with its own reference before ``answer_by``. Another partner's offer answers 404.
"""

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import states_filter
from core.api.pagination import DefaultCursorPagination
from lending.catalogue.models import RepaymentMethodChoice
from partners.api import examples
from partners.api.permissions import IsFundingPartner, request_partner
from partners.models import OfferState, PartnerOffer
from partners.selectors.partner_api import offered_merchant, partner_offer, partner_offers
from partners.services.offers import (
    REASON_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    partner_offer_accept,
    partner_offer_decline,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
SHARE = {"max_digits": 5, "decimal_places": 4}
RATE = {"max_digits": 7, "decimal_places": 6}
NOT_A_PARTNER = OpenApiResponse(description="The account is not a funding partner's, or a signature is missing.")
NOT_YOURS = OpenApiResponse(description="No such offer made to you (another partner's answers the same).")


class OfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.IntegerField(source="application_id")
    state = serializers.ChoiceField(choices=OfferState.choices)
    product = serializers.CharField(source="application.product.code")
    amount = serializers.DecimalField(source="application.offer_amount", **MONEY, help_text="The whole loan.")
    term = serializers.IntegerField(source="application.offer_term", allow_null=True)
    repayment_method = serializers.ChoiceField(
        source="application.offer_repayment_method", choices=RepaymentMethodChoice.choices
    )
    grade = serializers.CharField(source="application.offer_grade")
    borrower_rate = serializers.DecimalField(
        source="application.offer_price", **RATE, allow_null=True, help_text="The merchant's annual rate (0.08 = 8 %)."
    )
    apr = serializers.DecimalField(
        source="application.offer_apr", max_digits=7, decimal_places=2, allow_null=True, help_text="In %."
    )
    share = serializers.DecimalField(**SHARE, help_text="Your fraction of the loan (0.7000 = 70 %).")
    principal = serializers.DecimalField(**MONEY, help_text="Your share of the principal.")
    interest_rate = serializers.DecimalField(
        source="agreement.interest_rate", **RATE, help_text="Your annual rate on your share, from the agreement."
    )
    agreement_version = serializers.IntegerField(source="agreement.version")
    offered_at = serializers.DateTimeField()
    answer_by = serializers.DateTimeField(help_text="Answer before this moment; afterwards the offer lapses.")
    answered_at = serializers.DateTimeField(allow_null=True)
    reference = serializers.CharField(source="partner_reference", help_text="Your reference, given with the answer.")
    reason = serializers.CharField(help_text="Why you declined.")
    loan = serializers.SerializerMethodField(help_text="The loan's id once it is booked (see /partner/loans/).")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_loan(self, offer: PartnerOffer) -> int | None:
        loan = getattr(offer.application, "loan", None)
        return loan.pk if loan is not None and offer.state == OfferState.ACCEPTED else None


_OFFER = OfferSerializer()


class OfferFilter(django_filters.FilterSet):
    state = states_filter(OfferState.choices)

    class Meta:
        model = PartnerOffer
        fields = ["state"]


def _own_offer(request: Request, pk: int) -> PartnerOffer:
    offer = partner_offer(partner=request_partner(request), pk=pk)
    if offer is None:
        raise NotFound
    return offer


def _answer(request: Request, offer: PartnerOffer) -> Response:
    return Response(_OFFER.to_representation(_own_offer(request, offer.pk)))


class PartnerOfferListApi(generics.ListAPIView):
    """The loans offered to the requesting partner, newest first."""

    permission_classes = [IsFundingPartner]
    serializer_class = OfferSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = OfferFilter

    def get_queryset(self):
        return partner_offers(partner=request_partner(self.request))

    @extend_schema(
        operation_id="partner_offers_list",
        summary="List the loans offered to you",
        description="Newest first, in cursor pages (50 a page, `page_size` up to 200), filtered by state "
        "(`?state=offered` for the ones waiting for your answer).",
        responses={200: OfferSerializer(many=True), 403: NOT_A_PARTNER},
        examples=[examples.OFFERS],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class PartnerOfferDetailApi(APIView):
    permission_classes = [IsFundingPartner]

    @extend_schema(
        operation_id="partner_offers_retrieve",
        summary="Get one offer",
        responses={200: OfferSerializer, 403: NOT_A_PARTNER, 404: NOT_YOURS},
        examples=[examples.OFFER_DETAIL],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_OFFER.to_representation(_own_offer(request, pk)))


class PartnerOfferAcceptApi(APIView):
    permission_classes = [IsFundingPartner]

    class InputSerializer(serializers.Serializer):
        reference = serializers.CharField(
            max_length=REFERENCE_MAX_LENGTH, help_text="Your own reference for this decision (your credit file's)."
        )

    @extend_schema(
        operation_id="partner_offers_accept",
        summary="Accept an offered loan",
        description="You fund your share of the loan under the agreement version of the offer. Only an offer still "
        "`offered`, before `answer_by`: after it, 409 with the code `offer_lapsed`; answered already, 409 with "
        "`offer_answered`; no room left under your cap or today's quota, 409 `partner_cap_reached`; the merchant "
        "withdrew meanwhile, 409 `application_closed`. Without a reference, 400 naming `reference`. Answering "
        "again after a lost response gets `offer_answered`: read the offer to see the answer that stands.",
        request=InputSerializer,
        responses={200: OfferSerializer, 403: NOT_A_PARTNER, 404: NOT_YOURS},
        examples=[examples.ACCEPT_REQUEST, examples.OFFER_ACCEPTED],
    )
    def post(self, request: Request, pk: int) -> Response:
        offer = _own_offer(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = partner_offer_accept(offer=offer, by=request.user, reference=data.validated_data["reference"])
        return _answer(request, accepted)


class PartnerOfferDeclineApi(APIView):
    permission_classes = [IsFundingPartner]

    class InputSerializer(serializers.Serializer):
        reference = serializers.CharField(max_length=REFERENCE_MAX_LENGTH, help_text="Your own reference.")
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text="Why you decline (kept with the offer).")

    @extend_schema(
        operation_id="partner_offers_decline",
        summary="Decline an offered loan",
        description="The loan goes to the next eligible lender. The same rules as accepting: 409 `offer_lapsed` "
        "after `answer_by`, 409 `offer_answered` when already answered, 400 naming a missing field.",
        request=InputSerializer,
        responses={200: OfferSerializer, 403: NOT_A_PARTNER, 404: NOT_YOURS},
        examples=[examples.DECLINE_REQUEST, examples.OFFER_DECLINED],
    )
    def post(self, request: Request, pk: int) -> Response:
        offer = _own_offer(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declined = partner_offer_decline(
            offer=offer,
            by=request.user,
            reference=data.validated_data["reference"],
            reason=data.validated_data["reason"],
        )
        return _answer(request, declined)


class PartnerOfferMerchantApi(APIView):
    """The merchant of an offered loan, as far as the partner may see it for its own risk check."""

    permission_classes = [IsFundingPartner]

    class OutputSerializer(serializers.Serializer):
        class DecisionSerializer(serializers.Serializer):
            class ReasonSerializer(serializers.Serializer):
                code = serializers.CharField()
                feature = serializers.CharField(allow_blank=True)
                message_en = serializers.CharField()
                message_zh = serializers.CharField()

            outcome = serializers.CharField(help_text="approve, refer or decline.")
            grade = serializers.CharField(allow_blank=True)
            score = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
            probability_of_default = serializers.DecimalField(max_digits=7, decimal_places=6, allow_null=True)
            decided_at = serializers.DateTimeField()
            features = serializers.DictField(help_text="Every feature the decision was made from, by name.")
            reasons = ReasonSerializer(many=True, help_text="At most four, most important first.")

        class SalesSerializer(serializers.Serializer):
            class MonthSerializer(serializers.Serializer):
                month = serializers.DateField(help_text="The month's first day.")
                gross_sales = serializers.DecimalField(**MONEY)
                refunds = serializers.DecimalField(**MONEY)
                net_sales = serializers.DecimalField(**MONEY)
                transaction_count = serializers.IntegerField()
                days = serializers.IntegerField(help_text="Days with sales on file in the month.")

            class SummarySerializer(serializers.Serializer):
                first_month = serializers.DateField()
                last_month = serializers.DateField()
                gross_sales = serializers.DecimalField(**MONEY)
                refunds = serializers.DecimalField(**MONEY)
                months_with_sales = serializers.IntegerField()
                average_month = serializers.DecimalField(**MONEY, allow_null=True)

            source = serializers.CharField(help_text="Always platform: the payment platform's own settlement feed.")
            months = MonthSerializer(many=True, help_text="The last twelve full months, oldest first.")
            summary = SummarySerializer()

        offer = serializers.IntegerField()
        credit_code = serializers.CharField(help_text="The unified social credit code, masked.")
        legal_rep_id = serializers.CharField(help_text="The legal representative's resident ID number, masked.")
        industry = serializers.CharField()
        industry_label = serializers.CharField()
        province = serializers.CharField()
        region = serializers.CharField()
        city = serializers.CharField()
        months_active = serializers.IntegerField(allow_null=True, help_text="Months trading on the platform.")
        decision = DecisionSerializer(allow_null=True, help_text="The automated decision on this application.")
        sales = SalesSerializer()

    @extend_schema(
        operation_id="partner_offers_merchant_retrieve",
        summary="The offered merchant's file, for your own risk check",
        description="Identifiers masked; the automated decision's features and reasons; monthly sales of the last "
        "twelve full months from the payment platform's own settlement feed (never sales the merchant declared "
        "itself). Only for a merchant offered to you: any other offer answers 404.",
        responses={200: OutputSerializer, 403: NOT_A_PARTNER, 404: NOT_YOURS},
        examples=[examples.MERCHANT_FILE],
    )
    def get(self, request: Request, pk: int) -> Response:
        offer = _own_offer(request, pk)
        file = offered_merchant(offer=offer)
        merchant, decision = file.merchant, file.decision
        document = {
            "offer": offer.pk,
            "credit_code": file.credit_code_masked,
            "legal_rep_id": file.legal_rep_id_masked,
            "industry": merchant.industry,
            "industry_label": merchant.get_industry_display(),
            "province": merchant.province,
            "region": merchant.get_province_display(),
            "city": merchant.city,
            "months_active": file.months_active,
            "decision": None
            if decision is None
            else {
                "outcome": decision.outcome,
                "grade": decision.grade,
                "score": decision.score,
                "probability_of_default": decision.probability_of_default,
                "decided_at": decision.decided_at,
                "features": (decision.snapshot or {}).get("features", {}),
                "reasons": [
                    {
                        "code": str(reason.get("code", "")),
                        "feature": str(reason.get("feature") or ""),
                        "message_en": str(reason.get("message_en", "")),
                        "message_zh": str(reason.get("message_zh", "")),
                    }
                    for reason in decision.reasons or []
                ],
            },
            "sales": {"source": "platform", "months": file.months, "summary": file.summary},
        }
        return Response(self.OutputSerializer(document).data)


urlpatterns = [
    path("offers/", PartnerOfferListApi.as_view(), name="partner-offer-list"),
    path("offers/<int:pk>/", PartnerOfferDetailApi.as_view(), name="partner-offer-detail"),
    path("offers/<int:pk>/accept/", PartnerOfferAcceptApi.as_view(), name="partner-offer-accept"),
    path("offers/<int:pk>/decline/", PartnerOfferDeclineApi.as_view(), name="partner-offer-decline"),
    path("offers/<int:pk>/merchant/", PartnerOfferMerchantApi.as_view(), name="partner-offer-merchant"),
]
