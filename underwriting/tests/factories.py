import datetime
from decimal import Decimal

import factory

from merchants.models import SalesDay
from merchants.tests.factories import MerchantFactory
from underwriting.choices import Feature, Outcome, RuleKind, ScorecardState
from underwriting.models import Decision, PolicyRule, Scorecard, ScorecardBin


class ScorecardFactory(factory.django.DjangoModelFactory):
    """A draft scorecard with the usual scaling (600 points at 50:1, 20 points to double) and no bins."""

    class Meta:
        model = Scorecard

    name = factory.Sequence(lambda n: f"Test scorecard {n}")
    version = factory.Sequence(lambda n: 100 + n)
    state = ScorecardState.DRAFT
    base_score = Decimal(600)
    base_odds = Decimal(50)
    pdo = Decimal(20)
    intercept_points = Decimal(0)
    grade_pd_ceilings = factory.LazyFunction(lambda: {"A": "0.01", "B": "0.025", "C": "0.05", "D": "0.10"})
    approve_min_score = Decimal(560)
    refer_min_score = Decimal(530)


class ScorecardBinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScorecardBin

    scorecard = factory.SubFactory(ScorecardFactory)
    feature = Feature.MONTHS_ACTIVE
    points = Decimal(0)


class DecisionFactory(factory.django.DjangoModelFactory):
    """A stored decision whose snapshot holds the features it was made from (pass ``snapshot``)."""

    class Meta:
        model = Decision

    merchant = factory.SubFactory(MerchantFactory)
    outcome = Outcome.APPROVE
    requested_amount = Decimal("50000.00")
    snapshot = factory.LazyFunction(dict)


class PolicyRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyRule
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"rule-{n}")
    kind = RuleKind.KYC_VERIFIED
    outcome = Outcome.DECLINE
    message_en = "Rule failed: {value} against {threshold}."
    message_zh = "规则未通过：{value}，要求 {threshold}。"


def known_scorecard(*, state: str = ScorecardState.DRAFT, version: int | None = None, **overrides) -> Scorecard:
    """A small scorecard whose scores are easy to work out by hand.

    Starts at 500 points; months active [0, 6) 0, [6, 12) 30, [12, ∞) 60; monthly sales [0, 50,000) 0,
    [50,000, ∞) 40; refund ratio [0, 0.03) 20, [0.03, ∞) 0; amount to monthly sales [0, 1) 20, [1, ∞) 0;
    industry F5211 (grocery) 10, anything else 0. Best possible: 650.
    """
    fields = {"intercept_points": Decimal(500), "state": state, **overrides}
    if version is not None:
        fields["version"] = version
    scorecard = ScorecardFactory(**fields)
    rows = [
        (Feature.MONTHS_ACTIVE, None, 6, "", 0, "Fewer than 6 months of sales.", "销售记录不足 6 个月。"),
        (Feature.MONTHS_ACTIVE, 6, 12, "", 30, "", ""),
        (Feature.MONTHS_ACTIVE, 12, None, "", 60, "", ""),
        (Feature.MONTHLY_SALES_AVG, None, 50000, "", 0, "Monthly sales below ¥50,000.", "月销售额低于 5 万元。"),
        (Feature.MONTHLY_SALES_AVG, 50000, None, "", 40, "", ""),
        (Feature.REFUND_RATIO, None, Decimal("0.03"), "", 20, "", ""),
        (Feature.REFUND_RATIO, Decimal("0.03"), None, "", 0, "Refunds are 3 % of sales or more.", "退款占比 3% 以上。"),
        (Feature.AMOUNT_TO_MONTHLY_SALES, None, 1, "", 20, "", ""),
        (Feature.AMOUNT_TO_MONTHLY_SALES, 1, None, "", 0, "", ""),  # no reason text: the engine writes one
        (Feature.INDUSTRY, None, None, "F5211", 10, "", ""),
        (Feature.INDUSTRY, None, None, "", 0, "Industry outside the best group.", "行业不在最优组。"),
    ]
    ScorecardBin.objects.bulk_create(
        ScorecardBin(
            scorecard=scorecard,
            feature=feature,
            lower=None if lower is None else Decimal(lower),
            upper=None if upper is None else Decimal(upper),
            category=category,
            points=Decimal(points),
            reason_en=reason_en,
            reason_zh=reason_zh,
        )
        for feature, lower, upper, category, points, reason_en, reason_zh in rows
    )
    return scorecard


def add_sales(
    merchant,
    *,
    first: datetime.date,
    days: int,
    gross: Decimal | str = "1000.00",
    refunds: Decimal | str = "0.00",
    customers: int = 10,
) -> list[SalesDay]:
    """``days`` consecutive days of identical sales from ``first``, in one insert."""
    return SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=first + datetime.timedelta(days=offset),
            gross_sales=Decimal(gross),
            refunds=Decimal(refunds),
            transaction_count=customers,
            distinct_customers=customers,
        )
        for offset in range(days)
    )


def add_monthly_sales(merchant, totals: dict[datetime.date, Decimal | str], *, refunds: Decimal | str = "0") -> None:
    """One day of sales on the 1st of each month given, carrying the month's whole total (and refunds)."""
    SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=month,
            gross_sales=Decimal(total),
            refunds=Decimal(refunds),
            transaction_count=1,
            distinct_customers=1,
        )
        for month, total in totals.items()
    )


def activation_proposed(scorecard: Scorecard, *, by, note: str = "Holdout figures reviewed.") -> Scorecard:
    """``scorecard`` proposed for activation by ``by``, the first of the two risk managers activation takes (through
    the service, so the proposal is audited as in the back office); a different one then confirms it."""
    from underwriting.services.decisions import scorecard_activation_propose

    return scorecard_activation_propose(scorecard=scorecard, by=by, note=note)
