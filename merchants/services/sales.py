"""Writing the sales history, the merchant's credit file: imports from the web form, the API and the command line."""

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


def sales_import_csv(*, merchant: Merchant, csv_file: Any, by: Any) -> SalesImportResult:
    """Import a CSV file of daily sales; a file with any bad line is refused whole (``SalesDataInvalid``)."""
    _ensure_may_import(merchant=merchant, by=by)
    days = sales_csv_read(csv_file, today=timezone.localdate())
    source = {"format": "csv", "file_name": str(getattr(csv_file, "name", "") or "")[:200]}
    return _sales_days_store(merchant=merchant, days=days, by=by, source=source)


def sales_import_rows(*, merchant: Merchant, rows: Sequence[Any], by: Any) -> SalesImportResult:
    """Import days given as mappings with the CSV's column names (the JSON API); all or nothing."""
    _ensure_may_import(merchant=merchant, by=by)
    days = sales_rows_read(rows, today=timezone.localdate())
    return _sales_days_store(merchant=merchant, days=days, by=by, source={"format": "rows"})


def _ensure_may_import(*, merchant: Merchant, by: Any) -> None:
    # ``by=None`` is the system: an operator running ``manage.py import_sales`` with shell access.
    if by is None:
        return
    if getattr(by, "is_authenticated", False) and by.is_active and (by.is_superuser or merchant.owner_id == by.pk):
        return
    raise PermissionDenied(_("Only the merchant's owner can import its sales history."))


def _sales_days_store(
    *, merchant: Merchant, days: list[SalesDayInput], by: Any, source: dict[str, str]
) -> SalesImportResult:
    """Insert new days and overwrite changed ones in a few statements; one audit row per import that wrote.

    Invariant: one row per (merchant, date) — importing the same days again adds nothing, and later
    values replace earlier ones. A merchant's imports run one at a time (the merchant row is locked),
    so the counts in the audit row describe exactly what this import changed.
    """
    first_date = min(day.date for day in days)
    last_date = max(day.date for day in days)
    with transaction.atomic():
        Merchant.objects.select_for_update().get(pk=merchant.pk)
        existing = {
            row[0]: row[1:]
            for row in SalesDay.objects.filter(merchant=merchant, date__range=(first_date, last_date)).values_list(
                "date", *_VALUE_FIELDS
            )
        }
        to_write: list[SalesDay] = []
        replaced: list[dict[str, Any]] = []
        created = unchanged = 0
        for day in days:
            new = (day.gross_sales, day.refunds, day.transaction_count, day.distinct_customers)
            old = existing.get(day.date)
            if old is None:
                created += 1
            elif tuple(old) == new:
                # Left alone so its imported_at still says when the value last changed.
                unchanged += 1
                continue
            else:
                replaced.append(_changes(day.date, old, new))
            to_write.append(SalesDay(merchant=merchant, date=day.date, **dict(zip(_VALUE_FIELDS, new, strict=True))))
        if to_write:
            SalesDay.objects.bulk_create(
                to_write,
                batch_size=500,
                update_conflicts=True,
                unique_fields=["merchant", "date"],
                update_fields=[*_VALUE_FIELDS, "imported_at"],
            )
            audit_record(
                subject=merchant,
                action="sales.import",
                by=by,
                reason=f"Imported {len(days)} days: {created} new, {len(replaced)} replaced, {unchanged} unchanged.",
                data={
                    **source,
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


def _changes(date: datetime.date, old: tuple, new: tuple) -> dict[str, Any]:
    """The fields of one replaced day that changed, as ``{field: [old, new]}`` in text (JSON has no Decimal)."""
    changed = {
        field: [str(before), str(after)]
        for field, before, after in zip(_VALUE_FIELDS, old, new, strict=True)
        if before != after
    }
    return {"date": date.isoformat(), **changed}
