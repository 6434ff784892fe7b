"""Sales over the API: the merchant declares days it sold elsewhere and lists its days; the platform's feed sends
the settlement figures that make up the credit file.

A merchant's token can only ever write declared rows (a body asking for platform rows is refused, naming
``source``); the feed's token answers on the feed endpoint only (``core.api.authentication``).
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api.idempotency import IDEMPOTENCY_HEADER, IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from core.api.permissions import IsPlatformFeed
from merchants.api import examples
from merchants.choices import SalesSource
from merchants.models import Merchant, SalesDay
from merchants.selectors.sales import sales_days_list
from merchants.services.sales import merchant_for_user, sales_import_csv, sales_import_rows
from merchants.services.sales_csv import MAX_DAYS_PER_IMPORT, SalesDataError, SalesDataInvalid
from merchants.validators import normalise_code


class SalesDayCursorPagination(DefaultCursorPagination):
    # A time series reads oldest first; a day can have a platform and a declared row, so the id breaks ties.
    ordering = ("date", "id")


def _source_refused(value) -> dict:
    return {
        "code": "sales_source_refused",
        "message": _(
            "Only the payment platform's settlement feed writes platform sales; nothing was imported. "
            "Sales you add here are recorded as declared."
        ),
        "fields": {
            "source": [
                _("“%(value)s” is not allowed: leave “source” out, or send “declared”.") % {"value": value},
            ]
        },
    }


class DayInputSerializer(serializers.Serializer):
    # Text fields: every value is checked by the import service, which gives the same messages as for a
    # CSV file. Amounts are best sent as strings ("1234.50") so no digit is lost on the way.
    date = serializers.CharField(help_text="YYYY-MM-DD, today or earlier.")
    gross_sales = serializers.CharField(help_text='Yuan, up to two decimals, e.g. "12840.50".')
    refunds = serializers.CharField(help_text="Yuan, not more than gross_sales.")
    transaction_count = serializers.CharField(help_text="Whole number.")
    distinct_customers = serializers.CharField(help_text="Whole number, not more than transaction_count.")


class SalesImportApi(IdempotentMixin, generics.ListAPIView):
    """Import days into, or list days of, the requesting user's own merchant (there is no merchant id to pick)."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    pagination_class = SalesDayCursorPagination

    class FileInputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text="CSV with the header date,gross_sales,refunds,transaction_count,distinct_customers; UTF-8 or GBK."
        )

    class InputSerializer(serializers.Serializer):
        source = serializers.CharField(
            required=False, help_text='Always "declared" (the default): a merchant adds only sales taken elsewhere.'
        )
        days = DayInputSerializer(many=True, allow_empty=False, max_length=MAX_DAYS_PER_IMPORT)

    class FilterSerializer(serializers.Serializer):
        def get_fields(self):
            # "from" is a Python keyword, so the fields are declared here rather than as class attributes.
            return {
                "from": serializers.DateField(required=False),
                "to": serializers.DateField(required=False),
                "source": serializers.ChoiceField(choices=SalesSource.choices, required=False),
            }

        def validate(self, attrs):
            if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
                raise serializers.ValidationError({"to": [_("“to” must be on or after “from”.")]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        replaced = serializers.IntegerField()
        unchanged = serializers.IntegerField()
        first_date = serializers.DateField()
        last_date = serializers.DateField()

    class DayOutputSerializer(serializers.Serializer):
        date = serializers.DateField()
        gross_sales = serializers.DecimalField(max_digits=14, decimal_places=2)
        refunds = serializers.DecimalField(max_digits=14, decimal_places=2)
        transaction_count = serializers.IntegerField()
        distinct_customers = serializers.IntegerField()
        source = serializers.ChoiceField(
            choices=SalesSource.choices,
            help_text="platform: the platform's settlement feed, the credit file. declared: added by the merchant; "
            "shown to officers as evidence, never used by an automated decision.",
        )
        source_label = serializers.CharField(source="get_source_display")

    class ErrorSerializer(serializers.Serializer):
        class ProblemSerializer(serializers.Serializer):
            line = serializers.IntegerField(allow_null=True, help_text="CSV line; the header is line 1.")
            index = serializers.IntegerField(allow_null=True, help_text="Position in `days`, from 0.")
            column = serializers.CharField(allow_null=True)
            message = serializers.CharField()
            text = serializers.CharField(help_text="The problem in one sentence, with its place.")

        code = serializers.CharField()
        message = serializers.CharField()
        fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        # Present when the sales data was read and refused; a body that is not JSON at all gets only the
        # portal's usual three fields.
        errors = ProblemSerializer(many=True, required=False)
        more_errors = serializers.IntegerField(required=False, help_text="Problems not listed (only the first 50 are).")

    def get_serializer_class(self):
        return self.DayOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator asks for the model, not for rows
            return SalesDay.objects.none()
        merchant = self._merchant(self.request)
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return sales_days_list(
            merchant=merchant,
            date_from=filters.validated_data.get("from"),
            date_to=filters.validated_data.get("to"),
            source=filters.validated_data.get("source"),
        )

    @extend_schema(
        summary="List the merchant's sales days",
        description=(
            "Oldest first, in cursor pages (50 a page, `page_size` up to 200). Each day says its `source`: the "
            "platform's settlement feed, or declared by the merchant. Only the current version of a corrected day."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (inclusive)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (inclusive)."),
            OpenApiParameter("source", OpenApiTypes.STR, enum=SalesSource.values, description="Only this source."),
        ],
        responses={200: DayOutputSerializer(many=True)},
        examples=[examples.SALES_DAY],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Declare sales taken elsewhere (CSV file or JSON)",
        description=(
            "Adds days the merchant sold outside the platform, recorded as `declared`: officers see them as "
            "supporting evidence, automated decisions and limits never use them, and the platform's own rows are "
            "never touched. A `source` other than `declared` is refused (400, `sales_source_refused`). All or "
            "nothing: if any day has a problem, nothing is imported and every problem is listed by CSV line (or "
            "position in `days`) and column. Declaring a day again with other figures keeps the old ones as an "
            "earlier version."
        ),
        request={"application/json": InputSerializer, "multipart/form-data": FileInputSerializer},
        examples=[examples.SALES_DECLARE, examples.SALES_DECLARED],
        responses={
            201: OutputSerializer,
            200: OpenApiResponse(OutputSerializer, description="Nothing new: every day was already on file."),
            400: ErrorSerializer,
            403: OpenApiResponse(description="The account has no merchant (officers, partners)."),
        },
    )
    def post(self, request):
        merchant = self._merchant(request)
        source = request.data.get("source", SalesSource.DECLARED) if hasattr(request.data, "get") else None
        if source not in (None, SalesSource.DECLARED):
            return Response(_source_refused(source), status=status.HTTP_400_BAD_REQUEST)
        as_file = "file" in request.FILES or request.content_type.startswith("multipart/")
        # Input the serializers refuse is reported in the same shape as the service's problems.
        try:
            if as_file:
                data = self.FileInputSerializer(data=request.data)
                if not data.is_valid():
                    raise _as_sales_data_invalid(data.errors)
                result = sales_import_csv(
                    merchant=merchant,
                    csv_file=data.validated_data["file"],
                    by=request.user,
                    source=SalesSource.DECLARED,
                    batch_id="api",
                )
            else:
                data = self.InputSerializer(data=request.data)
                if not data.is_valid():
                    raise _as_sales_data_invalid(data.errors)
                result = sales_import_rows(
                    merchant=merchant,
                    rows=data.validated_data["days"],
                    by=request.user,
                    source=SalesSource.DECLARED,
                    batch_id="api",
                )
        except SalesDataInvalid as exc:
            return Response(_problems(exc, field="file" if as_file else "days"), status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.OutputSerializer(result).data, status=code)

    @staticmethod
    def _merchant(request):
        merchant = merchant_for_user(user=request.user)
        if merchant is None:
            raise PermissionDenied(_("This account has no merchant; only a merchant's owner has sales to import."))
        return merchant


class SalesFeedApi(IdempotentMixin, generics.GenericAPIView):
    """The payment platform's settlement feed: one merchant's days of one batch, written as platform rows.

    Only the feed's credential reaches it (``IsPlatformFeed``, and its token is good for nothing else). Every
    call carries an ``Idempotency-Key`` (a retried delivery is answered, not applied twice) and the feed's
    ``batch_id``, which each row and the audit row keep.
    """

    permission_classes = [IsPlatformFeed]
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        batch_id = serializers.CharField(max_length=100, help_text="The feed's settlement batch these days belong to.")
        merchant_credit_code = serializers.CharField(help_text="The merchant's unified social credit code.")
        days = DayInputSerializer(many=True, allow_empty=False, max_length=MAX_DAYS_PER_IMPORT)

    class OutputSerializer(serializers.Serializer):
        batch_id = serializers.CharField()
        merchant_credit_code = serializers.CharField()
        created = serializers.IntegerField()
        replaced = serializers.IntegerField(help_text="Days corrected: each is a new version, the old one is kept.")
        unchanged = serializers.IntegerField()
        first_date = serializers.DateField()
        last_date = serializers.DateField()

    def get_serializer_class(self):
        return self.InputSerializer

    @extend_schema(
        operation_id="platform_sales_feed",
        summary="Send settlement days (the platform's feed)",
        description=(
            "For the payment platform's own credential only. Writes the days as platform rows, the credit file "
            "that automated decisions read. A day already on file with other figures is corrected as a new "
            "version; the old figures stay on file and in the audit trail. All or nothing. Requires an "
            "`Idempotency-Key` header."
        ),
        request=InputSerializer,
        examples=[examples.FEED_BATCH, examples.FEED_WRITTEN],
        responses={
            201: OutputSerializer,
            200: OpenApiResponse(OutputSerializer, description="Nothing new: every day was already on file."),
            400: SalesImportApi.ErrorSerializer,
            403: OpenApiResponse(description="Not the platform's feed credential."),
        },
    )
    def post(self, request):
        if not request.headers.get(IDEMPOTENCY_HEADER):
            raise ValidationError({IDEMPOTENCY_HEADER: [_("The feed must send an Idempotency-Key with every batch.")]})
        data = self.InputSerializer(data=request.data)
        try:
            if not data.is_valid():
                raise _as_sales_data_invalid(data.errors)
            code = normalise_code(data.validated_data["merchant_credit_code"])
            merchant = Merchant.objects.filter(credit_code=code).first()
            if merchant is None:
                unknown = _("No merchant has the credit code %(code)s.") % {"code": code}
                raise ValidationError({"merchant_credit_code": [unknown]})
            result = sales_import_rows(
                merchant=merchant,
                rows=data.validated_data["days"],
                by=request.user,
                source=SalesSource.PLATFORM,
                batch_id=data.validated_data["batch_id"],
            )
        except SalesDataInvalid as exc:
            return Response(_problems(exc, field="days"), status=status.HTTP_400_BAD_REQUEST)
        answer = {
            "batch_id": data.validated_data["batch_id"],
            "merchant_credit_code": merchant.credit_code,
            **_counts(result),
        }
        code = status.HTTP_201_CREATED if result.created or result.replaced else status.HTTP_200_OK
        return Response(self.OutputSerializer(answer).data, status=code)


def _counts(result) -> dict:
    return {
        "created": result.created,
        "replaced": result.replaced,
        "unchanged": result.unchanged,
        "first_date": result.first_date,
        "last_date": result.last_date,
    }


def _problems(exc: SalesDataInvalid, *, field: str) -> dict:
    """The API's error shape (code, message, fields) with each problem's place spelled out in ``errors``.

    ``fields`` is keyed by column; a problem with no column (a whole line, the header, the size) is put
    under the request field it came in: ``file`` or ``days``.
    """
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        fields.setdefault(error.column or field, []).append(str(error))
    return {
        "code": "invalid_sales_data",
        "message": _("The sales data has %(n)d problem(s); nothing was imported.") % {"n": exc.total},
        "fields": fields,
        "errors": [_problem(error) for error in exc.errors],
        "more_errors": exc.more,
    }


def _as_sales_data_invalid(errors: dict) -> SalesDataInvalid:
    """DRF's errors for the JSON body as the import's problems, each day's located by its position."""
    problems = []
    for field, detail in errors.items():
        per_day = _per_day(detail) if field == "days" else None
        if per_day is None:
            where = None if field == "non_field_errors" else field
            problems.extend(SalesDataError(str(message), column=where) for message in _flatten(detail))
            continue
        for index, day_errors in per_day:
            if not isinstance(day_errors, dict):  # the item itself is wrong (null, not an object)
                problems.extend(SalesDataError(str(message), index=index) for message in _flatten(day_errors))
                continue
            for column, messages in day_errors.items():
                where = None if column == "non_field_errors" else column
                problems.extend(SalesDataError(str(m), index=index, column=where) for m in _flatten(messages))
    return SalesDataInvalid(problems)


def _per_day(detail) -> list | None:
    """(position, errors) for each bad day, or None when the error is about the list as a whole."""
    # DRF gives a list with one entry per day (empty for good days), or since 3.15 {position: errors}.
    if isinstance(detail, dict) and detail and all(isinstance(key, int) for key in detail):
        return sorted(detail.items())
    if isinstance(detail, list) and detail and all(isinstance(item, (dict, list)) for item in detail):
        return [(index, item) for index, item in enumerate(detail) if item]
    return None


def _flatten(messages) -> list:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value)]
    return [messages]


def _problem(error: SalesDataError) -> dict:
    return {
        "line": error.line,
        "index": error.index,
        "column": error.column,
        "message": error.message,
        "text": str(error),
    }
