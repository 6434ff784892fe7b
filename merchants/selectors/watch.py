"""Facts the fraud watch after payout reads about merchants: platform sales over date windows, the last day with
sales, and changes to the settlement account.

Only the credit file feeds these reads (``SalesDay.objects``: the platform feed's current rows); sales a merchant
declared itself never feed an automated check. A settlement account change is read from the audit trail, the one
record of it: ``merchants.services.kyc.merchant_update_profile`` writes a ``profile.update`` row naming the fields
it changed (never their values).
"""

from __future__ import annotations

import datetime
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Max, Q

from core.models import AuditEvent
from merchants.models import Merchant, SalesDay

ZERO = Decimal("0.00")
SETTLEMENT_FIELDS = ("settlement_bank_name", "settlement_account_name", "settlement_account_number")


@dataclass(frozen=True)
class SalesWindow:
    """A request: the platform sales of ``merchant_id`` from ``start`` to ``end``, both inclusive."""

    key: Hashable
    merchant_id: int
    start: datetime.date
    end: datetime.date

    @property
    def calendar_days(self) -> int:
        return max((self.end - self.start).days + 1, 0)


@dataclass(frozen=True)
class SalesWindowTotals:
    """What the platform reported over a window: sums, the days it reported, and the days with takings."""

    gross_sales: Decimal = ZERO
    refunds: Decimal = ZERO
    days_reported: int = 0
    days_with_sales: int = 0


# Merchants per query: the OR of their date ranges stays a plan PostgreSQL handles with one index scan each.
MERCHANTS_PER_QUERY = 500


def _merged_ranges(windows: list[SalesWindow]) -> list[tuple[datetime.date, datetime.date]]:
    """The days ``windows`` cover, as few ranges as possible (a loan paid out long ago needs two, not a year)."""
    ranges: list[list[datetime.date]] = []
    for window in sorted(windows, key=lambda window: window.start):
        if ranges and window.start <= ranges[-1][1] + datetime.timedelta(days=1):
            ranges[-1][1] = max(ranges[-1][1], window.end)
        else:
            ranges.append([window.start, window.end])
    return [(start, end) for start, end in ranges]


def sales_window_totals(*, windows: Iterable[SalesWindow]) -> dict[Hashable, SalesWindowTotals]:
    """Totals of each window, by its key: one query per ``MERCHANTS_PER_QUERY`` merchants, reading only their days
    inside the windows.

    The rows are summed here rather than in the database because every window has its own dates (a loan's payout
    sets them) and windows overlap; each row read is a day some window needs.
    """
    windows = [window for window in windows if window.calendar_days > 0]
    if not windows:
        return {}
    by_merchant: dict[int, list[SalesWindow]] = {}
    for window in windows:
        by_merchant.setdefault(window.merchant_id, []).append(window)
    sums = {window.key: [ZERO, ZERO, 0, 0] for window in windows}
    merchant_ids = sorted(by_merchant)
    for first in range(0, len(merchant_ids), MERCHANTS_PER_QUERY):
        days = Q()
        for merchant_id in merchant_ids[first : first + MERCHANTS_PER_QUERY]:
            for start, end in _merged_ranges(by_merchant[merchant_id]):
                days |= Q(merchant_id=merchant_id, date__gte=start, date__lte=end)
        rows = SalesDay.objects.filter(days).order_by().values_list("merchant_id", "date", "gross_sales", "refunds")
        for merchant_id, day, gross, refunds in rows.iterator(chunk_size=5000):
            for window in by_merchant[merchant_id]:
                if window.start <= day <= window.end:
                    total = sums[window.key]
                    total[0] += gross
                    total[1] += refunds
                    total[2] += 1
                    total[3] += 1 if gross > 0 else 0
    return {key: SalesWindowTotals(*values) for key, values in sums.items()}


def sales_last_day_with_sales(*, merchant_ids: Iterable[int], before: datetime.date) -> dict[int, datetime.date]:
    """Each merchant's last platform day before ``before`` with takings (a merchant with none is left out)."""
    rows = (
        SalesDay.objects.filter(merchant_id__in=list(merchant_ids), date__lt=before, gross_sales__gt=0)
        .order_by()
        .values("merchant_id")
        .annotate(last=Max("date"))
        .values_list("merchant_id", "last")
    )
    return dict(rows)


@dataclass(frozen=True)
class SettlementAccountChange:
    merchant_id: int
    at: datetime.datetime
    fields: list[str]
    by_label: str


def settlement_account_changes(
    *, merchant_ids: Iterable[int], since: datetime.datetime
) -> dict[int, list[SettlementAccountChange]]:
    """Changes to each merchant's settlement account (bank, name or number) recorded after ``since``, oldest first."""
    merchant_ids = [str(pk) for pk in merchant_ids]
    if not merchant_ids:
        return {}
    events = (
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(Merchant),
            object_id__in=merchant_ids,
            action="profile.update",
            at__gt=since,
        )
        .select_related("actor")
        .order_by("at", "id")
    )
    changes: dict[int, list[SettlementAccountChange]] = {}
    # ``data__fields__contains`` is not portable to SQLite, so the few profile rows are filtered here.
    for event in events:
        fields = [field for field in (event.data or {}).get("fields", []) if field in SETTLEMENT_FIELDS]
        if fields:
            changes.setdefault(int(event.object_id), []).append(
                SettlementAccountChange(
                    merchant_id=int(event.object_id), at=event.at, fields=fields, by_label=event.actor_label
                )
            )
    return changes


def merchants_settlement_accounts(*, merchant_ids: Iterable[int]) -> dict[int, str]:
    """Each merchant's settlement account number now."""
    return dict(
        Merchant.objects.filter(pk__in=list(merchant_ids)).order_by().values_list("pk", "settlement_account_number")
    )


__all__ = [
    "SETTLEMENT_FIELDS",
    "SalesWindow",
    "SalesWindowTotals",
    "SettlementAccountChange",
    "merchants_settlement_accounts",
    "sales_last_day_with_sales",
    "sales_window_totals",
    "settlement_account_changes",
]
