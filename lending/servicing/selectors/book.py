"""The loan book as the risk firewall reads it: outstanding by dimension, days-past-due buckets, roll rates and
vintages, and the instalment rows a stress run sums over.

Every function here is a fixed number of aggregate queries, whatever the number of loans: the grouping happens in
the database and Python only reshapes the few rows that come back.

- On the book: loans active, overdue or defaulted. Outstanding: their principal due less principal paid.
- Days past due at a date ``d``: days since the earliest instalment that fell due before ``d`` and was not paid in
  full on or before ``d`` (``paid_on``); none such is current. This is the figure the daily job keeps on each loan
  today, recomputed for past dates from the instalments so month-ends can be compared.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, TruncMonth

from core.money import MoneyField, to_fen
from lending.servicing.models import Instalment, Loan, LoanState

ZERO = Decimal("0.00")
ON_BOOK = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)
DEFAULTED = LoanState.DEFAULTED
# The path from an instalment to each dimension the book is cut by.
BOOK_DIMENSIONS = {
    "product": "loan__product__code",
    "grade": "loan__grade",
    "industry": "loan__merchant__industry",
    "region": "loan__merchant__province",
}
# Paths from a loan (``book_loans``) to the facts a stress run reads.
BOOK_LOAN_FIELDS = {
    "state": "state",
    "days_past_due": "days_past_due",
    "maturity_date": "maturity_date",
    "decision_pd": "probability_of_default",
    "product": "product__code",
    "grade": "grade",
    "industry": "merchant__industry",
    "region": "merchant__province",
}
# Buckets of days past due, worst last: (key, first day, last day or None).
DPD_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
BUCKET_KEYS = tuple(key for key, _first, _last in DPD_BUCKETS)
LEFT_THE_BOOK = "closed"


def _unpaid_principal(prefix: str = "") -> F:
    return F(f"{prefix}principal_due") - F(f"{prefix}principal_paid")


def book_instalments(*, first_loan_id: int | None = None, last_loan_id: int | None = None) -> QuerySet[Instalment]:
    """The instalments of the loans on the book, optionally of loan ids in ``[first_loan_id, last_loan_id]``.

    Summing ``principal_due - principal_paid`` over them gives each loan's outstanding principal; the loan's facts
    are at the paths in ``BOOK_LOAN_FIELDS``.
    """
    rows = Instalment.objects.filter(loan__state__in=ON_BOOK)
    if first_loan_id is not None:
        rows = rows.filter(loan_id__gte=first_loan_id)
    if last_loan_id is not None:
        rows = rows.filter(loan_id__lte=last_loan_id)
    return rows


def book_loans(*, first_loan_id: int | None = None, last_loan_id: int | None = None) -> QuerySet[Loan]:
    """The loans on the book, optionally only those with ids in ``[first_loan_id, last_loan_id]``."""
    loans = Loan.objects.filter(state__in=ON_BOOK)
    if first_loan_id is not None:
        loans = loans.filter(pk__gte=first_loan_id)
    if last_loan_id is not None:
        loans = loans.filter(pk__lte=last_loan_id)
    return loans


def book_outstanding_by_loan(*, first_loan_id: int, last_loan_id: int) -> QuerySet:
    """``{"loan_id", "outstanding"}`` rows: the unpaid principal of each loan with an id in ``[first_loan_id,
    last_loan_id]``, summed over its instalments (read by index on the range, whatever the size of the book). Loans
    off the book are in it too: join it to ``book_loans`` to keep those on the book."""
    return (
        Instalment.objects.filter(loan_id__gte=first_loan_id, loan_id__lte=last_loan_id)
        .values("loan_id")
        .annotate(outstanding=Sum(_unpaid_principal(), output_field=MoneyField()))
        .order_by()
    )


def book_loan_ids(*, first_loan_id: int | None = None, last_loan_id: int | None = None) -> list[int]:
    """The ids of the loans on the book, in order, optionally only those in ``[first_loan_id, last_loan_id]``."""
    return list(
        book_loans(first_loan_id=first_loan_id, last_loan_id=last_loan_id).order_by("pk").values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class BookSlice:
    key: str
    loans: int
    outstanding: Decimal


def book_outstanding_by(*, dimension: str) -> list[BookSlice]:
    """Loans on the book and their outstanding principal by ``dimension`` (a key of ``BOOK_DIMENSIONS``), largest
    first; one grouped query."""
    path = BOOK_DIMENSIONS[dimension]
    rows = (
        book_instalments()
        .values(key=F(path))
        .annotate(
            loans=Count("loan", distinct=True),
            outstanding=Coalesce(Sum(_unpaid_principal(), output_field=MoneyField()), ZERO, output_field=MoneyField()),
        )
        .order_by("-outstanding", "key")
    )
    return [BookSlice(key=row["key"] or "", loans=row["loans"], outstanding=to_fen(row["outstanding"])) for row in rows]


def book_by_dpd_bucket() -> list[BookSlice]:
    """Loans on the book and their outstanding principal in each bucket of days past due (today's figure, kept by
    the daily job), current first; every bucket is listed, empty ones with zeros."""
    whens = []
    for key, first, last in DPD_BUCKETS:
        condition = Q(loan__days_past_due__gte=first)
        if last is not None:
            condition &= Q(loan__days_past_due__lte=last)
        whens.append(When(condition, then=Value(key)))
    rows = (
        book_instalments()
        .values(bucket=Case(*whens, output_field=CharField()))
        .annotate(
            loans=Count("loan", distinct=True),
            outstanding=Coalesce(Sum(_unpaid_principal(), output_field=MoneyField()), ZERO, output_field=MoneyField()),
        )
        .order_by()
    )
    found = {row["bucket"]: row for row in rows}
    return [
        BookSlice(
            key=key,
            loans=found[key]["loans"] if key in found else 0,
            outstanding=to_fen(found[key]["outstanding"]) if key in found else ZERO,
        )
        for key in BUCKET_KEYS
    ]


def _earliest_unpaid_due(on: datetime.date) -> Subquery:
    """Per loan: the earliest instalment due before ``on`` and not paid in full by ``on`` (None when current)."""
    return Subquery(
        Instalment.objects.filter(loan=OuterRef("pk"), due_date__lt=on)
        .filter(Q(paid_on__isnull=True) | Q(paid_on__gt=on))
        .order_by()
        .values("loan")
        .annotate(earliest=Min("due_date"))
        .values("earliest"),
        output_field=DateField(),
    )


def _bucket_at(field: str, on: datetime.date) -> Case:
    whens = [When(**{f"{field}__isnull": True}, then=Value("current"))]
    for key, _first, last in DPD_BUCKETS[1:]:
        if last is None:
            whens.append(When(**{f"{field}__isnull": False}, then=Value(key)))
        else:
            whens.append(When(**{f"{field}__gte": on - datetime.timedelta(days=last)}, then=Value(key)))
    return Case(*whens, output_field=CharField())


def _on_book_at(on: datetime.date) -> Q:
    # Paid out by then, and not yet closed (paid off, written off, recovered) by then.
    return Q(activated_at__date__lte=on) & (Q(closed_at__isnull=True) | Q(closed_at__date__gt=on))


def book_roll_counts(*, start: datetime.date, end: datetime.date) -> dict[tuple[str, str], int]:
    """How many loans on the book at ``start`` were in each bucket then and where each was at ``end``:
    ``{(bucket at start, bucket at end or "closed"): loans}``. One grouped query."""
    rows = (
        Loan.objects.filter(_on_book_at(start))
        .annotate(due_start=_earliest_unpaid_due(start), due_end=_earliest_unpaid_due(end))
        .annotate(
            bucket_start=_bucket_at("due_start", start),
            bucket_end=Case(
                When(~_on_book_at(end), then=Value(LEFT_THE_BOOK)),
                default=_bucket_at("due_end", end),
                output_field=CharField(),
            ),
        )
        .values("bucket_start", "bucket_end")
        .annotate(loans=Count("pk"))
        .order_by()
    )
    return {(row["bucket_start"], row["bucket_end"]): row["loans"] for row in rows}


@dataclass(frozen=True)
class Vintage:
    month: datetime.date  # the first day of the month the loans started
    loans: int
    principal: Decimal
    # Loans defaulted by months on book at default (0 = in the month they started).
    defaults_by_month_on_book: dict[int, int]


def book_vintages() -> list[Vintage]:
    """Loans paid out, by month of origination (their start date), with their defaults by months on book.

    Two grouped queries: the vintages, and the defaults by vintage and month of default.
    """
    paid_out = Loan.objects.filter(activated_at__isnull=False)
    vintages = (
        paid_out.values(month=TruncMonth("start_date"))
        .annotate(loans=Count("pk"), principal=Sum("principal", output_field=MoneyField()))
        .order_by("month")
    )
    defaults = (
        paid_out.filter(defaulted_at__isnull=False)
        .values(
            month=TruncMonth("start_date"), year_of=ExtractYear("defaulted_at"), month_of=ExtractMonth("defaulted_at")
        )
        .annotate(loans=Count("pk"))
        .order_by()
    )
    by_vintage: dict[datetime.date, dict[int, int]] = {}
    for row in defaults:
        month = row["month"]
        on_book = (row["year_of"] * 12 + row["month_of"]) - (month.year * 12 + month.month)
        counts = by_vintage.setdefault(month, {})
        counts[on_book] = counts.get(on_book, 0) + row["loans"]
    return [
        Vintage(
            month=row["month"],
            loans=row["loans"],
            principal=to_fen(row["principal"]),
            defaults_by_month_on_book=by_vintage.get(row["month"], {}),
        )
        for row in vintages
    ]


__all__ = [
    "BOOK_DIMENSIONS",
    "BOOK_LOAN_FIELDS",
    "BUCKET_KEYS",
    "DEFAULTED",
    "DPD_BUCKETS",
    "LEFT_THE_BOOK",
    "ON_BOOK",
    "BookSlice",
    "Vintage",
    "book_by_dpd_bucket",
    "book_instalments",
    "book_loan_ids",
    "book_loans",
    "book_outstanding_by",
    "book_outstanding_by_loan",
    "book_roll_counts",
    "book_vintages",
]
