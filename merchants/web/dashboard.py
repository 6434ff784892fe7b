"""The merchant's home page: where its KYC stands, what to do next, and its sales by month.

The chart and the headline figures are the platform's settlement figures, the credit file. Sales the merchant
declared itself are drawn on top of each month's bar in another colour, labelled "declared", and listed in
their own table: they are shown, never mixed into the figures the limit is worked out from.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from merchants.choices import DocumentKind, KycState, SalesSource
from merchants.models import Merchant
from merchants.selectors.sales import MonthTotal, sales_monthly_totals, sales_summary
from merchants.services.sales import merchant_for_user

CHART_MONTHS = 24
# The chart's drawing area in SVG user units; the SVG scales to the page width through its viewBox.
CHART_WIDTH = 720
CHART_HEIGHT = 260
CHART_LEFT = 84  # room for the amount labels of the y axis
CHART_RIGHT = 8
CHART_TOP = 12
CHART_BOTTOM = 40  # room for the month labels of the x axis
CHART_TICKS = 4
PIXEL = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Bar:
    month: MonthTotal
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    label_x: Decimal
    show_label: bool
    current: bool
    declared: MonthTotal | None = None
    declared_y: Decimal = Decimal(0)
    declared_height: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Tick:
    amount: Decimal
    y: Decimal


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    baseline: Decimal
    label_y: Decimal
    bars: list[Bar]
    ticks: list[Tick]


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "merchants/dashboard.html"

    def get(self, request, *args, **kwargs):
        self.merchant = merchant_for_user(user=request.user)
        if self.merchant is None:
            if request.user.is_staff:
                # Officers work in the back office; the merchant dashboard has nothing for them.
                return redirect("admin:index")
            raise PermissionDenied(_("This account does not belong to a merchant."))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        merchant = self.merchant
        months = sales_monthly_totals(merchant=merchant, today=timezone.localdate(), months=CHART_MONTHS)
        declared = sales_monthly_totals(
            merchant=merchant, today=timezone.localdate(), months=CHART_MONTHS, source=SalesSource.DECLARED
        )
        has_declared = any(month.days for month in declared)
        has_sales = any(month.days for month in months) or has_declared
        is_draft = merchant.kyc_state == KycState.DRAFT
        context.update(
            merchant=merchant,
            state=merchant.kyc_state,
            state_label=merchant.get_kyc_state_display(),
            missing_fields=[Merchant._meta.get_field(name).verbose_name for name in merchant.missing_profile_fields()]
            if is_draft
            else [],
            missing_documents=[DocumentKind(kind).label for kind in merchant.missing_documents()] if is_draft else [],
            months=months,
            has_sales=has_sales,
            chart=sales_chart(months, declared=declared if has_declared else None) if has_sales else None,
            declared_months=declared if has_declared else [],
            summary=sales_summary(months=months),
        )
        return context


def sales_chart(months: list[MonthTotal], *, declared: list[MonthTotal] | None = None) -> Chart:
    """Lay out one bar per month of gross sales, the last month (still running) marked as current.

    ``declared`` (the same months) are stacked on top of the platform's figures as a separate, labelled segment.

    Coordinates are computed with Decimal only because the inputs are amounts; they are pixels, not money.
    """
    plot_width = Decimal(CHART_WIDTH - CHART_LEFT - CHART_RIGHT)
    plot_height = Decimal(CHART_HEIGHT - CHART_TOP - CHART_BOTTOM)
    baseline = Decimal(CHART_TOP) + plot_height
    declared = declared or [None] * len(months)
    tallest = max(
        month.gross_sales + (extra.gross_sales if extra else 0) for month, extra in zip(months, declared, strict=True)
    )
    step = _nice_step(tallest / CHART_TICKS)
    top = step * CHART_TICKS
    slot = plot_width / len(months)
    bar_width = slot * Decimal("0.7")
    bars = []
    for position, (month, extra) in enumerate(zip(months, declared, strict=True)):
        height = plot_height * month.gross_sales / top
        extra_height = plot_height * extra.gross_sales / top if extra and extra.days else Decimal(0)
        x = CHART_LEFT + slot * position + (slot - bar_width) / 2
        bars.append(
            Bar(
                month=month,
                x=x.quantize(PIXEL),
                y=(baseline - height).quantize(PIXEL),
                width=bar_width.quantize(PIXEL),
                height=height.quantize(PIXEL),
                label_x=(x + bar_width / 2).quantize(PIXEL),
                # Every third month is labelled (and the last one), so 24 labels do not overlap.
                show_label=(len(months) - 1 - position) % 3 == 0,
                current=position == len(months) - 1,
                declared=extra if extra and extra.days else None,
                declared_y=(baseline - height - extra_height).quantize(PIXEL),
                declared_height=extra_height.quantize(PIXEL),
            )
        )
    ticks = [
        Tick(amount=step * i, y=(baseline - plot_height * i / CHART_TICKS).quantize(PIXEL))
        for i in range(CHART_TICKS + 1)
    ]
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=CHART_LEFT,
        right=CHART_WIDTH - CHART_RIGHT,
        baseline=baseline,
        label_y=baseline + 16,
        bars=bars,
        ticks=ticks,
    )


def _nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``raw`` (and at least 1 yuan)."""
    if raw <= 1:
        return Decimal(1)
    magnitude = Decimal(10) ** (raw.to_integral_value(rounding=ROUND_CEILING).adjusted())
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if magnitude * factor >= raw:
            return magnitude * factor
    return magnitude * 10
