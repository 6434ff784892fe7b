"""Reading the sales history: days in a range, and monthly totals for the dashboard and the officers' pages.

Each read names the source it shows. The credit file is the platform's rows (``SalesDay.objects``); a
merchant's declared rows are read only to show them, labelled, apart from the platform's.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth

from core.money import to_fen
from merchants.choices import SalesSource
from merchants.models import Merchant, SalesDay

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class MonthTotal:
    """One calendar month of a merchant's sales; a month without any day on file has zeros."""

    month: datetime.date  # the first day of the month
    gross_sales: Decimal
    refunds: Decimal
    transaction_count: int
    days: int  # days on file in the month

    @property
    def net_sales(self) -> Decimal:
        return self.gross_sales - self.refunds


@dataclass(frozen=True, slots=True)
class SalesSummary:
    """Headline figures over the last twelve full calendar months (the current month is still running)."""

    first_month: datetime.date
    last_month: datetime.date
    gross_sales: Decimal
    refunds: Decimal
    months_with_sales: int
    average_month: Decimal | None  # over the months that have sales; None when there are none


def _current(*, source: str | None) -> QuerySet[SalesDay]:
    days = SalesDay.all_rows.filter(superseded_at__isnull=True)
    return days if source is None else days.filter(source=source)


def sales_days_list(
    *,
    merchant: Merchant,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    source: str | None = None,
) -> QuerySet[SalesDay]:
    """The merchant's current days of both sources (or of ``source``), oldest first, optionally in [from, to]."""
    days = _current(source=source).filter(merchant=merchant)
    if date_from is not None:
        days = days.filter(date__gte=date_from)
    if date_to is not None:
        days = days.filter(date__lte=date_to)
    return days.order_by("date", "id")


def sales_day_versions(*, merchant: Merchant, date: datetime.date, source: str = SalesSource.PLATFORM) -> QuerySet:
    """Every version of one day, oldest first: the corrections and the figures they replaced."""
    return SalesDay.all_rows.filter(merchant=merchant, date=date, source=source).order_by("version")


def sales_days_as_known_at(*, merchant: Merchant, at: datetime.datetime) -> QuerySet[SalesDay]:
    """The platform rows as they stood at the moment ``at``: what a decision made then read.

    A row was on file from its ``imported_at`` until its ``superseded_at`` (if a correction replaced it).
    """
    return (
        SalesDay.all_rows.filter(merchant=merchant, source=SalesSource.PLATFORM, imported_at__lte=at)
        .exclude(superseded_at__lte=at)
        .order_by("date")
    )


def sales_has_declared(*, merchant: Merchant) -> bool:
    return _current(source=SalesSource.DECLARED).filter(merchant=merchant).exists()


def month_start(day: datetime.date, *, months_back: int = 0) -> datetime.date:
    """The first day of the month ``months_back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def sales_monthly_totals(
    *, merchant: Merchant, today: datetime.date, months: int = 24, source: str = SalesSource.PLATFORM
) -> list[MonthTotal]:
    """Totals of ``source``'s days for each of the ``months`` months ending with ``today``'s month, oldest first.

    One aggregate query grouped by ``TruncMonth`` (the same SQL shape on SQLite and PostgreSQL); months
    without a single day on file are filled in with zeros so a chart has no holes.
    """
    first = month_start(today, months_back=months - 1)
    rows = (
        _current(source=source)
        .filter(merchant=merchant, date__gte=first, date__lte=today)
        .annotate(month=TruncMonth("date"))
        .values("month")
        .annotate(
            gross=Sum("gross_sales"), refund_total=Sum("refunds"), transactions=Sum("transaction_count"), n=Count("id")
        )
        .order_by("month")
    )
    found = {_as_date(row["month"]): row for row in rows}
    totals = []
    for back in range(months - 1, -1, -1):
        month = month_start(today, months_back=back)
        row = found.get(month)
        totals.append(
            MonthTotal(
                month=month,
                gross_sales=to_fen(row["gross"]) if row else ZERO,
                refunds=to_fen(row["refund_total"]) if row else ZERO,
                transaction_count=row["transactions"] if row else 0,
                days=row["n"] if row else 0,
            )
        )
    return totals


def sales_summary(*, months: list[MonthTotal]) -> SalesSummary:
    """Summarise the twelve full months before the last (current) one of ``sales_monthly_totals``' list."""
    full_months = months[-13:-1]
    with_sales = [month for month in full_months if month.days]
    gross = sum((month.gross_sales for month in full_months), ZERO)
    return SalesSummary(
        first_month=full_months[0].month,
        last_month=full_months[-1].month,
        gross_sales=gross,
        refunds=sum((month.refunds for month in full_months), ZERO),
        months_with_sales=len(with_sales),
        average_month=to_fen(gross / len(with_sales)) if with_sales else None,
    )


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    # TruncMonth over a DateField gives a date; some backends hand back a datetime at midnight.
    return value.date() if isinstance(value, datetime.datetime) else value
