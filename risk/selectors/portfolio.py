"""The portfolio at a glance: every figure of the risk dashboard, read through lending's selectors.

Each figure is a fixed number of aggregate queries (the count does not grow with the portfolio): the funnel and the
rates of the applications, the book by dimension and by days past due, roll rates between month-ends, vintage curves,
and the latest stress run. Definitions are the selectors' (``lending.origination.selectors.funnel``,
``lending.servicing.selectors.book``); this module only cuts the windows and turns counts into rates.
"""

from __future__ import annotations

import calendar
import datetime
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from lending.origination.selectors.funnel import (
    DecisionRates,
    DecisionTimes,
    applications_decision_rates,
    applications_decision_times,
    applications_funnel_by_week,
)
from lending.servicing.selectors.book import (
    BOOK_DIMENSIONS,
    BUCKET_KEYS,
    BookSlice,
    book_by_dpd_bucket,
    book_outstanding_by,
    book_roll_counts,
    book_vintages,
)
from partners.selectors.exposure import lender_exposure
from risk.models.stress import StressRun, StressRunStatus
from risk.selectors.limits import LimitUse, limits_utilisation

FUNNEL_WEEKS = 26
ROLL_MONTHS = 6
# Roll rates shown: from each bucket to the next worse one.
ROLLS = tuple(itertools.pairwise(BUCKET_KEYS))


def month_end(day: datetime.date, *, back: int = 0) -> datetime.date:
    """The last day of the month ``back`` months before ``day``'s."""
    index = day.year * 12 + day.month - 1 - back
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


@dataclass(frozen=True)
class RollRow:
    start: datetime.date
    end: datetime.date
    # (from bucket, to bucket, loans in the from bucket at the start, of them in the to bucket at the end)
    rolls: list[tuple[str, str, int, int]]

    def rate(self, position: int) -> Decimal | None:
        _from, _to, base, rolled = self.rolls[position]
        return None if not base else Decimal(rolled) / Decimal(base)


def portfolio_roll_rates(*, today: datetime.date, months: int = ROLL_MONTHS) -> list[RollRow]:
    """Month-end to month-end over the last ``months`` months (the last up to today): of the loans in each bucket
    of days past due at the start, the share in the next worse bucket at the end. One query per month."""
    rows = []
    for back in range(months - 1, -1, -1):
        start = month_end(today, back=back + 1)
        end = today if back == 0 else month_end(today, back=back)
        counts = book_roll_counts(start=start, end=end)
        rolls = []
        for source, target in ROLLS:
            base = sum(loans for (was, _now), loans in counts.items() if was == source)
            rolls.append((source, target, base, counts.get((source, target), 0)))
        rows.append(RollRow(start=start, end=end, rolls=rolls))
    return rows


@dataclass(frozen=True)
class VintageCurve:
    month: datetime.date
    loans: int
    principal: Decimal
    # Cumulative share of the vintage's loans defaulted by each month on book, 0 up to the vintage's age.
    cumulative: list[Decimal]


def portfolio_vintage_curves(*, today: datetime.date) -> list[VintageCurve]:
    """Cumulative default by month of origination: for each vintage, the share of its loans that had defaulted by
    each month on book (0 = the month they started) up to its age today."""
    curves = []
    for vintage in book_vintages():
        age = (today.year * 12 + today.month) - (vintage.month.year * 12 + vintage.month.month)
        defaulted, cumulative = 0, []
        for month_on_book in range(age + 1):
            defaulted += vintage.defaults_by_month_on_book.get(month_on_book, 0)
            cumulative.append(Decimal(defaulted) / Decimal(vintage.loans))
        curves.append(
            VintageCurve(month=vintage.month, loans=vintage.loans, principal=vintage.principal, cumulative=cumulative)
        )
    return curves


def portfolio_latest_stress_run() -> StressRun | None:
    return (
        StressRun.objects.filter(status=StressRunStatus.FINISHED)
        .select_related("scenario")
        .order_by("-finished_at", "-pk")
        .first()
    )


def portfolio_outstanding_by_partner() -> dict[str, Decimal]:
    """Committed exposure per lender ("platform" and each funding partner's code), as the partners' selectors
    count it: share principal outstanding on loans awaiting payout or on the book, plus the shares of applications
    whose lenders are settled but not yet paid out."""
    return lender_exposure()


def portfolio_limits_utilisation() -> list[LimitUse]:
    """The exposure limits and how much of each is used (``risk.selectors.limits.limits_utilisation``)."""
    return limits_utilisation()


@dataclass(frozen=True)
class PortfolioDashboard:
    today: datetime.date
    since: datetime.date
    funnel: dict[datetime.date, dict[str, int]]
    rates: DecisionRates
    times: DecisionTimes
    outstanding: dict[str, list[BookSlice]]
    outstanding_by_partner: dict[str, Decimal]
    dpd_buckets: list[BookSlice]
    roll_rates: list[RollRow]
    vintages: list[VintageCurve]
    limits: list | None
    latest_run: StressRun | None


def portfolio_dashboard(*, today: datetime.date | None = None) -> PortfolioDashboard:
    """Every figure of the dashboard, for the weeks and months up to ``today``."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(weeks=FUNNEL_WEEKS - 1)
    since -= datetime.timedelta(days=since.weekday())
    return PortfolioDashboard(
        today=today,
        since=since,
        funnel=applications_funnel_by_week(since=since),
        rates=applications_decision_rates(since=since),
        times=applications_decision_times(since=since),
        outstanding={dimension: book_outstanding_by(dimension=dimension) for dimension in BOOK_DIMENSIONS},
        outstanding_by_partner=portfolio_outstanding_by_partner(),
        dpd_buckets=book_by_dpd_bucket(),
        roll_rates=portfolio_roll_rates(today=today),
        vintages=portfolio_vintage_curves(today=today),
        limits=portfolio_limits_utilisation(),
        latest_run=portfolio_latest_stress_run(),
    )
