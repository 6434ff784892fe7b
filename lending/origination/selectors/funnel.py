"""The application funnel as the risk firewall reads it: applied -> decided -> approved -> signed -> funded by week,
approval and straight-through rates, and how long decisions take.

Each figure is a fixed number of aggregate queries, whatever the number of applications.

- Applied: submitted (``submitted_at``). Decided: a final decision, approved or declined (``decided_at``; an
  application still referred to an officer is not decided yet). Approved: decided with an offer (by the engine or
  an officer, a counter-offer included). Signed: ``signed_at``. Funded: ``funded_at``. Each stage is counted in the
  week its own event happened (weeks start on Monday, in the portal's time zone).
- Straight-through: decided without an officer, i.e. the engine did not refer it.
- Decision time: from submission to the final decision, nearest-rank percentiles over the decided applications.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DateField, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from lending.origination.models import ApplicationState, LoanApplication
from underwriting.choices import Outcome

FUNNEL_STAGES = ("applied", "decided", "approved", "signed", "funded")
_STAGE_FIELD = {
    "applied": "submitted_at",
    "decided": "decided_at",
    "approved": "decided_at",
    "signed": "signed_at",
    "funded": "funded_at",
}


def _decided() -> QuerySet[LoanApplication]:
    return LoanApplication.objects.filter(decided_at__isnull=False).exclude(state=ApplicationState.REFERRED)


def _stage(stage: str) -> QuerySet[LoanApplication]:
    if stage == "decided":
        return _decided()
    if stage == "approved":
        return _decided().filter(offer_amount__isnull=False)
    return LoanApplication.objects.filter(**{f"{_STAGE_FIELD[stage]}__isnull": False})


def applications_funnel_by_week(*, since: datetime.date) -> dict[datetime.date, dict[str, int]]:
    """``{monday: {stage: applications}}`` for the weeks from the one containing ``since``; one grouped query per
    stage (five in all)."""
    start = since - datetime.timedelta(days=since.weekday())
    weeks: dict[datetime.date, dict[str, int]] = {}
    for stage in FUNNEL_STAGES:
        field = _STAGE_FIELD[stage]
        rows = (
            _stage(stage)
            .filter(**{f"{field}__date__gte": start})
            .values(week=TruncWeek(field, output_field=DateField()))
            .annotate(applications=Count("pk"))
            .order_by()
        )
        for row in rows:
            weeks.setdefault(row["week"], dict.fromkeys(FUNNEL_STAGES, 0))[stage] = row["applications"]
    # Weeks with nothing in them are listed too, up to this week, so a chart's weeks are evenly spaced.
    today = timezone.localdate()
    monday = start
    while monday <= today:
        weeks.setdefault(monday, dict.fromkeys(FUNNEL_STAGES, 0))
        monday += datetime.timedelta(days=7)
    return dict(sorted(weeks.items()))


@dataclass(frozen=True)
class DecisionRates:
    decided: int
    approved: int
    straight_through: int

    def _share(self, count: int) -> Decimal | None:
        return None if not self.decided else Decimal(count) / Decimal(self.decided)

    @property
    def approval_rate(self) -> Decimal | None:
        return self._share(self.approved)

    @property
    def straight_through_rate(self) -> Decimal | None:
        return self._share(self.straight_through)


def applications_decision_rates(*, since: datetime.date) -> DecisionRates:
    """Applications finally decided since ``since``: how many, how many approved, how many with no officer (the
    engine decided them, it did not refer them). One aggregate query."""
    totals = (
        _decided()
        .filter(decided_at__date__gte=since)
        .aggregate(
            decided=Count("pk"),
            approved=Count("pk", filter=Q(offer_amount__isnull=False)),
            straight_through=Count("pk", filter=~Q(decision__outcome=Outcome.REFER) & Q(decision__isnull=False)),
        )
    )
    return DecisionRates(**totals)


@dataclass(frozen=True)
class DecisionTimes:
    decided: int
    median: datetime.timedelta | None
    p95: datetime.timedelta | None


def _nearest_rank(count: int, share: Decimal) -> int:
    """The 0-based position of the nearest-rank percentile ``share`` among ``count`` sorted values."""
    return max(math.ceil(share * count) - 1, 0)


def applications_decision_times(*, since: datetime.date) -> DecisionTimes:
    """Median and 95th percentile of the time from submission to final decision, since ``since`` (nearest rank).
    Three queries: the count, and one row fetched at each rank."""
    durations = (
        _decided()
        .filter(decided_at__date__gte=since, submitted_at__isnull=False)
        .annotate(took=ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField()))
        .order_by("took", "pk")
        .values_list("took", flat=True)
    )
    count = durations.count()
    if not count:
        return DecisionTimes(decided=0, median=None, p95=None)
    return DecisionTimes(
        decided=count,
        median=durations[_nearest_rank(count, Decimal("0.5"))],
        p95=durations[_nearest_rank(count, Decimal("0.95"))],
    )


__all__ = [
    "FUNNEL_STAGES",
    "DecisionRates",
    "DecisionTimes",
    "applications_decision_rates",
    "applications_decision_times",
    "applications_funnel_by_week",
]
