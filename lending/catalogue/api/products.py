"""Loan products and quotes over the API. Both are public: the calculator on the portal's home page uses them.

Quotes create nothing and are priced at the standard grade (C), so they are indicative; an underwriting decision
gives the merchant its own grade later.
"""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import AmountField
from core.api.filters import choice_filter
from core.api.pagination import DefaultCursorPagination
from core.api.throttling import ScopedUserRateThrottle
from lending.catalogue.api import examples
from lending.catalogue.models import (
    INDICATIVE_GRADE,
    DayCountChoice,
    LoanProduct,
    ProductKind,
    RepaymentMethodChoice,
)
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS, WINDOW_DAYS, WINDOW_SHARE
from lending.catalogue.selectors.products import products_active
from lending.catalogue.services.products import (
    price_label,
    product_by_code,
    quote_by_grade,
    quote_conventions,
    quote_for_product,
)
from underwriting.choices import GRADES

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 9, "decimal_places": 6}


class QuotesThrottle(ScopedUserRateThrottle):
    """Quotes per client address: a merchant moving the calculator's controls asks a few dozen a minute at most."""

    scope = "quotes"
    default_rate = "60/min"


class ProductCursorPagination(DefaultCursorPagination):
    # The catalogue in the order products were added, not newest first.
    ordering = "id"


class ProductOutputSerializer(serializers.ModelSerializer):
    """A product as the calculator and API clients see it; prices are fractions, amounts strings."""

    class MethodSerializer(serializers.Serializer):
        value = serializers.CharField(help_text="The method's code, as a quote's repayment_method takes it.")
        label = serializers.CharField()

    class GradePriceSerializer(serializers.Serializer):
        grade = serializers.ChoiceField(choices=GRADES)
        price = serializers.DecimalField(**RATE)
        label = serializers.CharField(help_text="The price as a person reads it, e.g. “12.00 % a year”.")

    class SalesShareSerializer(serializers.Serializer):
        share_rate = serializers.DecimalField(**RATE, help_text="Fraction of each day's sales kept to repay.")
        window_days = serializers.IntegerField()
        window_minimum_share = serializers.CharField(help_text="Least share of the total repaid in each window.")
        max_months = serializers.IntegerField()

    name = serializers.CharField(help_text="The name in the request's language.")
    amount_min = serializers.DecimalField(**MONEY)
    amount_max = serializers.DecimalField(**MONEY)
    allowed_terms = serializers.ListField(
        child=serializers.IntegerField(), help_text="In term_unit; empty for a sales-share advance."
    )
    terms_description = serializers.CharField(source="describe_terms")
    repayment_methods = serializers.SerializerMethodField(help_text="The first is the product's standard method.")
    price_basis = serializers.CharField()
    indicative_grade = serializers.SerializerMethodField(help_text="The grade a public quote is priced at.")
    prices = serializers.SerializerMethodField()
    sales_share = serializers.SerializerMethodField()
    origination_fee_rate = serializers.DecimalField(**RATE)
    origination_fee_fixed = serializers.DecimalField(**MONEY)
    late_fee_daily_rate = serializers.DecimalField(**RATE)
    late_fee_fixed = serializers.DecimalField(**MONEY)
    prepayment_fee_rate = serializers.DecimalField(**RATE)

    class Meta:
        model = LoanProduct
        fields = [
            "code",
            "name",
            "name_zh",
            "name_en",
            "kind",
            "currency",
            "amount_min",
            "amount_max",
            "term_unit",
            "allowed_terms",
            "terms_description",
            "repayment_methods",
            "price_basis",
            "indicative_grade",
            "prices",
            "day_count",
            "origination_fee_rate",
            "origination_fee_fixed",
            "origination_fee_timing",
            "late_fee_daily_rate",
            "late_fee_fixed",
            "grace_days",
            "prepayment_policy",
            "prepayment_fee_rate",
            "offer_validity_days",
            "deferral_max_days",
            "deferrals_per_loan",
            "sales_share",
        ]
        read_only_fields = fields

    @extend_schema_field(MethodSerializer(many=True))
    def get_repayment_methods(self, product: LoanProduct) -> list[dict]:
        return [
            {"value": method, "label": str(RepaymentMethodChoice(method).label)} for method in product.repayment_methods
        ]

    def get_indicative_grade(self, product: LoanProduct) -> str:
        return INDICATIVE_GRADE

    @extend_schema_field(GradePriceSerializer(many=True))
    def get_prices(self, product: LoanProduct) -> list[dict]:
        rows = []
        for grade in GRADES:
            price = product.price_for(grade)
            rows.append({"grade": grade, "price": price, "label": price_label(basis=product.price_basis, price=price)})
        return self.GradePriceSerializer(rows, many=True).data

    @extend_schema_field(SalesShareSerializer(allow_null=True))
    def get_sales_share(self, product: LoanProduct) -> dict | None:
        if not product.is_sales_share:
            return None
        return self.SalesShareSerializer(
            {
                "share_rate": product.sales_share_rate,
                "window_days": WINDOW_DAYS,
                "window_minimum_share": f"1/{WINDOW_SHARE}",
                "max_months": TERM_LIMIT_MONTHS,
            }
        ).data


class ProductFilter(django_filters.FilterSet):
    kind = choice_filter(ProductKind.choices, help_text="The kind of product.")

    class Meta:
        model = LoanProduct
        fields = ["kind"]


class ProductListApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ProductOutputSerializer
    pagination_class = ProductCursorPagination
    filterset_class = ProductFilter

    def get_queryset(self):
        return products_active()

    @extend_schema(
        summary="List the loan products on offer",
        description="Public: no sign-in needed.",
        examples=[examples.PRODUCT_OFFERED],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Get one loan product",
        description="Public. A product that is not offered (unknown or withdrawn) answers 404.",
        responses={200: ProductOutputSerializer, 404: OpenApiResponse(description="No such product on offer.")},
        examples=[examples.PRODUCT_OFFERED],
    )
    def get(self, request: Request, code: str) -> Response:
        product = get_object_or_404(products_active(), code=code)
        return Response(ProductOutputSerializer(product).data)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+$"}]})
class _TermField(serializers.CharField):
    """A whole number of days or months, given as a JSON number or a string; checked against the product."""


class QuoteCreateApi(APIView):
    """Price a loan on a product, at the standard grade. Public, creates nothing, limited per client address."""

    permission_classes = [AllowAny]
    # No session authentication, hence no CSRF check: the public calculator posts here from an anonymous page,
    # and a quote neither reads nor changes anything of a user's.
    authentication_classes = []
    throttle_classes = [QuotesThrottle]

    class InputSerializer(serializers.Serializer):
        # Text rather than number fields: the quote service checks each value against the product, so that a
        # bad value gets a message naming the product's own range, whatever was wrong with it.
        product = serializers.CharField(max_length=40, help_text="The product's code, from GET /api/v1/products/.")
        amount = AmountField(help_text='Yuan as a string, a dot before the fen, e.g. "50000.00".')
        term = _TermField(
            max_length=9,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="Days or months as the product's term_unit says; one of its allowed_terms. "
            "Leave out for a sales-share advance.",
        )
        start_date = serializers.DateField(
            required=False, allow_null=True, help_text="When the money would be paid out; today (default) or later."
        )
        repayment_method = serializers.CharField(
            max_length=32,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="One of the product's repayment_methods; its standard method when left out.",
        )
        average_daily_sales = AmountField(
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="Sales-share advances only (required for them): the merchant's average daily sales in yuan.",
        )

    class OutputSerializer(serializers.Serializer):
        class LineSerializer(serializers.Serializer):
            number = serializers.IntegerField()
            due_date = serializers.DateField()
            principal = serializers.DecimalField(**MONEY)
            interest = serializers.DecimalField(**MONEY)
            fee = serializers.DecimalField(**MONEY)
            payment = serializers.DecimalField(**MONEY)
            balance = serializers.DecimalField(**MONEY)

        class GradeSerializer(serializers.Serializer):
            grade = serializers.ChoiceField(choices=GRADES)
            price = serializers.DecimalField(**RATE)
            price_label = serializers.CharField()
            apr = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
            total_repayable = serializers.DecimalField(**MONEY, allow_null=True)

        class SalesShareSerializer(serializers.Serializer):
            daily_deduction = serializers.DecimalField(**MONEY)
            days_to_payoff = serializers.IntegerField(allow_null=True)
            payoff_date = serializers.DateField(allow_null=True)
            term_limit_date = serializers.DateField()
            window_minimum = serializers.DecimalField(**MONEY)
            daily_fee_rate = serializers.DecimalField(
                **RATE, help_text="The fee accrues each day at this fraction of the advance still outstanding."
            )
            maximum_fee = serializers.DecimalField(**MONEY, help_text="The most the fee can come to, however slow.")
            highest_apr = serializers.DecimalField(
                max_digits=9,
                decimal_places=2,
                help_text="The most any repayment speed can cost, in % a year: repaid the day after the payout.",
            )

        product = serializers.CharField()
        grade = serializers.ChoiceField(choices=GRADES, help_text="C, the standard grade: the quote is indicative.")
        indicative = serializers.BooleanField()
        repayment_method = serializers.ChoiceField(choices=RepaymentMethodChoice.choices)
        term = serializers.IntegerField(allow_null=True)
        term_unit = serializers.CharField()
        start_date = serializers.DateField()
        amount = serializers.DecimalField(**MONEY)
        net_disbursement = serializers.DecimalField(**MONEY, help_text="What is paid out, after any deducted fee.")
        insurance_premium = serializers.DecimalField(
            **MONEY,
            help_text="The credit-insurance premium the borrower pays (withheld from the payout, counted in the APR); "
            "0.00 when the borrower pays none.",
        )
        apr = serializers.DecimalField(
            max_digits=9, decimal_places=2, help_text="Annual percentage rate (IRR method, fees included), in %."
        )
        day_count = serializers.ChoiceField(
            choices=DayCountChoice.choices,
            help_text="The day-count convention interest accrues by, as in the contract.",
        )
        day_count_statement = serializers.CharField(help_text="How interest accrues, in the contract's words.")
        apr_method_statement = serializers.CharField(help_text="How the APR is computed, in the contract's words.")
        total_interest = serializers.DecimalField(**MONEY)
        total_fees = serializers.DecimalField(**MONEY)
        total_cost_of_credit = serializers.DecimalField(**MONEY)
        total_repayable = serializers.DecimalField(**MONEY)
        schedule = LineSerializer(many=True)
        grades = GradeSerializer(many=True, help_text="Every grade's price with the APR it gives on this loan.")
        sales_share = SalesShareSerializer(allow_null=True)

    @extend_schema(
        summary="Quote a loan: schedule, total cost and APR",
        description=(
            "Public and indicative: priced at the standard grade C. A field that is not accepted answers 400 "
            "with the field named in `fields` and what it may be."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[examples.QUOTE_REQUEST, examples.QUOTE_ANSWER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        product = product_by_code(code=values["product"])
        request_terms = {
            "amount": values["amount"],
            "term": values.get("term"),
            "start_date": values.get("start_date"),
            "repayment_method": values.get("repayment_method"),
            "average_daily_sales": values.get("average_daily_sales"),
        }
        priced = quote_for_product(product=product, **request_terms)
        grades = quote_by_grade(product=product, **request_terms)
        projection = priced.sales_share
        body = {
            "product": product.code,
            "grade": INDICATIVE_GRADE,
            "indicative": True,
            "repayment_method": priced.method.value,
            "term": None if product.is_sales_share else int(values["term"]),
            "term_unit": product.term_unit,
            "start_date": priced.cash_flows[0].on,
            "amount": priced.amount,
            "net_disbursement": priced.net_disbursement,
            "insurance_premium": priced.insurance_premium,
            "apr": priced.apr,
            **quote_conventions(product=product, priced=priced),
            "total_interest": priced.total_interest,
            "total_fees": priced.total_fees,
            "total_cost_of_credit": priced.total_cost_of_credit,
            "total_repayable": priced.total_repayable,
            "schedule": priced.lines,
            "grades": grades,
            "sales_share": projection,
        }
        return Response(self.OutputSerializer(body).data)
