"""Exposure limits over the API, for risk staff: each limit in force, how much is committed under it, how full it is.

Read-only: limits are changed in the back office, by two risk managers. Officers and risk managers only (403 for
merchants, partners and the platform feed). The answer is one report, computed as a whole at one moment (there is
one row per limit in force, a short list, fullest first), with the portfolio it measured the shares against.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import IsOfficer
from risk.models import LimitKind
from risk.selectors.limits import Status, limits_report

STATUSES = (Status.OK, Status.NEAR, Status.BREACH)
MONEY = {"max_digits": 16, "decimal_places": 2}


class LimitUseSerializer(serializers.Serializer):
    limit_id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The version in force.")
    kind = serializers.ChoiceField(choices=LimitKind.choices)
    key = serializers.CharField(help_text="What is limited: a credit code, an industry or division code, a code.")
    label = serializers.CharField(help_text="What is limited, as a person reads it.")
    amount = serializers.DecimalField(**MONEY, allow_null=True, help_text="The limit's amount in yuan, if set.")
    share_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, help_text="The limit as a share of the portfolio, if set."
    )
    limit_amount = serializers.DecimalField(**MONEY, help_text="What it allows today: the lower of amount and share.")
    exposure = serializers.DecimalField(
        **MONEY, help_text="Committed: principal outstanding plus offers approved or signed, not yet paid out."
    )
    headroom = serializers.DecimalField(**MONEY)
    utilisation = serializers.DecimalField(
        max_digits=9, decimal_places=4, help_text="exposure / limit_amount (1.0000 is full)."
    )
    status = serializers.ChoiceField(
        choices=STATUSES, help_text="ok; near at 90 % of the limit or more; breach above the limit."
    )


class LimitsReportSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(help_text="When the exposure was measured.")
    portfolio_exposure = serializers.DecimalField(
        **MONEY, help_text="The whole portfolio's committed exposure, the base of every share limit."
    )
    near = serializers.IntegerField(help_text="How many limits are at 90 % or more of what they allow (not above).")
    breach = serializers.IntegerField(help_text="How many limits are above what they allow.")
    limits = LimitUseSerializer(many=True)


class LimitsQuerySerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=STATUSES, required=False)
    kind = serializers.MultipleChoiceField(choices=LimitKind.choices, required=False)


EXAMPLE = OpenApiExample(
    "An industry limit near its ceiling",
    value={
        "as_of": "2026-12-03T09:30:00+08:00",
        "portfolio_exposure": "6950000.00",
        "near": 1,
        "breach": 0,
        "limits": [
            {
                "limit_id": 3,
                "version": 2,
                "kind": "industry",
                "key": "H6210",
                "label": "Restaurants (H6210)",
                "amount": "2000000.00",
                "share_percent": "30.00",
                "limit_amount": "2000000.00",
                "exposure": "1846000.00",
                "headroom": "154000.00",
                "utilisation": "0.9230",
                "status": "near",
            }
        ],
    },
    response_only=True,
)


class LimitListApi(APIView):
    permission_classes = [IsOfficer]

    @extend_schema(
        operation_id="risk_limits_list",
        summary="Utilisation of every exposure limit in force",
        description="One report: the portfolio's committed exposure, how many limits are near or in breach, and every "
        "limit in force, fullest first. Filter with `status` (ok, near, breach) and `kind`, each repeatable. Officers "
        "and risk managers only; merchants, partners and the platform feed get 403.",
        parameters=[
            OpenApiParameter("status", str, many=True, enum=list(STATUSES)),
            OpenApiParameter("kind", str, many=True, enum=list(LimitKind.values)),
        ],
        responses={
            200: LimitsReportSerializer,
            400: OpenApiResponse(description="An unknown status or kind, named in `fields`."),
            403: OpenApiResponse(description="Not an officer or risk manager."),
        },
        examples=[EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        query = LimitsQuerySerializer(
            data={key: request.query_params.getlist(key) for key in ("status", "kind") if key in request.query_params}
        )
        query.is_valid(raise_exception=True)
        statuses, kinds = query.validated_data.get("status"), query.validated_data.get("kind")
        report = limits_report()
        uses = [
            use
            for use in sorted(report.limits, key=lambda use: use.utilisation, reverse=True)
            if (not statuses or use.status in statuses) and (not kinds or use.kind in kinds)
        ]
        counts = {status: sum(1 for use in report.limits if use.status == status) for status in STATUSES}
        return Response(
            LimitsReportSerializer(
                {
                    "as_of": report.as_of,
                    "portfolio_exposure": report.portfolio_exposure,
                    "near": counts[Status.NEAR],
                    "breach": counts[Status.BREACH],
                    "limits": uses,
                }
            ).data
        )
