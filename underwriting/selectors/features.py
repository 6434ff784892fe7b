"""What the engine measures from a merchant's own sales history, set-based for any number of merchants.

``compute_features`` runs exactly two aggregate queries whatever the number of merchants and the length of
their histories: one row per merchant (first and last day with sales, customers of the last 90 days) and one
row per merchant and calendar month of the year before the decision (``TruncMonth``). Everything else is
arithmetic in Python over at most twelve monthly rows per merchant, in ``Decimal``.

Windows, for a decision on ``as_of`` (nothing dated after ``as_of`` is ever read):

- *the year*: the twelve full calendar months before ``as_of``'s month. The running month is left out because
  it is incomplete: a decision on the 3rd would otherwise compare three days with whole months.
- *trading months*: the months of the year from the month of the merchant's first sale on. A month inside that
  span without a single sale counts as zero (a gap is information); months before the first sale do not count,
  so a merchant that opened in March is not averaged over an empty January.
- a *sale* is a day whose gross sales are above zero; a row of zeros (a closed day on file) is not a sale.
- only the credit file is read: ``SalesDay.objects`` is the platform settlement feed's current rows. Sales a
  merchant declared itself, and versions a correction replaced, never enter a feature (``merchants.models``).

Definitions (ratios are rounded half-up to four places, money to the fen):

=========================  ==================================================================================
months_active              full months from the first sale to ``as_of`` (0 without a sale, or within a month)
sales_12m                  gross sales of the year
monthly_sales_avg          sales_12m / trading months (0 without trading months)
sales_trend                gross of the year's last 3 months / gross of the 3 before − 1 (0.10 is +10 %);
                           None when the 3 before had no sales
sales_cv                   population standard deviation / mean of the trading months' gross; None with fewer
                           than 3 trading months or a zero mean
refund_ratio               refunds of the year / gross of the year; None without sales in the year
active_day_share           days with a sale in the year / calendar days of the year from the first sale on;
                           None when the first sale is after the year (or there is none)
distinct_customers         sum of the daily distinct customers over the 90 days ending on ``as_of`` (a person
                           who buys on two days counts twice: the platform only has daily counts)
days_since_last_sale       ``as_of`` − the last day with a sale, in days; None without a sale
seasonality                strongest trading month / mean of the trading months; None as for sales_cv
amount_to_monthly_sales    requested amount / monthly_sales_avg; None without an amount or without sales
industry                   the merchant's industry code (categorical)
=========================  ==================================================================================

None means "cannot be measured"; the scorecard gives such a value the feature's worst bin
(see ``underwriting.engine.scoring``), so a thin file never scores better than a bad one.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from core.money import to_fen
from merchants.models import Merchant, SalesDay
from underwriting.choices import Feature
from underwriting.selectors.decisions import PreparedQuery

YEAR_MONTHS = 12
TREND_MONTHS = 3
CUSTOMER_WINDOW_DAYS = 90
MIN_MONTHS_FOR_VOLATILITY = 3
RATIO_PLACES = Decimal("0.0001")
ZERO = Decimal("0.00")

_DATE_FIELDS = frozenset({"as_of", "first_sale_on", "last_sale_on"})
_INTEGER_FIELDS = frozenset({"months_active", "distinct_customers", "days_since_last_sale", "trading_months"})


@dataclass(frozen=True, slots=True)
class MerchantFeatures:
    """One merchant's features on ``as_of``: one attribute per ``underwriting.choices.Feature`` value."""

    months_active: int
    sales_12m: Decimal
    monthly_sales_avg: Decimal
    sales_trend: Decimal | None
    sales_cv: Decimal | None
    refund_ratio: Decimal | None
    active_day_share: Decimal | None
    distinct_customers: int
    days_since_last_sale: int | None
    seasonality: Decimal | None
    amount_to_monthly_sales: Decimal | None
    industry: str
    # What the features were measured on.
    as_of: datetime.date
    first_sale_on: datetime.date | None
    last_sale_on: datetime.date | None
    trading_months: int

    def value(self, feature: str) -> Decimal | int | str | None:
        """The value of one feature by its ``Feature`` code."""
        return getattr(self, Feature(feature).value)

    def as_dict(self) -> dict[str, str | int | None]:
        """JSON-friendly: Decimals and dates as strings, counts as integers, None as null."""
        result: dict[str, str | int | None] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Decimal | datetime.date):
                value = str(value) if isinstance(value, Decimal) else value.isoformat()
            result[field.name] = value
        return result

    @classmethod
    def from_dict(cls, data: dict) -> MerchantFeatures:
        """The inverse of ``as_dict``: rebuild the features stored in a decision's snapshot."""
        values: dict = {}
        for name in (field.name for field in dataclasses.fields(cls)):
            raw = data.get(name)
            if name == "industry":
                values[name] = raw or ""
            elif raw is None:
                values[name] = None
            elif name in _DATE_FIELDS:
                values[name] = datetime.date.fromisoformat(raw)
            elif name in _INTEGER_FIELDS:
                values[name] = int(raw)
            else:
                values[name] = Decimal(raw)
        return cls(**values)

    def with_requested_amount(self, amount: Decimal | None) -> MerchantFeatures:
        """The same features for another requested amount (only amount_to_monthly_sales depends on it)."""
        return dataclasses.replace(
            self, amount_to_monthly_sales=_amount_ratio(amount=amount, monthly_average=self.monthly_sales_avg)
        )


def compute_features(
    *,
    merchant_ids: Iterable[int],
    as_of: datetime.date,
    requested_amounts: dict[int, Decimal] | None = None,
    industries: dict[int, str] | None = None,
) -> dict[int, MerchantFeatures]:
    """Features for every merchant in ``merchant_ids`` on ``as_of``, in a constant number of queries.

    Two aggregate queries over the sales, plus one for the merchants' industries unless ``industries``
    (merchant id → industry code) is given. A merchant without any sales gets features too (zeros and Nones).
    """
    ids = sorted(set(merchant_ids))
    if not ids:
        return {}
    if industries is None:
        industries = dict(Merchant.objects.filter(pk__in=ids).values_list("pk", "industry"))
    requested_amounts = requested_amounts or {}
    window = _Window.ending(as_of)
    if len(ids) == 1:
        span_rows = _SPANS_OF_ONE.run(merchant_id=ids[0], as_of=as_of, customers_after=window.customers_after)
        month_rows = _MONTHS_OF_ONE.run(
            merchant_id=ids[0], year_start=window.year_start, running_month=window.running_month
        )
    else:
        merchants = Q(merchant_id__in=ids)
        span_rows = list(_spans(merchants, as_of=as_of, customers_after=window.customers_after))
        month_rows = list(_months(merchants, year_start=window.year_start, running_month=window.running_month))

    spans = {row["merchant_id"]: row for row in span_rows}
    monthly: dict[int, dict[datetime.date, tuple[Decimal, Decimal, int]]] = {}
    for row in month_rows:
        monthly.setdefault(row["merchant_id"], {})[_as_date(row["month"])] = (
            to_fen(_as_decimal(row["gross"])),
            to_fen(_as_decimal(row["refund_total"])),
            int(row["sale_days"] or 0),
        )
    return {
        merchant_id: _features(
            as_of=as_of,
            months=window.months,
            span=spans.get(merchant_id, {}),
            monthly=monthly.get(merchant_id, {}),
            requested_amount=requested_amounts.get(merchant_id),
            industry=industries.get(merchant_id, "") or "",
        )
        for merchant_id in ids
    }


def merchant_features(
    *, merchant: Merchant, as_of: datetime.date, requested_amount: Decimal | None = None
) -> MerchantFeatures:
    """Features of one merchant (two queries: the merchant's industry is taken from the instance)."""
    return compute_features(
        merchant_ids=[merchant.pk],
        as_of=as_of,
        requested_amounts={merchant.pk: requested_amount} if requested_amount is not None else None,
        industries={merchant.pk: merchant.industry},
    )[merchant.pk]


@dataclass(frozen=True, slots=True)
class _Window:
    as_of: datetime.date
    year_start: datetime.date  # the first day of the year's first month
    running_month: datetime.date  # the first day of as_of's month, the end (exclusive) of the year
    customers_after: datetime.date  # the day before the 90-day customer window
    months: list[datetime.date]  # the first days of the year's twelve months, oldest first

    @classmethod
    def ending(cls, as_of: datetime.date) -> _Window:
        return cls(
            as_of=as_of,
            year_start=_month_start(as_of, months_back=YEAR_MONTHS),
            running_month=_month_start(as_of),
            customers_after=as_of - datetime.timedelta(days=CUSTOMER_WINDOW_DAYS),
            months=[_month_start(as_of, months_back=back) for back in range(YEAR_MONTHS, 0, -1)],
        )


_SOLD = Q(gross_sales__gt=0)


def _spans(merchants: Q, *, as_of: datetime.date, customers_after: datetime.date) -> QuerySet:
    """One row per merchant over its whole history up to as_of (the (merchant, date) unique index serves it)."""
    return (
        SalesDay.objects.filter(merchants, date__lte=as_of)
        .values("merchant_id")
        .annotate(
            first_sale=Min("date", filter=_SOLD),
            last_sale=Max("date", filter=_SOLD),
            customers=Sum("distinct_customers", filter=Q(date__gt=customers_after)),
        )
        .order_by()
    )


def _months(merchants: Q, *, year_start: datetime.date, running_month: datetime.date) -> QuerySet:
    """One row per merchant and month of the year: at most twelve per merchant, whatever the history's length."""
    return (
        SalesDay.objects.filter(merchants, date__gte=year_start, date__lt=running_month)
        .annotate(month=TruncMonth("date"))
        .values("merchant_id", "month")
        .annotate(gross=Sum("gross_sales"), refund_total=Sum("refunds"), sale_days=Count("id", filter=_SOLD))
        .order_by()
    )


_SPANS_OF_ONE = PreparedQuery(
    lambda merchant_id, as_of, customers_after: _spans(
        Q(merchant_id=merchant_id), as_of=as_of, customers_after=customers_after
    )
)
_MONTHS_OF_ONE = PreparedQuery(
    lambda merchant_id, year_start, running_month: _months(
        Q(merchant_id=merchant_id), year_start=year_start, running_month=running_month
    )
)


def _features(
    *,
    as_of: datetime.date,
    months: list[datetime.date],
    span: dict,
    monthly: dict[datetime.date, tuple[Decimal, Decimal, int]],
    requested_amount: Decimal | None,
    industry: str,
) -> MerchantFeatures:
    first_sale = _as_optional_date(span.get("first_sale"))
    last_sale = _as_optional_date(span.get("last_sale"))
    gross = [monthly.get(month, (ZERO, ZERO, 0))[0] for month in months]
    sales_12m = sum(gross, ZERO)
    refunds_12m = sum((monthly.get(month, (ZERO, ZERO, 0))[1] for month in months), ZERO)
    sale_days = sum(monthly.get(month, (ZERO, ZERO, 0))[2] for month in months)

    trading = (
        []
        if first_sale is None
        else [g for month, g in zip(months, gross, strict=True) if month >= _month_start(first_sale)]
    )
    monthly_average = to_fen(sales_12m / len(trading)) if trading else ZERO

    last3 = sum(gross[-TREND_MONTHS:], ZERO)
    previous3 = sum(gross[-2 * TREND_MONTHS : -TREND_MONTHS], ZERO)
    trend = _ratio(last3 / previous3 - 1) if previous3 > 0 else None

    cv = seasonality = None
    if len(trading) >= MIN_MONTHS_FOR_VOLATILITY:
        mean = sum(trading, ZERO) / len(trading)
        if mean > 0:
            variance = sum(((g - mean) ** 2 for g in trading), Decimal(0)) / len(trading)
            cv = _ratio(variance.sqrt() / mean)
            seasonality = _ratio(max(trading) / mean)

    active_share = None
    year_end = _month_start(as_of) - datetime.timedelta(days=1)  # the last day of the year's last month
    if first_sale is not None and first_sale <= year_end:
        counted_from = max(first_sale, months[0])
        active_share = _ratio(Decimal(sale_days) / Decimal((year_end - counted_from).days + 1))

    return MerchantFeatures(
        months_active=_full_months(first_sale, as_of) if first_sale is not None else 0,
        sales_12m=to_fen(sales_12m),
        monthly_sales_avg=monthly_average,
        sales_trend=trend,
        sales_cv=cv,
        refund_ratio=_ratio(refunds_12m / sales_12m) if sales_12m > 0 else None,
        active_day_share=active_share,
        distinct_customers=int(_as_decimal(span.get("customers"))),
        days_since_last_sale=(as_of - last_sale).days if last_sale is not None else None,
        seasonality=seasonality,
        amount_to_monthly_sales=_amount_ratio(amount=requested_amount, monthly_average=monthly_average),
        industry=industry,
        as_of=as_of,
        first_sale_on=first_sale,
        last_sale_on=last_sale,
        trading_months=len(trading),
    )


def _amount_ratio(*, amount: Decimal | None, monthly_average: Decimal) -> Decimal | None:
    if amount is None or monthly_average <= 0:
        return None
    return _ratio(Decimal(amount) / monthly_average)


def _ratio(value: Decimal) -> Decimal:
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def _month_start(day: datetime.date, *, months_back: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _full_months(start: datetime.date, end: datetime.date) -> int:
    """Whole months from ``start`` to ``end``: 15 January → 14 July is 5, → 15 July is 6."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def _as_date(value: datetime.date | datetime.datetime | str) -> datetime.date:
    # A truncated month comes back as a date, a datetime at midnight, or (raw from SQLite) text.
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime.datetime) else value


def _as_optional_date(value: datetime.date | datetime.datetime | str | None) -> datetime.date | None:
    return None if value is None else _as_date(value)


def _as_decimal(value: Decimal | int | float | str | None) -> Decimal:
    # Sums come back as Decimal from PostgreSQL; raw from SQLite they may be int, float or text.
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


__all__ = ["MerchantFeatures", "compute_features", "merchant_features"]
