"""Writing sales history: the platform's settlement feed (the credit file) and the merchant's own declarations.

Platform rows come only from the feed's API credential and operators' commands; a merchant declares sales it
took elsewhere, which are kept apart and labelled as declared everywhere they appear.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role
from core.services.audit import audit_record
from merchants.choices import SalesSource
from merchants.models import Merchant, SalesDay
from merchants.services.kyc import merchant_get_or_create
from merchants.services.sales_csv import SalesDayInput, sales_csv_read, sales_rows_read

# The audit row lists each replaced day with its old and new values; past this many it only counts them,
# so a re-import of five years cannot produce a megabyte of JSON.
AUDIT_REPLACED_DAYS_LISTED = 100
_VALUE_FIELDS = ("gross_sales", "refunds", "transaction_count", "distinct_customers")


@dataclass(frozen=True, slots=True)
class SalesImportResult:
    """What an import did: days added, days whose values changed, days that were already the same."""

    created: int
    replaced: int
    unchanged: int
    first_date: datetime.date
    last_date: datetime.date

    @property
    def total(self) -> int:
        return self.created + self.replaced + self.unchanged


def merchant_for_user(*, user: Any) -> Merchant | None:
    """The merchant a signed-in user acts for: its own, created on first use for a merchant owner.

    Officers and partners have no merchant and get None, so nothing can be imported in their name;
    nor can anyone reach another merchant's history, because the merchant always comes from the user.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    merchant = Merchant.objects.filter(owner=user).first()
    if merchant is None and not user.is_staff and user.has_role(Role.MERCHANT_OWNER):
        # A new owner who has not opened the dashboard yet starts with an empty draft, as the dashboard would.
        merchant = merchant_get_or_create(owner=user)
    return merchant


class SalesSourceRefused(PermissionDenied):
    """A write of platform rows by someone who is not the platform feed or an operator."""


def sales_import_csv(
    *, merchant: Merchant, csv_file: Any, by: Any, source: SalesSource, batch_id: str = ""
) -> SalesImportResult:
    """Import a CSV file of daily sales; a file with any bad line is refused whole (``SalesDataInvalid``)."""
    _ensure_may_import(merchant=merchant, by=by, source=source)
    days = sales_csv_read(csv_file, today=timezone.localdate())
    details = {"format": "csv", "file_name": str(getattr(csv_file, "name", "") or "")[:200]}
    return _sales_days_store(merchant=merchant, days=days, by=by, source=source, batch_id=batch_id, details=details)


def sales_import_rows(
    *, merchant: Merchant, rows: Sequence[Any], by: Any, source: SalesSource, batch_id: str = ""
) -> SalesImportResult:
    """Import days given as mappings with the CSV's column names (the JSON APIs); all or nothing."""
    _ensure_may_import(merchant=merchant, by=by, source=source)
    days = sales_rows_read(rows, today=timezone.localdate())
    return _sales_days_store(
        merchant=merchant, days=days, by=by, source=source, batch_id=batch_id, details={"format": "rows"}
    )


def is_platform_feed(user: Any) -> bool:
    """The user is the payment platform's feed: an active account holding only that scoped role."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.has_role(Role.PLATFORM_FEED))


def _ensure_may_import(*, merchant: Merchant, by: Any, source: SalesSource) -> None:
    """Platform rows: the feed or an operator; declared rows: the merchant's own owner. Nobody else.

    ``by=None`` is the system: an operator running ``manage.py import_sales`` (or the demo loader) with shell
    access. A merchant declares its own sales only; it can never write, replace or remove a platform row.
    """
    if source == SalesSource.PLATFORM:
        if by is None or is_platform_feed(by):
            return
        raise SalesSourceRefused(
            _(
                "Only the payment platform's settlement feed writes platform sales. "
                "Sales you add yourself are recorded as declared."
            )
        )
    if source != SalesSource.DECLARED:
        raise ValueError(f"Unknown sales source {source!r}")
    if getattr(by, "is_authenticated", False) and by.is_active and merchant.owner_id == by.pk:
        return
    raise PermissionDenied(_("Only the merchant's owner can declare its sales."))


def _sales_days_store(
    *,
    merchant: Merchant,
    days: list[SalesDayInput],
    by: Any,
    source: SalesSource,
    batch_id: str,
    details: dict[str, str],
) -> SalesImportResult:
    """Insert new days and correct changed ones as new versions; one audit row per import that wrote.

    Invariants: one current row per (merchant, date, source), and nothing is overwritten: a day whose figures
    change gets a new version and the old row keeps its figures, marked superseded, so every decision that
    read it can still be explained. Importing the same figures again adds nothing. A merchant's imports run
    one at a time (the merchant row is locked), so the counts in the audit row describe exactly this import.
    Only rows of ``source`` are read or written: a declaration never touches the platform's rows.
    """
    first_date = min(day.date for day in days)
    last_date = max(day.date for day in days)
    with transaction.atomic():
        Merchant.objects.select_for_update().get(pk=merchant.pk)
        existing = {
            row[0]: row[1:]
            for row in SalesDay.all_rows.filter(
                merchant=merchant, source=source, superseded_at__isnull=True, date__range=(first_date, last_date)
            ).values_list("date", "pk", "version", *_VALUE_FIELDS)
        }
        to_write: list[SalesDay] = []
        superseded: list[int] = []
        replaced: list[dict[str, Any]] = []
        created = unchanged = 0
        for day in days:
            new = (day.gross_sales, day.refunds, day.transaction_count, day.distinct_customers)
            old = existing.get(day.date)
            version = 1
            if old is None:
                created += 1
            elif tuple(old[2:]) == new:
                # Left alone so its imported_at still says when the value last changed.
                unchanged += 1
                continue
            else:
                superseded.append(old[0])
                version = old[1] + 1
                replaced.append(_changes(day.date, old[2:], new, version=version))
            to_write.append(
                SalesDay(
                    merchant=merchant,
                    date=day.date,
                    source=source,
                    version=version,
                    batch_id=batch_id,
                    **dict(zip(_VALUE_FIELDS, new, strict=True)),
                )
            )
        if to_write:
            now = timezone.now()
            # The old versions step aside first, so the one-current-row constraint holds at every statement.
            SalesDay.all_rows.filter(pk__in=superseded).update(superseded_at=now)
            SalesDay.all_rows.bulk_create(to_write, batch_size=500)
            audit_record(
                subject=merchant,
                action="sales.import",
                by=by,
                reason=(
                    f"Imported {len(days)} {source} days: {created} new, {len(replaced)} corrected "
                    f"(old versions kept), {unchanged} unchanged."
                ),
                data={
                    **details,
                    "source": str(source),
                    "batch_id": batch_id,
                    "first_date": first_date.isoformat(),
                    "last_date": last_date.isoformat(),
                    "created": created,
                    "replaced": len(replaced),
                    "unchanged": unchanged,
                    "replaced_days": replaced[:AUDIT_REPLACED_DAYS_LISTED],
                    "replaced_days_not_listed": max(len(replaced) - AUDIT_REPLACED_DAYS_LISTED, 0),
                },
            )
    return SalesImportResult(
        created=created, replaced=len(replaced), unchanged=unchanged, first_date=first_date, last_date=last_date
    )


def _changes(date: datetime.date, old: tuple, new: tuple, *, version: int) -> dict[str, Any]:
    """The fields of one corrected day that changed, as ``{field: [old, new]}`` in text (JSON has no Decimal)."""
    changed = {
        field: [str(before), str(after)]
        for field, before, after in zip(_VALUE_FIELDS, old, new, strict=True)
        if before != after
    }
    return {"date": date.isoformat(), "version": version, **changed}
