"""What the risk managers watch for a scorecard version: its decisions, grades and drift.

Read-only. For one scorecard and a window of recent decisions (the last 30 days unless asked):

- counts and rates of approve / refer / decline, the average score, and the grade distribution;
- the population stability index (PSI) of the window's scores against the training population
  (``Scorecard.training_distribution``), or, when the scorecard has none, against its first decisions
  after activation (and the report says so);
- a PSI per feature, when the decisions' snapshots carry features, bucketed by the scorecard's own bins;
- over time, month by month (the last ``months``, 12 unless asked, from the scorecard's first decision on): the
  decisions, their outcomes and approval rate, and each month's score PSI against the same baseline as the window's
  (none for a month with fewer than ``UNDERWRITING_PSI_MIN_DECISIONS`` scored decisions, 20 by default: on a handful
  of scores, empty bands alone make the index large, and a reader would take chance for drift);
- the window's scores as a histogram, in bands of a round width (10 points, wider when the scores spread far).

PSI = Σ (actual share − expected share) × ln(actual share / expected share) over the bands. The usual
reading: below 0.1 stable, 0.1 to 0.25 worth watching, above 0.25 the population has shifted.

Everything is counted in the database: one aggregate for the window's outcomes and grades, one per
population (window, baseline) that buckets scores and every feature with conditional counts
(``COUNT(*) FILTER (WHERE …)``), one grouped by month for the history and one for the histogram's bands (their range
comes with the outcomes). The only rows read into Python are the baseline's scores when the
score bands have to be cut from them (at most ``UNDERWRITING_PSI_BASELINE_DECISIONS``).

``training_distribution`` is read in the shape ``train_scorecard`` writes it,
``{"rows": 8000, "edges": [...], "bands": [{"lower": None, "upper": 500.0, "share": 0.02}, ...]}``
(lower inclusive, upper exclusive, None open), or as a dict of band labels to shares
``{"[-∞, 520)": "0.05", "[520, 560)": "0.20", …, "[680, ∞)": "0.10"}`` (also ``"520-560"``, ``"<520"``,
``">=680"``, ``"680+"``). Shares may be counts: they are normalised. Per-feature shares may be added
under ``"features"``, keyed by the bin's label (``band_label``, or the category), e.g.
``"features": {"months_active": {"[-∞, 6)": 0.1, "[6, ∞)": 0.9}}``; a feature without them is compared
with the first decisions after activation.
"""

import datetime
import itertools
import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import Avg, Case, Count, DecimalField, F, Max, Min, Q, QuerySet, Subquery, TextField, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Floor, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from underwriting.choices import GRADES, Feature, Outcome, ScorecardState
from underwriting.models import Decision, Scorecard, ScorecardBin

SHARE_PLACES = Decimal("0.0001")
PERCENT_PLACES = Decimal("0.1")
SCORE_PLACES = Decimal("0.01")
# A band empty on one side would make ln(a/e) infinite; the usual floor keeps PSI finite and still large.
EMPTY_SHARE = Decimal("0.0001")
STABLE_BELOW = Decimal("0.1")
SHIFTED_ABOVE = Decimal("0.25")
MISSING = "(missing)"
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
_FEATURE_NUMBER = DecimalField(max_digits=38, decimal_places=12)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, f"UNDERWRITING_{name}", default))


def psi_min_decisions() -> int:
    """The fewest scored decisions a month needs for its PSI in the history."""
    return _setting("PSI_MIN_DECISIONS", 20)


# Bands.


@dataclass(frozen=True)
class Band:
    """A half-open range [lower, upper) of a score or feature (None is unbounded), or one category."""

    label: str
    lower: Decimal | None = None
    upper: Decimal | None = None
    category: str | None = None
    missing: bool = False  # the band of decisions whose snapshot has no value for the feature

    def condition(self, numeric: str, text: str | None = None) -> Q:
        if self.missing:
            # SQLite reads a JSON null as the text "null"; PostgreSQL as NULL.
            return Q(**{f"{text or numeric}__isnull": True}) | Q(**{text or numeric: "null"})
        if self.category is not None:
            return Q(**{text or numeric: self.category})
        condition = Q(**{f"{numeric}__isnull": False})
        if self.lower is not None:
            condition &= Q(**{f"{numeric}__gte": self.lower})
        if self.upper is not None:
            condition &= Q(**{f"{numeric}__lt": self.upper})
        return condition

    def contains(self, value: Decimal) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def band_label(lower: Decimal | None, upper: Decimal | None) -> str:
    """The canonical label of [lower, upper): ``[520, 560)``, ``[-∞, 520)``, ``[680, ∞)``."""
    low = "-∞" if lower is None else _plain(Decimal(lower))
    high = "∞" if upper is None else _plain(Decimal(upper))
    return f"[{low}, {high})"


def bin_band(scorecard_bin: ScorecardBin) -> Band:
    if scorecard_bin.category:
        return Band(label=scorecard_bin.category, category=scorecard_bin.category)
    return Band(
        label=band_label(scorecard_bin.lower, scorecard_bin.upper),
        lower=scorecard_bin.lower,
        upper=scorecard_bin.upper,
    )


_OPEN = {"", "-∞", "∞", "+∞", "-inf", "inf", "+inf", "−∞", "none"}
_INTERVAL = re.compile(r"^\[\s*(?P<low>[^,]*?)\s*,\s*(?P<high>[^)\]]*?)\s*[)\]]$")
_RANGE = re.compile(r"^(?P<low>-?[0-9.]+)\s*[-–~]\s*(?P<high>-?[0-9.]+)$")
_BELOW = re.compile(r"^<\s*(?P<high>-?[0-9.]+)$")
_FROM = re.compile(r"^(?:>=|≥)\s*(?P<low>-?[0-9.]+)$|^(?P<low2>-?[0-9.]+)\s*\+$")


def parse_band(label: str) -> Band:
    """Read a band label of ``training_distribution``; ValueError names the label it cannot read."""
    text = str(label).strip()

    def bound(value: str | None) -> Decimal | None:
        if value is None or value.strip().lower() in _OPEN:
            return None
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(label) from exc

    if (match := _INTERVAL.match(text)) or (match := _RANGE.match(text)):
        lower, upper = bound(match["low"]), bound(match["high"])
    elif match := _BELOW.match(text):
        lower, upper = None, bound(match["high"])
    elif match := _FROM.match(text):
        lower, upper = bound(match["low"] or match["low2"]), None
    else:
        raise ValueError(label)
    if lower is not None and upper is not None and lower >= upper:
        raise ValueError(label)
    return Band(label=band_label(lower, upper), lower=lower, upper=upper)


def _shares(raw: dict[str, Any]) -> dict[str, Decimal]:
    """Shares from a dict of shares or counts, normalised to sum to one; ValueError if unusable."""
    values = {}
    for key, value in raw.items():
        try:
            values[key] = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(key) from exc
        if values[key] < 0:
            raise ValueError(key)
    total = sum(values.values(), Decimal(0))
    if total <= 0:
        raise ValueError("total")
    return {key: value / total for key, value in values.items()}


def training_score_bands(distribution: dict[str, Any]) -> tuple[list[Band], list[Decimal]]:
    """Score bands and their expected shares from ``training_distribution``, ordered by score."""
    if isinstance(distribution.get("bands"), list):
        # As train_scorecard stores it: [{"lower": 540.0 | None, "upper": 560.0 | None, "share": 0.12}, ...].
        raw = {}
        for row in distribution["bands"]:
            if not isinstance(row, dict) or "share" not in row:
                raise ValueError(str(row))
            lower = None if row.get("lower") is None else Decimal(str(row["lower"]))
            upper = None if row.get("upper") is None else Decimal(str(row["upper"]))
            raw[band_label(lower, upper)] = row["share"]
    else:
        raw = distribution.get("score") if isinstance(distribution.get("score"), dict) else distribution
        raw = {key: value for key, value in raw.items() if key not in ("features", "score", "rows", "edges")}
    shares = _shares(raw)
    bands = sorted(
        ((parse_band(key), share) for key, share in shares.items()),
        key=lambda pair: (pair[0].lower is not None, pair[0].lower or 0),
    )
    for (previous, _share), (current, _other) in itertools.pairwise(bands):
        if previous.upper is None or (current.lower is not None and current.lower < previous.upper):
            raise ValueError(current.label)
    return [band for band, _share in bands], [share for _band, share in bands]


def quantile_bands(scores: list[Decimal], *, count: int) -> list[Band]:
    """About ``count`` bands with equal shares of ``scores`` (ties keep a band from being split)."""
    ordered = sorted(scores)
    edges: list[Decimal] = []
    for index in range(1, count):
        edge = ordered[index * len(ordered) // count]
        if edge > ordered[0] and (not edges or edge > edges[-1]):
            edges.append(edge)
    bounds = [None, *edges, None]
    return [Band(label=band_label(low, high), lower=low, upper=high) for low, high in itertools.pairwise(bounds)]


# Results.


@dataclass(frozen=True)
class BandRow:
    label: str
    expected_share: Decimal
    actual_count: int
    actual_share: Decimal
    contribution: Decimal

    @property
    def expected_percent(self) -> Decimal:
        return _percent(self.expected_share)

    @property
    def actual_percent(self) -> Decimal:
        return _percent(self.actual_share)


@dataclass(frozen=True)
class Stability:
    """A PSI with the bands it was summed over and how to read it."""

    psi: Decimal | None
    rows: list[BandRow]
    actual_count: int
    baseline_count: int | None  # None when the baseline is the training population

    @property
    def reading(self) -> str:
        if self.psi is None:
            return "no_data"
        if self.psi < STABLE_BELOW:
            return "stable"
        return "watch" if self.psi <= SHIFTED_ABOVE else "shifted"

    @property
    def reading_label(self) -> str:
        return {
            "no_data": _("no decisions to compare"),
            "stable": _("stable (below 0.1)"),
            "watch": _("worth watching (0.1 to 0.25)"),
            "shifted": _("shifted (above 0.25)"),
        }[self.reading]


@dataclass(frozen=True)
class FeatureStability:
    feature: str
    label: str
    stability: Stability
    from_training: bool


@dataclass(frozen=True)
class GradeRow:
    grade: str
    count: int
    share: Decimal | None

    @property
    def percent(self) -> Decimal | None:
        return None if self.share is None else _percent(self.share)


@dataclass(frozen=True)
class MonthRow:
    """One calendar month of the scorecard's decisions: outcomes, and the month's score PSI against the baseline."""

    month: datetime.date
    decisions: int
    approved: int
    referred: int
    declined: int
    scored: int
    psi: Decimal | None

    def _share(self, count: int) -> Decimal | None:
        return (Decimal(count) / self.decisions).quantize(SHARE_PLACES) if self.decisions else None

    @property
    def approval_rate(self) -> Decimal | None:
        return self._share(self.approved)

    @property
    def refer_rate(self) -> Decimal | None:
        return self._share(self.referred)

    @property
    def decline_rate(self) -> Decimal | None:
        return self._share(self.declined)

    @property
    def approval_percent(self) -> Decimal | None:
        return _percent(self.approval_rate)


@dataclass(frozen=True)
class ScoreBin:
    """Scores from ``lower`` (inclusive) to ``upper`` (exclusive) in the window, and how many decisions had one."""

    lower: Decimal
    upper: Decimal
    count: int


@dataclass(frozen=True)
class MonitoringReport:
    scorecard: Scorecard
    since: datetime.datetime
    until: datetime.datetime
    days: int
    decisions: int
    approved: int
    referred: int
    declined: int
    average_score: Decimal | None
    grades: list[GradeRow]
    ungraded: int
    score_stability: Stability | None
    baseline: str  # "training" | "early_decisions" | "none"
    notes: list[str] = field(default_factory=list)
    features: list[FeatureStability] = field(default_factory=list)
    history: list[MonthRow] = field(default_factory=list)
    histogram: list[ScoreBin] = field(default_factory=list)

    def _rate(self, count: int) -> Decimal | None:
        return (Decimal(count) / self.decisions).quantize(SHARE_PLACES) if self.decisions else None

    @property
    def approval_rate(self) -> Decimal | None:
        return self._rate(self.approved)

    @property
    def refer_rate(self) -> Decimal | None:
        return self._rate(self.referred)

    @property
    def decline_rate(self) -> Decimal | None:
        return self._rate(self.declined)

    @property
    def rates_percent(self) -> dict[str, Decimal | None]:
        return {
            "approve": _percent(self.approval_rate),
            "refer": _percent(self.refer_rate),
            "decline": _percent(self.decline_rate),
        }


def _percent(share: Decimal | None) -> Decimal | None:
    return None if share is None else (share * 100).quantize(PERCENT_PLACES)


# Selection.


def monitoring_scorecards() -> QuerySet[Scorecard]:
    """Every version a risk manager may look at, newest first."""
    return Scorecard.objects.order_by("-version")


def monitoring_scorecard(*, version: int | None = None) -> Scorecard | None:
    """The version asked for, or the active one."""
    if version is not None:
        return Scorecard.objects.filter(version=version).first()
    return Scorecard.objects.filter(state=ScorecardState.ACTIVE).first()


# The report.


def monitoring_report(
    *, scorecard: Scorecard, days: int | None = None, now: datetime.datetime | None = None, months: int = 12
) -> MonitoringReport:
    """Outcomes, grades and drift of ``scorecard``'s decisions in the ``days`` before ``now``, and the ``months``
    before it month by month."""
    days = days or _setting("MONITORING_DAYS", 30)
    until = now or timezone.now()
    since = until - datetime.timedelta(days=days)
    window = Decision.objects.filter(scorecard=scorecard, decided_at__gte=since, decided_at__lte=until)

    stats = window.aggregate(
        total=Count("id"),
        approved=Count("id", filter=Q(outcome=Outcome.APPROVE)),
        referred=Count("id", filter=Q(outcome=Outcome.REFER)),
        declined=Count("id", filter=Q(outcome=Outcome.DECLINE)),
        scored=Count("id", filter=Q(score__isnull=False)),
        average_score=Avg("score"),
        lowest_score=Min("score"),
        highest_score=Max("score"),
        **{f"grade_{grade}": Count("id", filter=Q(grade=grade)) for grade in GRADES},
    )
    graded = sum(stats[f"grade_{grade}"] for grade in GRADES)
    grades = [
        GradeRow(
            grade=grade,
            count=stats[f"grade_{grade}"],
            share=(Decimal(stats[f"grade_{grade}"]) / graded).quantize(SHARE_PLACES) if graded else None,
        )
        for grade in GRADES
    ]
    average = stats["average_score"]
    notes: list[str] = []

    # Bands and what is expected of them.
    feature_bands = _feature_bands(scorecard)
    score_bands: list[Band] = []
    expected_scores: list[Decimal] = []
    baseline_kind = "training"
    baseline_ids: QuerySet | None = None
    baseline_scores: list[Decimal] = []
    if scorecard.training_distribution:
        try:
            score_bands, expected_scores = training_score_bands(scorecard.training_distribution)
        except ValueError as exc:
            notes.append(
                _("The training distribution could not be read (band “%(band)s”), so it is not used.")
                % {"band": exc.args[0] if exc.args else ""}
            )
            score_bands = []
    training_features = _training_feature_shares(scorecard, feature_bands)
    needs_baseline = not score_bands or any(feature not in training_features for feature in feature_bands)
    if needs_baseline:
        baseline_size = _setting("PSI_BASELINE_DECISIONS", 500)
        early = Decision.objects.filter(scorecard=scorecard)
        if scorecard.activated_at:
            early = early.filter(decided_at__gte=scorecard.activated_at)
        # The early population is the one before the window; only a version activated inside the
        # window has to be compared with (part of) itself, and the note below says so.
        if early.filter(decided_at__lt=since).exists():
            early = early.filter(decided_at__lt=since)
        early = early.order_by("decided_at", "id")
        baseline_ids = early.values("pk")[:baseline_size]
        if not score_bands:
            baseline_kind = "early_decisions"
            rows = list(early.filter(score__isnull=False).values_list("score", "decided_at")[:baseline_size])
            baseline_scores = [score for score, _at in rows]
            if rows:
                score_bands = quantile_bands(baseline_scores, count=_setting("PSI_BANDS", 10))
                expected_scores = _shares_of(baseline_scores, score_bands)
                notes.append(
                    _(
                        "This scorecard has no training distribution, so its scores are compared with its first "
                        "%(count)d scored decisions after activation (decided %(first)s to %(last)s)."
                    )
                    % {
                        "count": len(rows),
                        "first": timezone.localtime(rows[0][1]).strftime("%Y-%m-%d"),
                        "last": timezone.localtime(rows[-1][1]).strftime("%Y-%m-%d"),
                    }
                )
                if rows[-1][1] >= since:
                    notes.append(_("Those first decisions overlap the window, so drift is understated."))
            else:
                baseline_kind = "none"
                notes.append(
                    _("This scorecard has no training distribution and no scored decisions yet: there is no baseline.")
                )

    # Count both populations in the database: one aggregate each.
    actual = _population_counts(window, score_bands, feature_bands)
    baseline = (
        _population_counts(Decision.objects.filter(pk__in=Subquery(baseline_ids)), [], feature_bands)
        if baseline_ids is not None and feature_bands
        else None
    )

    score_stability = (
        _stability(score_bands, expected_scores, actual["score"], baseline_count=len(baseline_scores) or None)
        if score_bands
        else None
    )
    outside = stats["scored"] - sum(actual["score"])
    if score_bands and outside:
        notes.append(
            _("%(count)d scores in the window fall outside the training bands and are left out of the PSI.")
            % {"count": outside}
        )

    features = []
    for feature, bands in feature_bands.items():
        counts = actual["features"][feature]
        if feature in training_features:
            expected = training_features[feature]
            from_training = True
            baseline_count = None
        else:
            base_counts = baseline["features"][feature] if baseline else [0] * len(bands)
            baseline_count = sum(base_counts)
            if not baseline_count:
                continue
            expected = [Decimal(count) / baseline_count for count in base_counts]
            from_training = False
        if not sum(counts):
            continue
        rows_bands, rows_expected, rows_counts = bands, expected, counts
        # "Missing" is a band only where it happens: a thin file that the scorecard puts in the
        # worst bin is part of the population's drift.
        if rows_bands[-1].label == MISSING and not rows_counts[-1] and not rows_expected[-1]:
            rows_bands, rows_expected, rows_counts = rows_bands[:-1], rows_expected[:-1], rows_counts[:-1]
        features.append(
            FeatureStability(
                feature=feature,
                label=str(Feature(feature).label) if feature in Feature.values else feature,
                stability=_stability(rows_bands, rows_expected, rows_counts, baseline_count=baseline_count),
                from_training=from_training,
            )
        )
    if feature_bands and stats["total"] and not features:
        notes.append(_("The decisions' snapshots carry no features, so there is no drift per feature to show."))
    history = _history(scorecard, score_bands, expected_scores, until=until, months=months)
    if baseline_kind == "early_decisions" and any(row.month < timezone.localtime(since).date() for row in history):
        notes.append(
            _("Over time, the months whose decisions are part of that baseline are compared partly with themselves.")
        )

    return MonitoringReport(
        scorecard=scorecard,
        since=since,
        until=until,
        days=days,
        decisions=stats["total"],
        approved=stats["approved"],
        referred=stats["referred"],
        declined=stats["declined"],
        average_score=None if average is None else Decimal(average).quantize(SCORE_PLACES),
        grades=grades,
        ungraded=stats["total"] - graded,
        score_stability=score_stability,
        baseline=baseline_kind,
        notes=notes,
        features=features,
        history=history,
        histogram=_histogram(window, low=stats["lowest_score"], high=stats["highest_score"]),
    )


def _month_start(moment: datetime.date, *, back: int = 0) -> datetime.date:
    month = moment.year * 12 + moment.month - 1 - back
    return datetime.date(month // 12, month % 12 + 1, 1)


def _history(
    scorecard: Scorecard, score_bands: list[Band], expected: list[Decimal], *, until: datetime.datetime, months: int
) -> list[MonthRow]:
    """The last ``months`` calendar months (in the portal's time zone) up to ``until``, from the scorecard's first
    decision on, in one query grouped by month; a month without decisions is a row of zeros."""
    last = _month_start(timezone.localtime(until).date())
    first = _month_start(last, back=max(months, 1) - 1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time()))
    decisions = Decision.objects.filter(scorecard=scorecard, decided_at__gte=start, decided_at__lte=until)
    rows = (
        decisions.annotate(month=TruncMonth("decided_at"))
        .values("month")
        .annotate(
            total=Count("id"),
            approved=Count("id", filter=Q(outcome=Outcome.APPROVE)),
            referred=Count("id", filter=Q(outcome=Outcome.REFER)),
            declined=Count("id", filter=Q(outcome=Outcome.DECLINE)),
            scored=Count("id", filter=Q(score__isnull=False)),
            **{f"s{index}": Count("id", filter=band.condition("score")) for index, band in enumerate(score_bands)},
        )
        .order_by("month")
    )
    by_month = {}
    for row in rows:
        month = row["month"]
        month = timezone.localtime(month).date() if isinstance(month, datetime.datetime) else month
        by_month[_month_start(month)] = row
    if not by_month:
        return []
    fewest = psi_min_decisions()
    history = []
    month = min(by_month)
    while month <= last:
        row = by_month.get(month)
        counts = [row[f"s{index}"] for index in range(len(score_bands))] if row else []
        enough = row is not None and row["scored"] >= fewest and bool(score_bands)
        psi = _stability(score_bands, expected, counts, baseline_count=None).psi if enough else None
        history.append(
            MonthRow(
                month=month,
                decisions=row["total"] if row else 0,
                approved=row["approved"] if row else 0,
                referred=row["referred"] if row else 0,
                declined=row["declined"] if row else 0,
                scored=row["scored"] if row else 0,
                psi=psi,
            )
        )
        month = _month_start(month, back=-1)
    return history


# The histogram's bands are this many points wide, or the next round width that keeps them to at most this many.
HISTOGRAM_WIDTHS = (Decimal(10), Decimal(20), Decimal(25), Decimal(50), Decimal(100), Decimal(200), Decimal(500))
HISTOGRAM_MAX_BINS = 30


def _histogram(window: QuerySet[Decision], *, low: Decimal | None, high: Decimal | None) -> list[ScoreBin]:
    """The window's scores (from ``low`` to ``high``) in bands of a round width, lowest first, empty bands between
    included."""
    if low is None or high is None:
        return []
    low, high = Decimal(low), Decimal(high)
    width = next(
        (width for width in HISTOGRAM_WIDTHS if (high - low) / width < HISTOGRAM_MAX_BINS), HISTOGRAM_WIDTHS[-1]
    )
    counts = {
        int(row["band"]): row["count"]
        for row in window.filter(score__isnull=False)
        .annotate(band=Floor(F("score") / width))
        .values("band")
        .annotate(count=Count("id"))
        .order_by()
    }
    first = int((low / width).to_integral_value(rounding=ROUND_FLOOR))
    last = int((high / width).to_integral_value(rounding=ROUND_FLOOR))
    return [
        ScoreBin(lower=band * width, upper=(band + 1) * width, count=counts.get(band, 0))
        for band in range(first, last + 1)
    ]


def _feature_bands(scorecard: Scorecard) -> dict[str, list[Band]]:
    """Each binned feature's bands, in the scorecard's order, plus a band for a missing value."""
    bands: dict[str, list[Band]] = {}
    for scorecard_bin in scorecard.bins.order_by("feature", "lower", "category", "id"):
        bands.setdefault(scorecard_bin.feature, []).append(bin_band(scorecard_bin))
    # In the order of ``Feature`` (months active first), as the scorecard's points table reads.
    order = {feature: position for position, feature in enumerate(Feature.values)}
    bands = dict(sorted(bands.items(), key=lambda item: order.get(item[0], len(order))))
    for feature_bands in bands.values():
        # Bins with no lower bound sort first on some databases and last on others; put them first.
        feature_bands.sort(key=lambda band: (band.category is not None, band.lower is not None, band.lower or 0))
        feature_bands.append(Band(label=MISSING, missing=True))
    return bands


def _training_feature_shares(scorecard: Scorecard, feature_bands: dict[str, list[Band]]) -> dict[str, list[Decimal]]:
    """Expected shares per feature from the training distribution, for features it fully describes."""
    raw = (scorecard.training_distribution or {}).get("features")
    if not isinstance(raw, dict):
        return {}
    result = {}
    for feature, bands in feature_bands.items():
        given = raw.get(feature)
        if not isinstance(given, dict):
            continue
        try:
            shares = _shares(given)
            by_label = {}
            for key, share in shares.items():
                label = key if key == MISSING or any(band.category == key for band in bands) else parse_band(key).label
                by_label[label] = share
        except ValueError:
            continue
        result[feature] = [by_label.get(band.label, Decimal(0)) for band in bands]
    return result


def _shares_of(scores: list[Decimal], bands: list[Band]) -> list[Decimal]:
    counts = [sum(1 for score in scores if band.contains(score)) for band in bands]
    return [Decimal(count) / len(scores) for count in counts]


def _population_counts(
    decisions: QuerySet[Decision], score_bands: list[Band], feature_bands: dict[str, list[Band]]
) -> dict[str, Any]:
    """How many decisions fall in each score band and each feature's bands, in one aggregate query."""
    annotations: dict[str, Any] = {}
    aggregates: dict[str, Any] = {}
    for index, band in enumerate(score_bands):
        aggregates[f"s{index}"] = Count("id", filter=band.condition("score"))
    has_features = Q(snapshot__has_key="features")
    for position, (feature, bands) in enumerate(feature_bands.items()):
        text = f"_f{position}_text"
        number = f"_f{position}_number"
        # Cast to plain text so that the lookups below are SQL's own: a JSON key's ``isnull`` and
        # ``exact`` have JSON semantics that differ between databases.
        annotations[text] = Cast(KT(f"snapshot__features__{feature}"), TextField())
        categorical = any(band.category is not None for band in bands)
        if not categorical:
            # The guard keeps the cast from ever seeing a value that is not a number.
            annotations[number] = Case(
                When(Q(**{f"{text}__regex": _NUMBER}), then=Cast(text, _FEATURE_NUMBER)),
                default=None,
                output_field=_FEATURE_NUMBER,
            )
        for index, band in enumerate(bands):
            condition = band.condition(text if categorical else number, text)
            aggregates[f"f{position}_{index}"] = Count("id", filter=has_features & condition)
    if not aggregates:
        return {"score": [], "features": {}}
    totals = decisions.annotate(**annotations).aggregate(**aggregates)
    return {
        "score": [totals[f"s{index}"] for index in range(len(score_bands))],
        "features": {
            feature: [totals[f"f{position}_{index}"] for index in range(len(bands))]
            for position, (feature, bands) in enumerate(feature_bands.items())
        },
    }


def _stability(
    bands: list[Band], expected: list[Decimal], counts: list[int], *, baseline_count: int | None
) -> Stability:
    total = sum(counts)
    rows = []
    psi = Decimal(0)
    for band, expected_share, count in zip(bands, expected, counts, strict=True):
        actual_share = Decimal(count) / total if total else Decimal(0)
        a = actual_share or EMPTY_SHARE
        e = expected_share or EMPTY_SHARE
        contribution = (a - e) * (a / e).ln()
        psi += contribution
        rows.append(
            BandRow(
                label=band.label,
                expected_share=expected_share.quantize(SHARE_PLACES),
                actual_count=count,
                actual_share=actual_share.quantize(SHARE_PLACES),
                contribution=contribution.quantize(SHARE_PLACES),
            )
        )
    return Stability(
        psi=psi.quantize(SHARE_PLACES) if total else None,
        rows=rows,
        actual_count=total,
        baseline_count=baseline_count,
    )
