"""Deferral requests over the API: the merchant asks to defer one instalment, and lists its requests.

Who may call: the loan's merchant's owner. Anyone else (another merchant, an officer, a partner) finds no loan:
404, the same as a missing one; anonymous: 401. POST honours ``Idempotency-Key``. Officers decide in the back office.
"""

from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from lending.servicing.api import examples
from lending.servicing.models import DeferralRequest, Loan
from lending.servicing.selectors.repayments import loan_for_owner
from lending.servicing.services.collections import deferral_request


class DeferralRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instalment = serializers.IntegerField(source="instalment.number")
    due_date = serializers.DateField(source="instalment.due_date", help_text="The instalment's due date now.")
    requested_due_date = serializers.DateField()
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=DeferralRequest.Status.choices)
    requested_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()


class DeferralRequestPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DeferralRequestSerializer(many=True)


def _own_loan(request: Request, pk: int) -> Loan:
    loan = loan_for_owner(user=request.user, pk=pk)
    if loan is None:
        raise NotFound
    return loan


def _requests_of(loan: Loan):
    return DeferralRequest.objects.filter(loan=loan).select_related("instalment")


class LoanDeferralRequestsApi(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        instalment = serializers.IntegerField(min_value=1, help_text="The instalment's number in the schedule.")
        new_due_date = serializers.DateField(help_text="YYYY-MM-DD: later than the due date, by at most 30 days.")
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        summary="List a loan's deferral requests, newest first",
        examples=[examples.DEFERRALS],
        responses={200: DeferralRequestPageSerializer, 404: OpenApiResponse(description="No such loan of yours.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        paginator = DefaultCursorPagination()
        paginator.ordering = ("-requested_at", "-id")
        page = paginator.paginate_queryset(_requests_of(loan), request, view=self)
        return paginator.get_paginated_response(DeferralRequestSerializer(page, many=True).data)

    @extend_schema(
        summary="Ask to defer one instalment (an officer decides)",
        examples=[examples.DEFERRAL_REQUEST, examples.DEFERRAL_ASKED],
        description="One unpaid, not yet overdue instalment of an up-to-date loan, by at most 30 days and before the "
        "next instalment's due date; one approved deferral per loan. The amount due does not change.",
        request=InputSerializer,
        responses={
            201: DeferralRequestSerializer,
            400: OpenApiResponse(description="Invalid input; `fields` names each field and the allowed dates."),
            404: OpenApiResponse(description="No such loan of yours."),
            409: OpenApiResponse(description="The loan or instalment cannot be deferred, or a request is waiting."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        instalment = loan.instalments.filter(number=data["instalment"]).first()
        if instalment is None:
            raise serializers.ValidationError(
                {
                    "instalment": [
                        _("Loan #%(id)s has instalments 1 to %(last)d.")
                        % {"id": loan.pk, "last": loan.instalments.count()}
                    ]
                }
            )
        created = deferral_request(
            loan=loan,
            instalment=instalment,
            new_due_date=data["new_due_date"],
            reason=data["reason"],
            by=request.user,
        )
        fresh = _requests_of(loan).get(pk=created.pk)
        return Response(DeferralRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)


class LoanStatementApi(APIView):
    """The loan statement as a PDF, the same document as the portal's (Chinese with English beside)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Download the loan's statement as a PDF",
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such loan of yours."),
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        from core.pdf import html_to_pdf
        from lending.servicing.web.deferrals import statement_html

        loan = _own_loan(request, pk)
        on = timezone.localdate()
        rendered = html_to_pdf(statement_html(loan=loan, on=on))
        # A plain HttpResponse: DRF's renderers would try to negotiate JSON for bytes.
        response = HttpResponse(rendered.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="loan-{loan.pk}-statement-{on.isoformat()}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


urlpatterns = [
    path("loans/<int:pk>/deferral-requests/", LoanDeferralRequestsApi.as_view(), name="loan-deferral-requests"),
    path("loans/<int:pk>/statement/", LoanStatementApi.as_view(), name="loan-statement"),
]
