"""Scoring: features → points per feature → score → probability of default → grade, with reasons.

Any scorecard works, expert or trained (``underwriting.services.training``): a numeric bin covers [lower, upper) with
None for an open end; a categorical bin (the ``industry`` feature) matches its ``category``, and a categorical bin
with a blank category stands for "any other value". A value that cannot be measured (None) scores in the feature's
missing-value bin when it has one (see below); one that falls in no bin, or is None without such a bin, gets the
feature's worst bin: a thin or odd file never scores better than a bad one. A feature without bins
in the scorecard does not count. Every score starts from the scorecard's ``intercept_points``.

A trained scorecard bins a decision's features exactly as training did: a value the engine could not measure
(None) scores in the feature's missing-value bin (category ``__missing__``) when the scorecard has one (training
gives a missing bin with too few rows its feature's riskiest points), and a category is matched on the bin's full
``label`` (any length or script) when the bin has one, else on its ``category`` code. Numeric bins compare in
Decimal against the stored Decimal bounds.

Probability of default from the score, with the scorecard's scaling (odds are good:bad)::

    factor = pdo / ln 2        offset = base_score − factor × ln(base_odds)
    odds = exp((score − offset) / factor)        pd = 1 / (1 + odds)

The grade is the first of A–D whose PD ceiling (``grade_pd_ceilings``) the PD does not exceed, else E.

Reasons: the (at most four) features that lost the most points against their best bin, worst first, each with
the bin's own reason text or, when the bin has none, a specific message for the feature — never "score too low".

Bins are read once per scorecard and kept for the life of the process, keyed by (id, version): a scorecard is
immutable once it has left draft. Drafts are read afresh every time because a risk manager may still edit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from merchants.choices import Industry
from underwriting.choices import GRADES, Feature, ScorecardState
from underwriting.models import Scorecard
from underwriting.selectors.features import MerchantFeatures

MAX_REASONS = 4
SCORE_PLACES = Decimal("0.01")
PD_PLACES = Decimal("0.000001")
# A PD is never shown as exactly 0 or 1: the model is not that sure of anything.
PD_FLOOR = Decimal("0.000001")
PD_CEILING = Decimal("0.999999")
CATEGORICAL_FEATURES = frozenset({Feature.INDUSTRY.value})
# The category of a trained scorecard's missing-value bin (``underwriting.services.training.MISSING``).
MISSING = "__missing__"
LANGUAGES = {"en": "en", "zh": "zh-hans"}


@dataclass(frozen=True, slots=True)
class Bin:
    feature: str
    lower: Decimal | None
    upper: Decimal | None
    category: str
    points: Decimal
    reason_en: str
    reason_zh: str
    # The category exactly as the training data spelt it; blank on expert scorecards (the code is the category).
    full_label: str = ""

    @property
    def label(self) -> str:
        if self.feature in CATEGORICAL_FEATURES or self.category:
            return self.full_label or self.category or "*"
        lower = "-∞" if self.lower is None else _plain(self.lower)
        upper = "∞" if self.upper is None else _plain(self.upper)
        return f"[{lower}, {upper})"

    def contains(self, value: Decimal | int | str) -> bool:
        if self.feature in CATEGORICAL_FEATURES or self.category:
            return str(value).strip() == (self.full_label or self.category)
        number = Decimal(value)
        return (self.lower is None or number >= self.lower) and (self.upper is None or number < self.upper)


@dataclass(frozen=True, slots=True)
class LoadedScorecard:
    """A scorecard's parameters and bins in memory: everything scoring needs, no database."""

    id: int
    version: int
    name: str
    state: str
    intercept_points: Decimal
    offset: Decimal
    factor: Decimal
    grade_ceilings: tuple[tuple[str, Decimal], ...]
    approve_min_score: Decimal
    refer_min_score: Decimal
    bins: dict[str, tuple[Bin, ...]]


@dataclass(frozen=True, slots=True)
class ScoreLine:
    """One feature's part of a score: its value, the bin it fell in, its points and the best it could have had."""

    feature: str
    value: Decimal | int | str | None
    bin_label: str
    points: Decimal
    best_points: Decimal
    reason_en: str
    reason_zh: str

    @property
    def points_lost(self) -> Decimal:
        return self.best_points - self.points


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: Decimal
    pd: Decimal
    grade: str
    points_by_feature: dict[str, Decimal]
    # [{"code", "feature", "points_lost", "message_en", "message_zh"}], most points lost first.
    reasons: list[dict]
    lines: tuple[ScoreLine, ...] = ()

    def lines_as_dicts(self) -> list[dict]:
        """The points table of this score, JSON-friendly, for a decision's snapshot."""
        return [
            {
                "feature": line.feature,
                "value": None if line.value is None else str(line.value),
                "bin": line.bin_label,
                "points": str(line.points),
                "best_points": str(line.best_points),
            }
            for line in self.lines
        ]


_CACHE: dict[tuple[int, int], LoadedScorecard] = {}


def scorecard_load(scorecard: Scorecard) -> LoadedScorecard:
    """The scorecard with its bins, from the process cache unless it is a draft (one query when not cached)."""
    key = (scorecard.pk, scorecard.version)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    loaded = _load(scorecard)
    if scorecard.state != ScorecardState.DRAFT:
        _CACHE[key] = loaded
    return loaded


def scorecard_cached(*, scorecard_id: int, version: int) -> LoadedScorecard | None:
    """The loaded scorecard if this process has it already (never a draft), else None."""
    return _CACHE.get((scorecard_id, version))


def scorecard_cache_clear() -> None:
    """Forget every loaded scorecard (tests that build scorecards with the same ids use it)."""
    _CACHE.clear()


def _load(scorecard: Scorecard) -> LoadedScorecard:
    factor = Decimal(scorecard.pdo) / Decimal(2).ln()
    offset = Decimal(scorecard.base_score) - factor * Decimal(scorecard.base_odds).ln()
    bins: dict[str, list[Bin]] = {}
    for row in scorecard.bins.all().order_by("feature", "lower", "category", "pk"):
        bins.setdefault(row.feature, []).append(
            Bin(
                feature=row.feature,
                lower=row.lower,
                upper=row.upper,
                category=row.category,
                points=Decimal(row.points),
                reason_en=row.reason_en,
                reason_zh=row.reason_zh,
                full_label=row.label,
            )
        )
    ceilings = scorecard.grade_pd_ceilings or {}
    return LoadedScorecard(
        id=scorecard.pk,
        version=scorecard.version,
        name=scorecard.name,
        state=scorecard.state,
        intercept_points=Decimal(scorecard.intercept_points),
        offset=offset,
        factor=factor,
        grade_ceilings=tuple(
            (grade, Decimal(str(ceilings[grade]))) for grade in GRADES if ceilings.get(grade) not in (None, "")
        ),
        approve_min_score=Decimal(scorecard.approve_min_score),
        refer_min_score=Decimal(scorecard.refer_min_score),
        bins={feature: tuple(feature_bins) for feature, feature_bins in bins.items()},
    )


def score_features(*, features: MerchantFeatures, scorecard: Scorecard | LoadedScorecard) -> ScoreResult:
    """Score one merchant's features; no database access once the scorecard is loaded."""
    card = scorecard if isinstance(scorecard, LoadedScorecard) else scorecard_load(scorecard)
    lines = []
    total = card.intercept_points
    for feature in Feature.values:
        feature_bins = card.bins.get(feature)
        if not feature_bins:
            continue
        value = features.value(feature)
        chosen = _bin_for(feature_bins, value)
        best = max(bin_.points for bin_ in feature_bins)
        total += chosen.points
        lines.append(
            ScoreLine(
                feature=feature,
                value=value,
                bin_label=chosen.label,
                points=chosen.points,
                best_points=best,
                reason_en=chosen.reason_en,
                reason_zh=chosen.reason_zh,
            )
        )
    score = total.quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)
    pd = score_to_pd(card, score)
    return ScoreResult(
        score=score,
        pd=pd,
        grade=grade_for_pd(card, pd),
        points_by_feature={line.feature: line.points for line in lines},
        reasons=_reasons(lines),
        lines=tuple(lines),
    )


def score_to_pd(card: LoadedScorecard, score: Decimal) -> Decimal:
    """Probability of default at ``score`` under the card's scaling, to six places, within (0, 1)."""
    exponent = (Decimal(score) - card.offset) / card.factor
    # exp() of a few thousand overflows nothing in Decimal, but keep the arithmetic in a sane range anyway.
    exponent = max(min(exponent, Decimal(200)), Decimal(-200))
    pd = Decimal(1) / (Decimal(1) + exponent.exp())
    return min(max(pd.quantize(PD_PLACES, rounding=ROUND_HALF_UP), PD_FLOOR), PD_CEILING)


def grade_for_pd(card: LoadedScorecard, pd: Decimal) -> str:
    for grade, ceiling in card.grade_ceilings:
        if grade != GRADES[-1] and pd <= ceiling:
            return grade
    return GRADES[-1]


def _bin_for(feature_bins: tuple[Bin, ...], value) -> Bin:
    worst = min(feature_bins, key=lambda bin_: bin_.points)
    if value is None or value == "":  # the engine records an unknown industry as ""
        return next((bin_ for bin_ in feature_bins if bin_.category == MISSING), worst)
    for bin_ in feature_bins:
        if bin_.category == MISSING:
            continue
        if bin_.category or bin_.feature in CATEGORICAL_FEATURES:
            if bin_.category and bin_.contains(value):
                return bin_
        elif bin_.contains(value):
            return bin_
    if feature_bins[0].feature in CATEGORICAL_FEATURES:
        other = next((bin_ for bin_ in feature_bins if not bin_.category), None)
        if other is not None:
            return other
    return worst


def _reasons(lines: list[ScoreLine]) -> list[dict]:
    losing = [line for line in lines if line.points_lost > 0]
    # Most points lost first; ties keep the features' fixed order so the same file always reads the same.
    losing.sort(key=lambda line: -line.points_lost)
    reasons = []
    for line in losing[:MAX_REASONS]:
        message_en = line.reason_en or feature_reason(line.feature, line.value, language="en")
        message_zh = line.reason_zh or feature_reason(line.feature, line.value, language="zh")
        reasons.append(
            {
                "code": f"score.{line.feature}",
                "kind": "score",
                "feature": line.feature,
                "points_lost": str(line.points_lost),
                "message_en": message_en,
                "message_zh": message_zh,
            }
        )
    return reasons


def feature_reason(feature: str, value, *, language: str) -> str:
    """A specific message for a feature that cost points, for bins without their own reason text."""
    with translation.override(LANGUAGES[language]):
        if value is None:
            unmeasured = _UNMEASURED.get(feature)
            if unmeasured is not None:
                return unmeasured()
            return _("%(feature)s could not be measured.") % {"feature": Feature(feature).label}
        return _MESSAGES[feature]() % {"value": _shown(feature, value)}


def _shown(feature: str, value) -> str:
    if value is None:
        return ""
    if feature in {Feature.SALES_TREND, Feature.REFUND_RATIO, Feature.ACTIVE_DAY_SHARE}:
        return f"{Decimal(value) * 100:.1f} %"
    if feature in {Feature.SALES_12M, Feature.MONTHLY_SALES_AVG}:
        return f"¥{Decimal(value):,.0f}"
    if feature in {Feature.SALES_CV, Feature.SEASONALITY, Feature.AMOUNT_TO_MONTHLY_SALES}:
        return f"{Decimal(value):.2f}"
    if feature == Feature.INDUSTRY:
        return str(Industry(value).label) if value in Industry.values else str(value)
    return str(value)


# Messages are callables so each is translated in the language active when it is used.
_MESSAGES = {
    Feature.MONTHS_ACTIVE: lambda: _(
        "The business has traded on the platform for %(value)s months; a longer history would score higher."
    ),
    Feature.SALES_12M: lambda: _("Sales over the last 12 months (%(value)s) are low for a loan."),
    Feature.MONTHLY_SALES_AVG: lambda: _("Average monthly sales (%(value)s) are below the level that scores best."),
    Feature.SALES_TREND: lambda: _(
        "Sales over the last 3 months changed by %(value)s against the 3 months before; falling sales cost points."
    ),
    Feature.SALES_CV: lambda: _("Monthly sales vary a lot from month to month (coefficient of variation %(value)s)."),
    Feature.REFUND_RATIO: lambda: _("Refunds are %(value)s of sales, more than in the best band."),
    Feature.ACTIVE_DAY_SHARE: lambda: _(
        "The business had sales on only %(value)s of days; trading more days a week would score higher."
    ),
    Feature.DISTINCT_CUSTOMERS: lambda: _(
        "Few distinct customers in the last 90 days (%(value)s); a broader customer base would score higher."
    ),
    Feature.DAYS_SINCE_LAST_SALE: lambda: _("The last sale on the platform was %(value)s days ago."),
    Feature.SEASONALITY: lambda: _(
        "Sales depend heavily on one season (the strongest month is %(value)s times the average)."
    ),
    Feature.AMOUNT_TO_MONTHLY_SALES: lambda: _(
        "The amount asked for is %(value)s times monthly sales; a smaller amount would score higher."
    ),
    Feature.INDUSTRY: lambda: _("Loans in this industry (%(value)s) carry more risk than average."),
}
_UNMEASURED = {
    Feature.SALES_TREND: lambda: _("There are no sales in the months before the last three to measure a trend on."),
    Feature.SALES_CV: lambda: _("Fewer than three months of sales: how steady the sales are cannot be measured yet."),
    Feature.SEASONALITY: lambda: _("Fewer than three months of sales: seasonality cannot be measured yet."),
    Feature.REFUND_RATIO: lambda: _("No sales in the last 12 full months to measure refunds against."),
    Feature.ACTIVE_DAY_SHARE: lambda: _("No sales in the last 12 full months."),
    Feature.DAYS_SINCE_LAST_SALE: lambda: _("No sale on the platform yet."),
    Feature.AMOUNT_TO_MONTHLY_SALES: lambda: _(
        "No monthly sales in the last 12 full months to measure the amount against."
    ),
}


def _plain(number: Decimal) -> str:
    """1000.000000 → "1000", 0.150000 → "0.15": bin edges as a person writes them."""
    return format(number.normalize(), "f")


__all__ = [
    "Bin",
    "LoadedScorecard",
    "ScoreLine",
    "ScoreResult",
    "feature_reason",
    "grade_for_pd",
    "score_features",
    "score_to_pd",
    "scorecard_cache_clear",
    "scorecard_cached",
    "scorecard_load",
]
