"""Read queries of the daily servicing: days-past-due buckets, sales-share breaches and the live payoff projection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from core.models import AuditEvent
from core.money import to_fen
from lending.catalogue.money.dates import add_months
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS
from lending.servicing.models import Instalment, Loan, LoanState, instalment_owed_expression
from lending.servicing.services.daily import BREACH_ACTION, NEAR_BREACH_ACTION, SALES_AVERAGE_DAYS
from merchants.models import SalesDay

ZERO = Decimal("0.00")
# (key, first day, last day or None): the collections buckets of days past due.
DPD_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
IN_ARREARS = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)


def _bucket_q(first: int, last: int | None, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}days_past_due__gte": first})
    if last is not None:
        q &= Q(**{f"{prefix}days_past_due__lte": last})
    return q


def loans_by_dpd_bucket() -> dict[str, dict[str, Decimal | int]]:
    """Loans in arrears by days past due (1-30, 31-60, 61-90, 90+): how many, and their principal still owed.

    One aggregate query over the instalments of loans in arrears; the balance is principal due less principal paid.
    """
    balance = F("principal_due") - F("principal_paid")
    aggregates = {}
    for position, (_key, first, last) in enumerate(DPD_BUCKETS):
        in_bucket = _bucket_q(first, last, prefix="loan__")
        aggregates[f"count_{position}"] = Count("loan", distinct=True, filter=in_bucket)
        aggregates[f"balance_{position}"] = Coalesce(Sum(balance, filter=in_bucket), ZERO)
    totals = Instalment.objects.filter(loan__state__in=IN_ARREARS, loan__days_past_due__gt=0).aggregate(**aggregates)
    return {
        key: {"count": totals[f"count_{position}"], "balance": to_fen(totals[f"balance_{position}"])}
        for position, (key, _first, _last) in enumerate(DPD_BUCKETS)
    }


def loans_in_dpd_bucket(*, bucket: str) -> QuerySet[Loan]:
    """The loans in arrears in one bucket (a key of ``DPD_BUCKETS``), most days past due first."""
    bounds = {key: (first, last) for key, first, last in DPD_BUCKETS}
    if bucket not in bounds:
        raise ValueError(f"bucket must be one of {', '.join(bounds)}")
    return (
        Loan.objects.filter(_bucket_q(*bounds[bucket]), state__in=IN_ARREARS)
        .select_related("merchant")
        .order_by("-days_past_due", "id")
    )


def sales_share_breaches(*, loan: Loan | None = None, near: bool = False) -> QuerySet[AuditEvent]:
    """The audit rows of 60-day windows missed (``near=True``: of day-45 warnings), newest first; ``data['window']``
    is the window's number, with its dates, minimum and what was paid."""
    rows = AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Loan, for_concrete_model=False),
        action=NEAR_BREACH_ACTION if near else BREACH_ACTION,
    )
    if loan is not None:
        rows = rows.filter(object_id=str(loan.pk))
    return rows.order_by("-at", "-id")


@dataclass(frozen=True)
class SalesShareOutlook:
    """A sales-share advance's live projection: at the last 30 days' average sales, when it is repaid."""

    remaining: Decimal
    average_daily_sales: Decimal
    daily_deduction: Decimal
    payoff_date: date | None  # None when the average deduction is 0.00: at this rate it is never repaid
    term_limit_date: date

    @property
    def within_term_limit(self) -> bool:
        return self.payoff_date is not None and self.payoff_date <= self.term_limit_date


def sales_share_projection(*, loan: Loan, on: date) -> SalesShareOutlook:
    """Project the payoff of ``loan`` from ``on``, as the money engine does for an offer.

    The engine's rule (``lending.catalogue.money.sales_share``): the merchant sells its average every calendar day (the
    average of the last 30 calendar days, a day without sales counting as zero), each day's deduction is that
    average x the share rate rounded to the fen, deductions start the day after ``on``, the last takes what is left.
    """
    sales = SalesDay.objects.filter(
        merchant_id=loan.merchant_id, date__gte=on - timedelta(days=SALES_AVERAGE_DAYS), date__lt=on
    ).aggregate(total=Coalesce(Sum("gross_sales"), ZERO))["total"]
    average = to_fen(sales / SALES_AVERAGE_DAYS)
    share_rate = Decimal(str((loan.terms.get("sales_share") or {}).get("share_rate", "0")))
    deduction = to_fen(average * share_rate)
    remaining = loan_amount_owed(loan=loan)
    payoff = None
    if remaining <= 0:
        payoff = on
    elif deduction > 0:
        payoff = on + timedelta(days=int((remaining / deduction).to_integral_value(rounding=ROUND_CEILING)))
    return SalesShareOutlook(
        remaining=remaining,
        average_daily_sales=average,
        daily_deduction=deduction,
        payoff_date=payoff,
        term_limit_date=add_months(loan.start_date, TERM_LIMIT_MONTHS),
    )


def loan_amount_owed(*, loan: Loan) -> Decimal:
    """Everything still owed on the schedule (late fees included), less credit held."""
    owed = Instalment.objects.filter(loan=loan).aggregate(owed=Coalesce(Sum(instalment_owed_expression()), ZERO))[
        "owed"
    ]
    return to_fen(owed - loan.credit_balance)


__all__ = [
    "DPD_BUCKETS",
    "SalesShareOutlook",
    "loan_amount_owed",
    "loans_by_dpd_bucket",
    "loans_in_dpd_bucket",
    "sales_share_breaches",
    "sales_share_projection",
]


def loans_last_serviced_on() -> date | None:
    """The latest business day the nightly servicing has run for, as the loans record it (None before any)."""
    return Loan.objects.aggregate(last=Max("serviced_on"))["last"]
