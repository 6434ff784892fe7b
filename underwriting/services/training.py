"""Fitting a scorecard from data: binning, weight of evidence, logistic regression, points, holdout metrics.

The pipeline is the classic application scorecard:

1. every column is numeric (each non-empty value parses as a number, also when stored as text: " 1,200 ",
   "¥350", full-width digits) or categorical, whatever its labels look like (any length, any script,
   punctuation); a missing value is its own bin;
2. rows are split into a training set and a stratified holdout with a seed, so the split can be redone;
3. fine classing then coarse classing: numeric columns get up to ``fine_bins`` quantile bins on the training
   set, merged until each bin holds a minimum share of the rows and both goods and bads, then neighbours are
   merged (least information lost first) down to ``bins``; the weight of evidence is made monotone unless the
   data rejects a monotone trend (a G-test at ``MONOTONE_TEST_LEVEL``), and the trainer says when it does;
   categorical columns get one bin per category holding the minimum share,
   the rarer ones (and those beyond the cap) pooled into ``other``. A bin stores a short code and the full
   label, so a category is never truncated;
4. each bin's weight of evidence is ln(share of goods / share of bads), Laplace-smoothed so that no bin is
   infinite; a column is refused only for a stated statistical reason, printed with it: no values, a single
   value, leakage (it equals the target, or alone separates goods from bads almost perfectly), or an
   information value below ``min_iv``;
5. a logistic regression on the WoE-encoded features gives the log-odds of a bad;
6. points follow the Scorecard model's scaling, score = offset + factor × ln(good:bad odds) with
   factor = pdo / ln 2 and offset = base_score − factor × ln(base_odds): the intercept and the offset go
   into ``intercept_points`` and each bin carries −factor × coefficient × WoE, so the PD read back from a
   score is the regression's probability (up to rounding the points to 0.001);
7. AUC, KS and Gini are measured on the scores that the saved bins give, on train and holdout, so anyone
   can recompute them from the stored scorecard; the holdout AUC gets a bootstrap interval, the holdout a
   calibration table (predicted against observed bad rate by score band) and its ROC curve (``roc_points``),
   and a gap of more than
   ``OVERFIT_GAP`` between train and holdout AUC a warning;
8. the approve and refer cut-offs come from the risk appetite when one is given (a target approval rate, or
   a maximum bad rate among the approved), read off the holdout's trade-off table; otherwise from the grade
   PD ceilings.

Rows can come from any source (``train_scorecard(rows=...)``): a CSV file (``read_training_csv``) or,
once lending has funded loans, the feature snapshots of the decisions behind them (``loan_training_rows``).
Before a draft is activated, ``challenger_compare`` scores the last 90 days of decisions with it and with the
active scorecard. Nothing here imports lending. ``scorecard_create_trained`` is the only function that writes.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from scipy.stats import chi2, ks_2samp, rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split

from core.services.audit import audit_record
from merchants.choices import Industry
from underwriting.choices import Feature, RiskGrade, ScorecardState
from underwriting.engine.scoring import score_features, scorecard_load
from underwriting.models import Decision, Scorecard, ScorecardBin
from underwriting.selectors.features import MerchantFeatures

# The category of the bin that holds missing values, numeric or categorical. The live engine puts an
# applicant whose feature is None (or empty) in this bin.
MISSING = "__missing__"
# The bin that pools rare categories has a blank category: the live engine (``underwriting.engine.scoring``) reads a
# categorical bin without a category as "any other value", so categories it has no bin for score there.
OTHER = ""

# Values that mean "not known" in a CSV file, besides the empty cell.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})

DEFAULT_HOLDOUT = 0.3
DEFAULT_SEED = 1
# Fine classing: quantile bins before any merging. Coarse classing: at most this many range bins after it.
DEFAULT_FINE_BINS = 20
DEFAULT_BINS = 6
DEFAULT_MIN_BIN_SHARE = 0.05
# The usual rule of thumb: below 0.02 a feature is not predictive; keeping it only adds noise.
DEFAULT_MIN_IV = 0.02
DEFAULT_MAX_CATEGORIES = 20
# L2 regularisation: modest, so that two collinear WoE columns do not get large opposite weights, yet weak
# enough that the probabilities stay calibrated on a few thousand rows.
REGULARISATION_C = 1.0
# Half a good and half a bad added to every bin (Laplace smoothing): a bin without bads gets a large but
# finite weight of evidence.
SMOOTHING = 0.5
MIN_ROWS = 100
MIN_ROWS_PER_CLASS = 10
MAX_HOLDOUT = 0.9
# What ScorecardBin can hold: bounds have 28 digits with 6 decimals, a category code 40 characters (the full
# label has no limit), a column name 200.
BOUND_PLACES = Decimal("0.000001")
MAX_BOUND = Decimal("1e22")
MAX_CODE_LENGTH = 40
MAX_FEATURE_NAME_LENGTH = 200
# A numeric column keeps a monotone weight of evidence unless the best binning without the constraint fits the
# training rows significantly better: a likelihood-ratio (G) test of the two bin tables at this level. A strict
# level, because a shape that bends is believed only on strong evidence: on a few hundred rows, wiggles are noise.
MONOTONE_TEST_LEVEL = 0.001
# A column that alone ranks the training rows this well is not a predictor but the outcome written down
# after the fact (or the target itself): real application data does not separate goods from bads so cleanly.
LEAKAGE_AUC = 0.98
# Bootstrap of the holdout AUC: resamples and the two-sided level of the interval.
BOOTSTRAP_RESAMPLES = 500
BOOTSTRAP_LEVEL = 0.95
# A train AUC above the holdout's by more than this suggests the bins learnt noise.
OVERFIT_GAP = 0.05
# Calibration: equal-count bands of the holdout score.
CALIBRATION_BANDS = 10
# The holdout's ROC curve is kept with at most this many points (plus its two ends): enough to draw it.
ROC_POINTS = 50
# The trade-off table: one line per step of approval rate, from the best-scoring 5 % to everyone.
TRADEOFF_STEP = Decimal("0.05")
# With cut-offs from the risk appetite, the next tenth of applicants below the approve cut-off is referred.
DEFAULT_REFER_SHARE = 0.10
MAX_REASON_LENGTH = 200
POINTS_PLACES = Decimal("0.001")
WOE_PLACES = Decimal("0.000001")
SCORE_PLACES = Decimal("0.01")
# Significant figures kept in a numeric cut point: "48,200" reads better than "48,213.77" in a points
# table and is as good a boundary.
CUT_POINT_DIGITS = 3
# Probability-of-default ceilings per grade; above D's ceiling an applicant is grade E.
GRADE_PD_CEILINGS = {"A": "0.01", "B": "0.025", "C": "0.05", "D": "0.10"}
# Automatic approval down to grade C, referral for grade D, decline for E.
APPROVE_DOWN_TO_GRADE = "C"
REFER_DOWN_TO_GRADE = "D"
# The training population's score distribution is stored on bands of pdo points around the base score,
# the same for every scorecard on one scale, so that drift (PSI) compares like with like.
DISTRIBUTION_BANDS_EACH_SIDE = 5
# A loan's outcome is known once it has defaulted or has been on the books this long.
LOAN_OUTCOME_DAYS = 365
LOAN_TARGET = "defaulted_12m"
# Errors quoted from a bad file: the first few say enough.
ERRORS_QUOTED = 5


class TrainingDataError(Exception):
    """The data or the options cannot give a scorecard; the message says what is wrong and what would do."""


class _Unbinnable(Exception):  # noqa: N818 - an outcome for one column, which is then dropped
    """A column that cannot be binned for a stated reason; the message says why, and the column is dropped."""


# --- reading rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRows:
    """Rows as mappings of column → raw value, with where they came from (for messages and the audit)."""

    rows: list[dict[str, Any]]
    columns: list[str]
    line_numbers: list[int] | None = None
    source: dict[str, Any] = field(default_factory=dict)


def read_training_csv(path: Path | str) -> TrainingRows:
    """Read a CSV file with a header line; raise ``TrainingDataError`` naming the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise TrainingDataError(_("No such file: %(path)s.") % {"path": path}) from exc
    except OSError as exc:
        raise TrainingDataError(
            _("Cannot read %(path)s: %(reason)s.") % {"path": path, "reason": exc.strerror or exc}
        ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrainingDataError(
            _("%(path)s is not UTF-8 text (byte %(position)d); save it as CSV UTF-8.")
            % {"path": path, "position": exc.start}
        ) from exc
    if not text.strip():
        raise TrainingDataError(
            _("%(path)s is empty: it needs a header line naming the columns, then one line per applicant.")
            % {"path": path}
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
        records = [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]
    except csv.Error as exc:
        raise TrainingDataError(
            _("%(path)s, line %(line)d: not readable as CSV (%(reason)s).")
            % {"path": path, "line": reader.line_num, "reason": exc}
        ) from exc
    _check_header(header, path)
    if not records:
        raise TrainingDataError(
            _("%(path)s has a header but no data lines: add one line per applicant below it.") % {"path": path}
        )
    ragged = [(line, len(cells)) for line, cells in records if len(cells) != len(header)]
    if ragged:
        quoted = ", ".join(
            _("line %(line)d has %(count)d") % {"line": line, "count": count} for line, count in ragged[:ERRORS_QUOTED]
        )
        raise TrainingDataError(
            _("%(path)s: %(bad)d line(s) do not have the %(expected)d values of the header (%(quoted)s).")
            % {"path": path, "bad": len(ragged), "expected": len(header), "quoted": quoted}
        )
    return TrainingRows(
        rows=[dict(zip(header, cells, strict=True)) for _line, cells in records],
        columns=header,
        line_numbers=[line for line, _cells in records],
        source={"kind": "csv", "file": path.name, "sha256": hashlib.sha256(raw).hexdigest()},
    )


def _check_header(header: list[str], path: Path) -> None:
    blank = [str(position) for position, name in enumerate(header, start=1) if not name]
    if blank:
        raise TrainingDataError(
            _("%(path)s: the header has no name for column(s) %(positions)s.")
            % {"path": path, "positions": ", ".join(blank)}
        )
    twice = sorted(name for name, count in Counter(header).items() if count > 1)
    if twice:
        raise TrainingDataError(
            _("%(path)s: the header names the column(s) %(columns)s more than once.")
            % {"path": path, "columns": ", ".join(twice)}
        )


@dataclass(frozen=True)
class LoanRecord:
    """What training needs from one funded loan: its features at decision time and when it defaulted."""

    features: Mapping[str, Any]
    funded_at: datetime.datetime
    defaulted_at: datetime.datetime | None


def loan_outcome_rows(records: Iterable[LoanRecord], *, as_of: datetime.datetime) -> list[dict[str, Any]]:
    """Rows of features plus ``defaulted_12m`` (1 if the loan defaulted within 12 months of funding).

    A loan funded less than 12 months before ``as_of`` that has not defaulted yet has no known outcome and
    is left out: counting it as good would flatter the scorecard. Only ``Feature`` values are kept from the
    snapshot, which also records the dates the features were measured on.
    """
    window = datetime.timedelta(days=LOAN_OUTCOME_DAYS)
    rows = []
    for record in records:
        defaulted = record.defaulted_at is not None and record.defaulted_at - record.funded_at <= window
        if not defaulted and as_of - record.funded_at < window:
            continue
        features = {name: value for name, value in record.features.items() if name in Feature.values}
        rows.append({**features, LOAN_TARGET: 1 if defaulted else 0})
    return rows


@dataclass(frozen=True)
class LoanOutcome:
    """One funded loan as lending reports it for training: the application it came from, when it was paid out, and
    when it defaulted (None while it has not)."""

    application_id: int
    funded_at: datetime.datetime
    defaulted_at: datetime.datetime | None


def loan_training_rows(*, loans: Iterable[LoanOutcome], as_of: datetime.datetime | None = None) -> TrainingRows:
    """Rows built from funded loans (lending passes them in) and the snapshots of the decisions that approved them.

    The features are ``Decision.snapshot["features"]`` of the latest decision on each loan's application.
    """
    no_loans = _("No funded loans to train on yet")
    loans = [(loan.application_id, loan.funded_at, loan.defaulted_at) for loan in loans]
    snapshots: dict[int, Mapping[str, Any]] = {}
    decisions = Decision.objects.filter(application_id__in=[loan[0] for loan in loans]).order_by("decided_at", "id")
    for application_id, snapshot in decisions.values_list("application_id", "snapshot"):
        snapshots[application_id] = (snapshot or {}).get("features") or {}
    records = [
        LoanRecord(features=snapshots[application_id], funded_at=_moment(funded_at), defaulted_at=_moment(defaulted_at))
        for application_id, funded_at, defaulted_at in loans
        if snapshots.get(application_id)
    ]
    rows = loan_outcome_rows(records, as_of=as_of or timezone.now())
    if not rows:
        raise TrainingDataError(
            _("%(no_loans)s: none has defaulted or been on the books for 12 months with a decision snapshot.")
            % {"no_loans": no_loans}
        )
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return TrainingRows(rows=rows, columns=columns, source={"kind": "loans", "loans": len(rows)})


def _moment(value: datetime.date | datetime.datetime | None) -> datetime.datetime | None:
    """A date field read as the start of that day, so that dates and times compare."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return timezone.make_aware(datetime.datetime.combine(value, datetime.time.min))


# --- the result -----------------------------------------------------------------------------------------


@dataclass
class TrainedBin:
    """One bin: a numeric range [lower, upper) or a category, its training counts, WoE and points."""

    lower: Decimal | None = None
    upper: Decimal | None = None
    category: str = ""
    # The pooled bin of a categorical feature (its category is blank, like a numeric range's).
    other: bool = False
    # Too few training rows to weigh: the bin carries its feature's lowest weight of evidence.
    no_evidence: bool = False
    count: int = 0
    bads: int = 0
    woe: Decimal = Decimal(0)
    points: Decimal = Decimal(0)
    reason_en: str = ""
    reason_zh: str = ""

    @property
    def bad_rate(self) -> float | None:
        return self.bads / self.count if self.count else None

    @property
    def code(self) -> str:
        """The category code stored on the bin: the label itself when it fits, else a readable prefix and a hash.

        The full label is stored beside it (``ScorecardBin.label``) and is what decisions are matched against, so
        the code only has to be short and distinct: the hash of the whole label makes it so.
        """
        if self.other or self.category in (MISSING, OTHER) or len(self.category) <= MAX_CODE_LENGTH:
            return self.category
        digest = hashlib.sha1(self.category.encode(), usedforsecurity=False).hexdigest()[:10]
        return f"{self.category[: MAX_CODE_LENGTH - 12]}~{digest}"

    @property
    def label(self) -> str:
        if self.category == MISSING:
            return _("missing")
        if self.other:
            return _("other")
        if self.category:
            return self.category
        lower = "-∞" if self.lower is None else _plain(self.lower)
        upper = "∞" if self.upper is None else _plain(self.upper)
        return f"[{lower}, {upper})"


@dataclass
class FeatureBinning:
    """The bins of one feature and how a raw value finds its bin."""

    name: str
    kind: str  # "numeric" or "categorical"
    bins: list[TrainedBin]
    iv: float = 0.0
    cut_points: list[Decimal] = field(default_factory=list)
    coefficient: float | None = None
    # How the bins were made, in words: the fine and coarse classes and the trend (or why there is none).
    shape: str = ""

    @property
    def missing_index(self) -> int:
        return len(self.bins) - 1

    def bin_indexes(self, values: Sequence[Any]) -> np.ndarray:
        """The index in ``bins`` of each parsed value (float or nan for numeric, str or None otherwise)."""
        if self.kind == "numeric":
            # Floats only to fit the model (numpy): these are feature values, not amounts moved, and the cut points
            # are kept as Decimal on the scorecard, where a decision bins its features in Decimal (``scoring``).
            numbers = np.asarray(values, dtype=float)
            cuts = np.array([float(cut) for cut in self.cut_points], dtype=float)
            # side="right": a value equal to a cut point belongs to the bin that starts there, [lower, upper).
            indexes = np.searchsorted(cuts, numbers, side="right")
            indexes[np.isnan(numbers)] = self.missing_index
            return indexes
        position = {bin_.category: index for index, bin_ in enumerate(self.bins) if not bin_.other}
        other = next(index for index, bin_ in enumerate(self.bins) if bin_.other)
        return np.array(
            [self.missing_index if value is None else position.get(value, other) for value in values], dtype=int
        )


@dataclass
class TrainedScorecard:
    """Everything a fit produced; ``scorecard_create_trained`` stores it."""

    features: list[FeatureBinning]
    dropped: dict[str, str]
    information_values: dict[str, float]
    column_types: dict[str, str]
    regression: LogisticRegression
    base_score: Decimal
    base_odds: Decimal
    pdo: Decimal
    intercept_points: Decimal
    approve_min_score: Decimal
    refer_min_score: Decimal
    metrics: dict[str, Any]
    training_distribution: dict[str, Any]
    train_index: np.ndarray
    holdout_index: np.ndarray
    target: str
    source: dict[str, Any]

    @property
    def unknown_features(self) -> list[str]:
        """Kept features that are not ``Feature`` values: the live engine has no value for them."""
        return [binning.name for binning in self.features if binning.name not in Feature.values]


# --- training -------------------------------------------------------------------------------------------


def train_scorecard(
    rows: Iterable[Mapping[str, Any]],
    target: str,
    *,
    holdout: float = DEFAULT_HOLDOUT,
    seed: int = DEFAULT_SEED,
    bins: int = DEFAULT_BINS,
    fine_bins: int = DEFAULT_FINE_BINS,
    monotonic: bool | str = "auto",
    min_bin_share: float = DEFAULT_MIN_BIN_SHARE,
    min_iv: float = DEFAULT_MIN_IV,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    base_score: Decimal = Decimal(600),
    base_odds: Decimal = Decimal(50),
    pdo: Decimal = Decimal(20),
    target_approval_rate: float | None = None,
    max_bad_rate: float | None = None,
    refer_share: float = DEFAULT_REFER_SHARE,
    line_numbers: Sequence[int] | None = None,
    source: Mapping[str, Any] | None = None,
) -> TrainedScorecard:
    """Fit a scorecard on ``rows`` (mappings of column → value) whose ``target`` is 1 for a bad, 0 for a good.

    ``monotonic``: "auto" (monotone weight of evidence where the data supports it), "always" (or True) or
    "never" (or False). ``target_approval_rate`` or ``max_bad_rate`` set the cut-offs from the risk appetite.
    Raises ``TrainingDataError`` with a message naming the problem; nothing is written to the database.
    """
    monotonic = {True: "always", False: "never"}.get(monotonic, monotonic)  # type: ignore[call-overload]
    _check_options(
        holdout=holdout,
        bins=bins,
        fine_bins=fine_bins,
        monotonic=monotonic,
        target_approval_rate=target_approval_rate,
        max_bad_rate=max_bad_rate,
        refer_share=refer_share,
        min_bin_share=min_bin_share,
        max_categories=max_categories,
        base_score=base_score,
        base_odds=base_odds,
        pdo=pdo,
    )
    rows = list(rows)
    if not rows:
        raise TrainingDataError(_("There are no rows to train on."))
    columns = list(dict.fromkeys(name for row in rows for name in row))
    if target not in columns:
        raise TrainingDataError(
            _("There is no target column %(target)s. The columns are: %(columns)s.")
            % {"target": target, "columns": ", ".join(columns)}
        )
    unknown_options = sorted((set(exclude) | set(categorical)) - set(columns))
    if unknown_options:
        raise TrainingDataError(
            _("No column named %(names)s (in --exclude or --categorical). The columns are: %(columns)s.")
            % {"names": ", ".join(unknown_options), "columns": ", ".join(columns)}
        )
    y = _read_target(rows, target, line_numbers)
    feature_names = [name for name in columns if name != target and name not in set(exclude)]
    if not feature_names:
        raise TrainingDataError(_("There is no column to train on besides the target %(target)s.") % {"target": target})

    column_types: dict[str, str] = {}
    values: dict[str, list[Any]] = {}
    for name in feature_names:
        raw = [row.get(name) for row in rows]
        numbers = None if name in categorical else _as_numbers(raw)
        column_types[name] = "categorical" if numbers is None else "numeric"
        values[name] = _as_categories(raw) if numbers is None else numbers

    train_index, holdout_index = _split(y, holdout=holdout, seed=seed)
    y_train, y_holdout = y[train_index], y[holdout_index]

    binnings, dropped, information_values = _bin_features(
        column_types,
        values,
        train_index,
        y_train,
        bins=bins,
        fine_bins=fine_bins,
        min_count=max(1, math.ceil(min_bin_share * len(train_index))),
        monotonic=monotonic,
        max_categories=max_categories,
        min_iv=min_iv,
    )
    regression, binnings = _fit(binnings, values, train_index, y_train, dropped)
    factor = float(pdo) / math.log(2)
    offset = float(base_score) - factor * math.log(float(base_odds))
    for binning in binnings:
        for bin_ in binning.bins:
            bin_.points = _quantize(-factor * binning.coefficient * float(bin_.woe), POINTS_PLACES)
        _write_reasons(binning)
    intercept_points = _quantize(offset - factor * float(regression.intercept_[0]), POINTS_PLACES)

    def score(index: np.ndarray) -> np.ndarray:
        return _scores(binnings, values, index, intercept_points)

    train_scores, holdout_scores = score(train_index), score(holdout_index)
    tradeoff = tradeoff_table(holdout_scores, y_holdout, factor=factor, offset=offset)
    if target_approval_rate is None and max_bad_rate is None:
        approve_min_score = _score_at_pd(float(GRADE_PD_CEILINGS[APPROVE_DOWN_TO_GRADE]), factor, offset)
        refer_min_score = _score_at_pd(float(GRADE_PD_CEILINGS[REFER_DOWN_TO_GRADE]), factor, offset)
        cutoffs: dict[str, Any] = {
            "basis": "pd_ceilings",
            "approve_pd": GRADE_PD_CEILINGS[APPROVE_DOWN_TO_GRADE],
            "refer_pd": GRADE_PD_CEILINGS[REFER_DOWN_TO_GRADE],
        }
    else:
        approve_min_score, refer_min_score, cutoffs = cutoff_search(
            holdout_scores,
            y_holdout,
            target_approval_rate=target_approval_rate,
            max_bad_rate=max_bad_rate,
            refer_share=refer_share,
        )
    train_metrics, holdout_metrics = _metrics(train_scores, y_train), _metrics(holdout_scores, y_holdout)
    low, high = bootstrap_auc_interval(holdout_scores, y_holdout, seed=seed)
    warnings = []
    if train_metrics["auc"] - holdout_metrics["auc"] > OVERFIT_GAP or (
        holdout_metrics["auc"] - train_metrics["auc"] > OVERFIT_GAP
    ):
        warnings.append(
            _(
                "Train AUC %(train).3f and holdout AUC %(holdout).3f differ by more than %(gap)s: the bins may have "
                "learnt noise (try fewer --bins or a larger --min-bin-share) or the holdout is too small to judge."
            )
            % {"train": train_metrics["auc"], "holdout": holdout_metrics["auc"], "gap": OVERFIT_GAP}
        )
    metrics = {
        "train": train_metrics,
        "holdout": {
            **holdout_metrics,
            "auc_interval": [low, high],
            "auc_interval_level": BOOTSTRAP_LEVEL,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            **_outcome_shares(holdout_scores, approve_min_score, refer_min_score),
            "grades": _grade_shares(holdout_scores, factor, offset),
            "roc": roc_points(holdout_scores, y_holdout),
        },
        "calibration": calibration_table(holdout_scores, y_holdout, factor=factor, offset=offset),
        "tradeoff": tradeoff,
        "cutoffs": cutoffs,
        "warnings": warnings,
        "binning": {binning.name: binning.shape for binning in binnings},
        "rows": len(rows),
        "target": target,
        "information_value": information_values,
        "dropped_features": dropped,
        "coefficients": {binning.name: round(binning.coefficient, 6) for binning in binnings}
        | {"intercept": round(float(regression.intercept_[0]), 6)},
        "column_types": column_types,
        "seed": seed,
        "holdout_share": holdout,
        "bins_requested": bins,
        "fine_bins": fine_bins,
        "monotonic": monotonic,
        "min_bin_share": min_bin_share,
        "min_iv": min_iv,
        "regularisation_c": REGULARISATION_C,
        "thresholds": {
            "approve_min_score": {
                "score": str(approve_min_score),
                "pd": str(_pd_at_score(approve_min_score, factor, offset)),
            },
            "refer_min_score": {
                "score": str(refer_min_score),
                "pd": str(_pd_at_score(refer_min_score, factor, offset)),
            },
        },
        "source": dict(source or {}),
    }
    return TrainedScorecard(
        features=binnings,
        dropped=dropped,
        information_values=information_values,
        column_types=column_types,
        regression=regression,
        base_score=Decimal(base_score),
        base_odds=Decimal(base_odds),
        pdo=Decimal(pdo),
        intercept_points=intercept_points,
        approve_min_score=approve_min_score,
        refer_min_score=refer_min_score,
        metrics=metrics,
        training_distribution=_distribution(train_scores, base_score=float(base_score), pdo=float(pdo)),
        train_index=train_index,
        holdout_index=holdout_index,
        target=target,
        source=dict(source or {}),
    )


def _bin_features(
    column_types: Mapping[str, str],
    values: Mapping[str, list[Any]],
    train_index: np.ndarray,
    y_train: np.ndarray,
    *,
    bins: int,
    fine_bins: int,
    min_count: int,
    monotonic: str,
    max_categories: int,
    min_iv: float,
) -> tuple[list[FeatureBinning], dict[str, str], dict[str, float]]:
    """Bin every column on the training rows; keep those that pass every statistical test, say why of the others.

    The only reasons a column is refused: no values, a single value, leakage (it equals the target, or alone
    ranks the training rows with an AUC of ``LEAKAGE_AUC`` or more) or an information value below ``min_iv``.
    """
    binnings: list[FeatureBinning] = []
    dropped: dict[str, str] = {}
    information_values: dict[str, float] = {}
    for name, kind in column_types.items():
        train_values = [values[name][index] for index in train_index]
        information_values[name] = 0.0
        present = [value for value in train_values if not _is_missing_parsed(value)]
        if not present:
            dropped[name] = _("no values in the training rows")
            continue
        distinct = set(present)
        if len(distinct) == 1 and len(present) == len(train_values):
            dropped[name] = _("a single value (%(value)s) on every training row: it cannot tell goods from bads") % {
                "value": _quote(_plain_value(present[0]))
            }
            continue
        if _equals_target(train_values, y_train):
            dropped[name] = _(
                "leakage: it equals the target on every training row, so it is the outcome itself, not something "
                "known when the application is decided"
            )
            continue
        try:
            if kind == "numeric":
                binning = _bin_numeric(
                    name,
                    np.asarray(train_values, dtype=float),
                    y_train,
                    fine_bins=fine_bins,
                    max_bins=bins,
                    min_count=min_count,
                    monotonic=monotonic,
                )
            else:
                binning = _bin_categorical(name, train_values, y_train, min_count, max_categories)
        except _Unbinnable as exc:
            dropped[name] = str(exc)
            continue
        information_values[name] = round(binning.iv, 6)
        alone = _single_column_auc(binning, train_values, y_train)
        if alone >= LEAKAGE_AUC:
            dropped[name] = _(
                "leakage: on its own it separates goods from bads almost perfectly (training AUC %(auc).3f, at least "
                "%(limit)s); a column recorded after the outcome cannot be known when the application is decided"
            ) % {"auc": alone, "limit": LEAKAGE_AUC}
        elif binning.iv < min_iv:
            dropped[name] = _("information value %(iv).4f is below %(min_iv)s") % {"iv": binning.iv, "min_iv": min_iv}
        else:
            binnings.append(binning)
    if not binnings:
        ivs = ", ".join(f"{name} {iv:.4f}" for name, iv in information_values.items())
        raise TrainingDataError(
            _("No column predicts the target well enough (information value at least %(min_iv)s): %(ivs)s.")
            % {"min_iv": min_iv, "ivs": ivs}
        )
    return binnings, dropped, information_values


def _plain_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equals_target(values: Sequence[Any], y: np.ndarray) -> bool:
    """True when the column is the target written another way: 0/1 (or 1/0), or two labels one per class."""
    if any(_is_missing_parsed(value) for value in values):
        return False
    classes: dict[Any, set[int]] = {}
    for value, outcome in zip(values, y.tolist(), strict=True):
        classes.setdefault(value, set()).add(outcome)
        if len(classes) > 2 or len(classes[value]) > 1:
            return False
    return len(classes) == 2


def _single_column_auc(binning: FeatureBinning, values: Sequence[Any], y: np.ndarray) -> float:
    """How well the column alone ranks the training rows (either way round), as an AUC.

    A number is ranked by its value (missing values first, then last: the better of the two), so a perfect
    separator shows even though binning merges it into one bin (a bin needs goods and bads); a category by its
    bin's weight of evidence, so that an identifier's one-row categories (pooled into "other") do not count.
    """
    if binning.kind == "numeric":
        x = np.asarray(values, dtype=float)
        present = ~np.isnan(x)
        aucs = []
        for fill in (-np.inf, np.inf):
            ranked = np.where(present, x, fill)
            aucs.append(_auc(ranked, y))
    else:
        woes = np.array([float(bin_.woe) for bin_ in binning.bins])[binning.bin_indexes(values)]
        aucs = [_auc(-woes, y)]
    return max(max(auc, 1 - auc) for auc in aucs)


def woe_matrix(trained: TrainedScorecard, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The WoE-encoded rows, one column per kept feature, as the regression saw them."""
    columns = []
    for binning in trained.features:
        raw = [row.get(binning.name) for row in rows]
        parsed = _as_numbers(raw, strict=False) if binning.kind == "numeric" else _as_categories(raw)
        woes = np.array([float(bin_.woe) for bin_ in binning.bins])
        columns.append(woes[binning.bin_indexes(parsed)])
    return np.column_stack(columns)


def _check_options(
    *,
    holdout: float,
    bins: int,
    fine_bins: int,
    monotonic: str,
    target_approval_rate: float | None,
    max_bad_rate: float | None,
    refer_share: float,
    min_bin_share: float,
    max_categories: int,
    base_score: Decimal,
    base_odds: Decimal,
    pdo: Decimal,
) -> None:
    if not 0 < holdout < MAX_HOLDOUT:
        raise TrainingDataError(
            _("The holdout share must be above 0 and below %(max)s (for example 0.3); it is %(holdout)s.")
            % {"max": MAX_HOLDOUT, "holdout": holdout}
        )
    if bins < 2:  # one bin is no binning
        raise TrainingDataError(_("--bins must be at least 2; it is %(bins)d.") % {"bins": bins})
    if fine_bins < bins:
        raise TrainingDataError(
            _("--fine-bins (%(fine)d) must be at least --bins (%(bins)d): coarse classes are merged fine ones.")
            % {"fine": fine_bins, "bins": bins}
        )
    if monotonic not in ("auto", "always", "never"):
        raise TrainingDataError(_("--monotonic is auto, always or never; it is %(value)s.") % {"value": monotonic})
    if target_approval_rate is not None and max_bad_rate is not None:
        raise TrainingDataError(
            _("Give either --target-approval-rate or --max-bad-rate: one sets the cut-off, the other follows from it.")
        )
    for option, value in (("--target-approval-rate", target_approval_rate), ("--max-bad-rate", max_bad_rate)):
        if value is not None and not 0 < value < 1:
            raise TrainingDataError(
                _("%(option)s is a fraction above 0 and below 1 (0.6 for 60 %%); it is %(value)s.")
                % {"option": option, "value": value}
            )
    if not 0 <= refer_share < 1:
        raise TrainingDataError(
            _("--refer-share is a fraction from 0 to below 1; it is %(value)s.") % {"value": refer_share}
        )
    if not 0 < min_bin_share < 0.5:  # above half, two bins cannot both be that large
        raise TrainingDataError(
            _("The minimum bin share must be above 0 and below 0.5; it is %(share)s.") % {"share": min_bin_share}
        )
    if max_categories < 2:  # one kept category plus "other"
        raise TrainingDataError(_("The category cap must be at least 2."))
    if base_odds <= 0 or pdo <= 0:
        raise TrainingDataError(_("The base odds and the points to double the odds must be above 0."))
    # The Scorecard fields hold two decimals (three for the odds); more would be rounded away on saving and
    # the stored scorecard would no longer give the scores measured here.
    for option, value, places in (("--base-score", base_score, 2), ("--base-odds", base_odds, 3), ("--pdo", pdo, 2)):
        if Decimal(value).as_tuple().exponent < -places:
            raise TrainingDataError(
                _("%(option)s takes at most %(places)d decimal places.") % {"option": option, "places": places}
            )


def _read_target(rows: list[Mapping[str, Any]], target: str, line_numbers: Sequence[int] | None) -> np.ndarray:
    """The 0/1 target; a CSV's problems are quoted by line, other rows' by position from 1."""
    y = np.zeros(len(rows), dtype=int)
    offending: list[tuple[int, Any]] = []
    for index, row in enumerate(rows):
        value = _binary(row.get(target))
        if value is None:
            offending.append((line_numbers[index] if line_numbers else index + 1, row.get(target)))
        else:
            y[index] = value
    if offending:
        located = _("%(value)s on line %(line)d") if line_numbers else _("%(value)s in row %(line)d")
        quoted = ", ".join(
            located % {"value": _quote(value), "line": line} for line, value in offending[:ERRORS_QUOTED]
        )
        more = len(offending) - ERRORS_QUOTED
        tail = ngettext(" and %(n)d more line", " and %(n)d more lines", more) % {"n": more} if more > 0 else ""
        raise TrainingDataError(
            _("The target column %(target)s must be 0 (good) or 1 (bad) on every row; found %(quoted)s%(tail)s.")
            % {"target": target, "quoted": quoted, "tail": tail}
        )
    bads = int(y.sum())
    goods = len(y) - bads
    if not bads or not goods:
        only = _("1 (bad)") if bads else _("0 (good)")
        raise TrainingDataError(
            _(
                "The target column %(target)s has only one class, %(only)s, on all %(rows)d rows: "
                "a scorecard needs both goods (0) and bads (1)."
            )
            % {"target": target, "only": only, "rows": len(y)}
        )
    if len(y) < MIN_ROWS:
        raise TrainingDataError(
            _("Only %(rows)d rows: at least %(min)d are needed to train and hold out a test set.")
            % {"rows": len(y), "min": MIN_ROWS}
        )
    if min(bads, goods) < MIN_ROWS_PER_CLASS:
        raise TrainingDataError(
            _("Only %(bads)d bad (1) and %(goods)d good (0) rows: at least %(min)d of each are needed.")
            % {"bads": bads, "goods": goods, "min": MIN_ROWS_PER_CLASS}
        )
    return y


def _binary(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return int(value) if value in (0, 1) else None
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        return int(number) if number in (0, 1) else None
    return None


def _quote(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return _("an empty value")
    return repr(value) if isinstance(value, str) else repr(str(value))


def _is_missing_raw(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TOKENS


def _is_missing_parsed(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# A number written as text: an optional sign and currency symbol, digits with optional thousands separators.
_NUMBER_TEXT = re.compile(r"^([+-]?)[¥$€£]?\s*(\d{1,3}(?:,\d{3})+|\d*)(\.\d*)?(e[+-]?\d+)?$", re.IGNORECASE)


def _number_from_text(text: str) -> float:
    """A number written as text (" 1,200.50 ", "¥350", full-width "１２") as a float, else ValueError."""
    text = unicodedata.normalize("NFKC", text).strip()
    match = _NUMBER_TEXT.match(text)
    if not match or not (match.group(2) or (match.group(3) or "")[1:]):
        return float(text)  # "inf", "nan", "1e5" and the like, or a ValueError
    sign, whole, fraction, exponent = match.groups()
    return float(f"{sign}{whole.replace(',', '') or '0'}{fraction or ''}{exponent or ''}")


def _as_numbers(raw: Sequence[Any], *, strict: bool = True) -> list[float] | None:
    """Floats (nan for missing) if every present value is a finite number, else None (a categorical column).

    Numbers stored as text count as numbers ("1,200", "¥350", full-width digits). Not strict (scoring held-out
    or live rows): a value that is not a number counts as missing.
    """
    numbers: list[float] = []
    for value in raw:
        if _is_missing_raw(value):
            numbers.append(math.nan)
            continue
        try:
            number = _number_from_text(value) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            if strict:
                return None
            number = math.nan
        numbers.append(number)
    return numbers


def _as_categories(raw: Sequence[Any]) -> list[str | None]:
    """Labels as the data spells them, of any length or script; only surrounding blanks are dropped."""
    return [None if _is_missing_raw(value) else str(value).strip() for value in raw]


def _split(y: np.ndarray, *, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        train_index, holdout_index = train_test_split(
            np.arange(len(y)), test_size=holdout, stratify=y, random_state=seed
        )
    except ValueError as exc:
        raise TrainingDataError(
            _("Cannot hold out %(holdout)s of the rows with both classes on each side (%(reason)s).")
            % {"holdout": holdout, "reason": exc}
        ) from exc
    for part, index in ((_("training"), train_index), (_("holdout"), holdout_index)):
        if len(set(y[index].tolist())) < 2:  # goods and bads
            raise TrainingDataError(
                _("The %(part)s set has only one class; use a holdout share nearer 0.3 or more rows.") % {"part": part}
            )
    return np.sort(train_index), np.sort(holdout_index)


# --- binning --------------------------------------------------------------------------------------------


def _bin_numeric(
    name: str, x: np.ndarray, y: np.ndarray, *, fine_bins: int, max_bins: int, min_count: int, monotonic: str
) -> FeatureBinning:
    """Fine classes (quantiles), merged to the minimum size, then coarse classes, monotone where the data allows."""
    present = ~np.isnan(x)
    missing = (int((~present & (y == 0)).sum()), int((~present & (y == 1)).sum()))
    cuts = _quantile_cut_points(x[present], fine_bins)
    # Work on [goods, bads] per range bin; merging bin i with i + 1 removes cut point i.
    indexes = np.searchsorted(np.array([float(c) for c in cuts]), x[present], side="right")
    goods = np.bincount(indexes[y[present] == 0], minlength=len(cuts) + 1).tolist()
    bads = np.bincount(indexes[y[present] == 1], minlength=len(cuts) + 1).tolist()
    fine = len(goods)
    cuts, goods, bads = _merge_small(cuts, goods, bads, min_count)

    def iv_of(candidate: tuple[list, list, list]) -> float:
        return _information_value([*candidate[1], missing[0]], [*candidate[2], missing[1]])

    free = _merge_to_at_most(cuts, goods, bads, max_bins, missing)
    if len(free[1]) <= 2:
        chosen, shape = free, _("two bins or fewer: a trend needs no merging")
    elif monotonic == "never":
        chosen, shape = free, _("not forced monotone (--monotonic never)")
    else:
        candidates = [
            _merge_to_at_most(*_merge_until_monotonic(cuts, goods, bads, increasing=flag), max_bins, missing)
            for flag in (True, False)
        ]
        # Of the two directions, the one that keeps more information is the one the data supports.
        best = max(candidates, key=lambda c: (iv_of(c), len(c[1])))
        rising = best[2][-1] / max(1, best[1][-1] + best[2][-1]) > best[2][0] / max(1, best[1][0] + best[2][0])
        trend = _("the bad rate rises with the value") if rising else _("the bad rate falls as the value rises")
        # Likelihood-ratio statistic of the free bins against the monotone ones, degrees of freedom at least 1.
        g_free, g_mono = _g_statistic(free[1], free[2]), _g_statistic(best[1], best[2])
        critical = float(chi2.ppf(1 - MONOTONE_TEST_LEVEL, max(1, len(free[1]) - len(best[1]))))
        if monotonic == "always" or g_free - g_mono <= critical:
            chosen, shape = best, _("monotone: %(trend)s") % {"trend": trend}
        else:
            chosen = free
            shape = _(
                "not monotone: the data rejects one trend (G-test: the bins that follow the data fit better by "
                "%(gain).1f, more than %(critical).1f at the %(level)s level; a monotone binning keeps IV %(mono).3f "
                "of %(free).3f), so the bins follow the data"
            ) % {
                "gain": g_free - g_mono,
                "critical": critical,
                "level": MONOTONE_TEST_LEVEL,
                "mono": iv_of(best),
                "free": iv_of(free),
            }
    cuts, goods, bads = chosen
    edges: list[Decimal | None] = [None, *cuts, None]
    range_bins = [
        TrainedBin(lower=edges[i], upper=edges[i + 1], count=goods[i] + bads[i], bads=bads[i])
        for i in range(len(goods))
    ]
    missing_bin = TrainedBin(category=MISSING, count=sum(missing), bads=missing[1])
    binning = FeatureBinning(name=name, kind="numeric", bins=[*range_bins, missing_bin], cut_points=list(cuts))
    binning.shape = _("%(fine)d fine classes → %(coarse)d coarse; %(shape)s") % {
        "fine": fine,
        "coarse": len(goods),
        "shape": shape,
    }
    _set_woe(binning, min_count)
    return binning


def _g_statistic(goods: Sequence[int], bads: Sequence[int]) -> float:
    """G = 2 Σ observed × ln(observed / expected) of the bins × {good, bad} table (independence as the null)."""
    table = np.array([goods, bads], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    observed = table > 0
    return float(2 * (table[observed] * np.log(table[observed] / expected[observed])).sum())


def _merge_to_at_most(cuts: list, goods: list, bads: list, max_bins: int, missing: tuple[int, int]) -> tuple:
    """Coarse classing: merge the pair of neighbours whose merging loses the least information value."""
    while len(goods) > max_bins:
        remaining = []
        for i in range(len(goods) - 1):
            merged = _merge(cuts, goods, bads, i)
            remaining.append(_information_value([*merged[1], missing[0]], [*merged[2], missing[1]]))
        cuts, goods, bads = _merge(cuts, goods, bads, int(np.argmax(remaining)))
    return cuts, goods, bads


def _quantile_cut_points(x: np.ndarray, bins: int) -> list[Decimal]:
    quantiles = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
    cuts = sorted({_round_cut_point(float(q)) for q in quantiles})
    for cut in cuts:
        if abs(cut) >= MAX_BOUND:
            raise _Unbinnable(
                _("a bin boundary of %(value)s is too large to store (at most 12 digits before the point)")
                % {"value": cut}
            )
    return cuts


def _round_cut_point(value: float) -> Decimal:
    if value == 0:
        return Decimal(0).quantize(BOUND_PLACES)
    exact = Decimal(repr(value))
    places = max(exact.adjusted() - CUT_POINT_DIGITS + 1, BOUND_PLACES.as_tuple().exponent)
    return exact.quantize(Decimal(1).scaleb(places), rounding=ROUND_HALF_UP).quantize(BOUND_PLACES)


def _merge(cuts: list, goods: list, bads: list, i: int) -> tuple[list, list, list]:
    """Bins i and i + 1 become one."""
    return (
        cuts[:i] + cuts[i + 1 :],
        [*goods[:i], goods[i] + goods[i + 1], *goods[i + 2 :]],
        [*bads[:i], bads[i] + bads[i + 1], *bads[i + 2 :]],
    )


def _merge_small(cuts: list, goods: list, bads: list, min_count: int) -> tuple[list, list, list]:
    """Merge bins until each holds ``min_count`` rows and at least one good and one bad."""
    while len(goods) > 1:
        weak = [i for i in range(len(goods)) if goods[i] + bads[i] < min_count or not goods[i] or not bads[i]]
        if not weak:
            break
        i = min(weak, key=lambda k: (goods[k] + bads[k], k))
        if i == 0:
            cuts, goods, bads = _merge(cuts, goods, bads, 0)
            continue
        if i == len(goods) - 1:
            cuts, goods, bads = _merge(cuts, goods, bads, i - 1)
            continue
        # Between two neighbours, join the one whose bad rate is closer: it loses the least information.
        rate = [b / (g + b) if g + b else 0.0 for g, b in zip(goods, bads, strict=True)]
        left, right = abs(rate[i] - rate[i - 1]), abs(rate[i] - rate[i + 1])
        cuts, goods, bads = _merge(cuts, goods, bads, i - 1 if left <= right else i)
    return cuts, goods, bads


def _merge_until_monotonic(cuts: list, goods: list, bads: list, *, increasing: bool) -> tuple[list, list, list]:
    """Merge neighbours whose bad rates go the wrong way (or are equal) until the rate strictly moves one way."""
    while len(goods) > 1:
        rate = [b / (g + b) for g, b in zip(goods, bads, strict=True)]
        wrong = [i for i in range(len(rate) - 1) if (rate[i] >= rate[i + 1] if increasing else rate[i] <= rate[i + 1])]
        if not wrong:
            break
        # The worst violation first: merging it usually settles its neighbours too.
        i = max(wrong, key=lambda k: (abs(rate[k] - rate[k + 1]), -k))
        cuts, goods, bads = _merge(cuts, goods, bads, i)
    return cuts, goods, bads


def _bin_categorical(
    name: str, values: list[str | None], y: np.ndarray, min_count: int, max_categories: int
) -> FeatureBinning:
    counts = Counter(value for value in values if value is not None)
    frequent = [category for category, count in counts.items() if count >= min_count]
    # The cap keeps the most frequent categories (then alphabetical, for a stable table); "other" takes the rest.
    rare = len(counts) - len(frequent)
    frequent = sorted(frequent, key=lambda category: (-counts[category], category))[: max_categories - 1]
    beyond_cap = len(counts) - rare - len(frequent)
    categories = sorted(frequent)
    binning = FeatureBinning(
        name=name,
        kind="categorical",
        bins=[
            *(TrainedBin(category=category) for category in categories),
            TrainedBin(category=OTHER, other=True),
            TrainedBin(category=MISSING),
        ],
    )
    indexes = binning.bin_indexes(values)
    for index, bin_ in enumerate(binning.bins):
        in_bin = indexes == index
        bin_.count, bin_.bads = int(in_bin.sum()), int((in_bin & (y == 1)).sum())
    binning.shape = _(
        "%(total)d categories: one bin each for %(kept)d; into 'other' go %(rare)d with fewer than %(min)d training "
        "rows (the minimum bin size) and %(cap)d beyond the cap of %(max)d bins"
    ) % {
        "total": len(counts),
        "kept": len(categories),
        "rare": rare,
        "min": min_count,
        "cap": beyond_cap,
        "max": max_categories,
    }
    _set_woe(binning, min_count)
    return binning


def _smoothed_shares(goods: Sequence[int], bads: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    g, b = np.asarray(goods, dtype=float), np.asarray(bads, dtype=float)
    k = len(g)
    return (g + SMOOTHING) / (g.sum() + SMOOTHING * k), (b + SMOOTHING) / (b.sum() + SMOOTHING * k)


def _information_value(goods: Sequence[int], bads: Sequence[int]) -> float:
    observed = [(g, b) for g, b in zip(goods, bads, strict=True) if g + b]
    share_good, share_bad = _smoothed_shares([g for g, _b in observed], [b for _g, b in observed])
    return float(((share_good - share_bad) * np.log(share_good / share_bad)).sum())


def _set_woe(binning: FeatureBinning, min_count: int) -> None:
    """WoE = ln(share of goods / share of bads) per bin; a bin with too few rows scores as the riskiest one.

    The missing-value and "other" bins cannot be merged into a neighbour, so they may hold fewer rows than
    the minimum, or none (values training never saw). Too few rows are no evidence: such a bin takes the
    feature's lowest weight of evidence, so the live engine never rewards an applicant for a value that
    hardly anyone in the training data had. Range bins and kept categories always meet the minimum.
    """
    for bin_ in binning.bins:
        bin_.no_evidence = (bin_.category == MISSING or bin_.other) and bin_.count < min_count
    evidence = [bin_ for bin_ in binning.bins if not bin_.no_evidence]
    if not evidence:
        binning.iv = 0.0
        return
    share_good, share_bad = _smoothed_shares(
        [bin_.count - bin_.bads for bin_ in evidence], [bin_.bads for bin_ in evidence]
    )
    woes = np.log(share_good / share_bad)
    for bin_, woe in zip(evidence, woes, strict=True):
        bin_.woe = _quantize(float(woe), WOE_PLACES)
    worst = min(bin_.woe for bin_ in evidence)
    for bin_ in binning.bins:
        if bin_.no_evidence:
            bin_.woe = worst
    binning.iv = float(((share_good - share_bad) * woes).sum())


# --- fitting and scoring --------------------------------------------------------------------------------


def _fit(
    binnings: list[FeatureBinning],
    values: Mapping[str, list[Any]],
    train_index: np.ndarray,
    y_train: np.ndarray,
    dropped: dict[str, str],
) -> tuple[LogisticRegression, list[FeatureBinning]]:
    """Fit on the WoE columns; drop a feature whose weight comes out the wrong way round and fit again.

    With WoE = ln(good/bad) a higher WoE means fewer bads, so every coefficient on the bad class must be
    negative. A positive one means the feature's information is carried by another, collinear one, and
    keeping it would turn its points table upside down.
    """
    kept = list(binnings)
    while True:
        x = _woe_columns(kept, values, train_index)
        regression = LogisticRegression(C=REGULARISATION_C, solver="lbfgs", max_iter=1000)
        regression.fit(x, y_train)
        coefficients = regression.coef_[0]
        worst = int(np.argmax(coefficients))
        if coefficients[worst] < 0 or len(kept) == 1:
            break
        dropped[kept[worst].name] = _("its weight came out positive (another feature carries the same information)")
        del kept[worst]
    if coefficients[worst] >= 0:
        raise TrainingDataError(
            _("The only feature left, %(name)s, gets a weight the wrong way round; the data cannot make a scorecard.")
            % {"name": kept[0].name}
        )
    for binning, coefficient in zip(kept, coefficients, strict=True):
        binning.coefficient = float(coefficient)
    return regression, kept


def _woe_columns(binnings: list[FeatureBinning], values: Mapping[str, list[Any]], index: np.ndarray) -> np.ndarray:
    columns = []
    for binning in binnings:
        woes = np.array([float(bin_.woe) for bin_ in binning.bins])
        columns.append(woes[binning.bin_indexes([values[binning.name][i] for i in index])])
    return np.column_stack(columns)


def _scores(
    binnings: list[FeatureBinning], values: Mapping[str, list[Any]], index: np.ndarray, intercept_points: Decimal
) -> np.ndarray:
    """Scores as the saved bins give them: the intercept points plus each feature's bin points."""
    total = np.full(len(index), float(intercept_points))
    for binning in binnings:
        points = np.array([float(bin_.points) for bin_ in binning.bins])
        total += points[binning.bin_indexes([values[binning.name][i] for i in index])]
    # Sums of 0.001-point values: rounding to the same places removes float noise, so that ties stay ties.
    return np.round(total, 3)


def _metrics(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    # A higher score means a lower risk, so the score ranks goods above bads: AUC of −score against "bad".
    auc = float(roc_auc_score(y, -scores))
    ks = float(ks_2samp(scores[y == 0], scores[y == 1]).statistic)
    return {
        "auc": round(auc, 6),
        "ks": round(ks, 6),
        "gini": round(2 * auc - 1, 6),
        "rows": len(y),
        "bads": int(y.sum()),
        "bad_rate": round(float(y.mean()), 6),
    }


def roc_points(scores: np.ndarray, y: np.ndarray, *, points: int = ROC_POINTS) -> list[list[float]]:
    """The ROC curve of declining low scores: ``[false positive rate, true positive rate, cut-off score]`` per point.

    Declining every score at or below the cut-off declines that share of the bads (true positive rate) and of the
    goods (false positive rate); the first point declines nobody, the last everybody (their cut-off is None). At
    most ``points`` cut-offs are kept, evenly spread along the curve, so the stored metrics stay small; the curve
    drawn through them is the one whose area is the AUC.
    """
    false_positive, true_positive, thresholds = roc_curve(y, -scores, drop_intermediate=True)
    keep = sorted({0, len(thresholds) - 1, *np.linspace(0, len(thresholds) - 1, points).round().astype(int).tolist()})
    curve = []
    for index in keep:
        cutoff = -float(thresholds[index])
        curve.append(
            [
                round(float(false_positive[index]), 4),
                round(float(true_positive[index]), 4),
                round(cutoff, 2) if math.isfinite(cutoff) else None,
            ]
        )
    return curve


# Evaluation works on float scores, as fitting does: they rank applicants and are never amounts of money. The
# cut-offs it chooses are stored as Decimal at the live engine's 0.01 places, and holdout shares are counted on
# scores rounded the way the engine rounds them.


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    """AUC of ``scores`` ranking bads (1) above goods (0), ties counting half (Mann-Whitney, from ranks)."""
    bads = int(y.sum())
    goods = len(y) - bads
    if not bads or not goods:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - bads * (bads + 1) / 2) / (bads * goods))


def bootstrap_auc_interval(scores: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[float, float]:
    """The percentile bootstrap interval (``BOOTSTRAP_LEVEL``) of the holdout AUC, resampling holdout rows.

    Resamples keep the holdout's numbers of goods and bads (stratified), as the holdout split itself does.
    """
    rng = np.random.default_rng(seed)
    bad_rows, good_rows = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    aucs = []
    for _resample in range(BOOTSTRAP_RESAMPLES):
        index = np.concatenate(
            [rng.choice(bad_rows, len(bad_rows), replace=True), rng.choice(good_rows, len(good_rows), replace=True)]
        )
        aucs.append(_auc(-scores[index], y[index]))
    tail = (1 - BOOTSTRAP_LEVEL) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return round(float(low), 6), round(float(high), 6)


def _pds(scores: np.ndarray, factor: float, offset: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp((scores - offset) / factor))


def _pd_at_score(score: Decimal, factor: float, offset: float) -> Decimal:
    return _quantize(float(_pds(np.array([float(score)]), factor, offset)[0]), Decimal("0.000001"))


def calibration_table(scores: np.ndarray, y: np.ndarray, *, factor: float, offset: float) -> list[dict[str, Any]]:
    """Predicted against observed bad rate in up to ``CALIBRATION_BANDS`` equal-count bands of the score.

    Band edges are score quantiles; applicants with the same score always share a band, so a band may hold
    more or fewer rows than a tenth. Lowest scores (riskiest) first. Rows and bads add up to the holdout's.
    """
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, CALIBRATION_BANDS + 1)[1:-1]))
    band = np.searchsorted(edges, scores, side="right")
    pds = _pds(scores, factor, offset)
    table = []
    for index in range(len(edges) + 1):
        in_band = band == index
        rows = int(in_band.sum())
        if not rows:
            continue
        bads = int(y[in_band].sum())
        table.append(
            {
                "min_score": round(float(scores[in_band].min()), 2),
                "max_score": round(float(scores[in_band].max()), 2),
                "rows": rows,
                "bads": bads,
                "observed_bad_rate": round(bads / rows, 6),
                "predicted_bad_rate": round(float(pds[in_band].mean()), 6),
            }
        )
    return table


def _approve_line(scores: np.ndarray, y: np.ndarray, pds: np.ndarray, cutoff: float) -> dict[str, Any]:
    approved = scores >= cutoff
    count = int(approved.sum())
    bads = int(y[approved].sum())
    return {
        "cutoff": str(_quantize(cutoff, SCORE_PLACES)),
        "approval_rate": round(count / len(scores), 6),
        "approved": count,
        "bads": bads,
        "bad_rate": round(bads / count, 6) if count else 0.0,
        "predicted_bad_rate": round(float(pds[approved].mean()), 6) if count else 0.0,
    }


def tradeoff_table(scores: np.ndarray, y: np.ndarray, *, factor: float, offset: float) -> list[dict[str, Any]]:
    """Cut-off → approval rate, bad rate among the approved (observed and predicted), on the holdout.

    One line per ``TRADEOFF_STEP`` of approval rate: the cut-off is the score of the last applicant approved when
    that share of the holdout, best scores first, is approved (ties approve together, so a line may approve a
    little more than its step).
    """
    ordered = np.sort(scores)[::-1]
    pds = _pds(scores, factor, offset)
    lines, seen = [], set()
    steps = int(1 / TRADEOFF_STEP)
    for step in range(1, steps + 1):
        position = max(0, math.ceil(float(TRADEOFF_STEP * step) * len(ordered)) - 1)
        cutoff = float(ordered[position])
        if cutoff in seen:
            continue
        seen.add(cutoff)
        lines.append(_approve_line(scores, y, pds, cutoff))
    return lines


def cutoff_search(
    scores: np.ndarray,
    y: np.ndarray,
    *,
    target_approval_rate: float | None = None,
    max_bad_rate: float | None = None,
    refer_share: float = DEFAULT_REFER_SHARE,
) -> tuple[Decimal, Decimal, dict[str, Any]]:
    """Approve and refer cut-offs from the risk appetite, read off the holdout scores and outcomes.

    With a target approval rate: the approve cut-off is the score of the applicant at that rank, best first
    (ties approve together). With a maximum bad rate: the lowest cut-off (the most approvals) whose observed
    bad rate among the approved holdout rows does not exceed it. The refer cut-off sends the next
    ``refer_share`` of the holdout below the approve cut-off to an officer; below it, decline.
    """
    ordered = np.sort(scores)[::-1]
    n = len(ordered)

    def score_at_rate(rate: float) -> float:
        return float(ordered[min(n - 1, max(0, math.ceil(rate * n) - 1))])

    if target_approval_rate is not None:
        approve = score_at_rate(target_approval_rate)
        basis: dict[str, Any] = {"basis": "target_approval_rate", "target_approval_rate": target_approval_rate}
    else:
        # Bad rate among the approved for every cut-off, best scores first: bads so far over rows so far.
        order = np.argsort(-scores, kind="stable")
        cumulative_bads = np.cumsum(y[order])
        rates = cumulative_bads / np.arange(1, n + 1)
        sorted_scores = scores[order]
        # A cut-off approves everyone at or above it: only the last of a run of equal scores is a real cut-off.
        last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
        allowed = np.flatnonzero(last_of_tie & (rates <= max_bad_rate))
        if not len(allowed):
            best = int(np.flatnonzero(last_of_tie)[0])
            raise TrainingDataError(
                _(
                    "No cut-off keeps the bad rate among the approved at or below %(max).1f%%: even the best-scoring "
                    "%(share).1f%% of the holdout has a bad rate of %(rate).1f%%. Raise --max-bad-rate or use "
                    "--target-approval-rate."
                )
                % {"max": 100 * max_bad_rate, "share": 100 * (best + 1) / n, "rate": 100 * rates[best]}
            )
        approve = float(sorted_scores[allowed[-1]])
        basis = {"basis": "max_bad_rate", "max_bad_rate": max_bad_rate}
    approved_share = float((scores >= approve).mean())
    refer = (
        approve if refer_share == 0 or approved_share >= 1 else score_at_rate(min(1.0, approved_share + refer_share))
    )
    approve_min_score, refer_min_score = _quantize(approve, SCORE_PLACES), _quantize(min(refer, approve), SCORE_PLACES)
    live = _live_scores(scores)
    approved = live >= float(approve_min_score)
    referred = (live >= float(refer_min_score)) & ~approved
    basis |= {
        "approve_min_score": str(approve_min_score),
        "refer_min_score": str(refer_min_score),
        "refer_share": refer_share,
        "approval_rate": round(float(approved.mean()), 6),
        "refer_rate": round(float(referred.mean()), 6),
        "bad_rate_approved": round(float(y[approved].mean()), 6) if approved.any() else 0.0,
    }
    return approve_min_score, refer_min_score, basis


def _score_at_pd(pd: float, factor: float, offset: float) -> Decimal:
    return _quantize(offset + factor * math.log((1 - pd) / pd), SCORE_PLACES)


def _live_scores(scores: np.ndarray) -> np.ndarray:
    """The scores as the live engine compares them with a cut-off: rounded to 0.01, half up (in Decimal)."""
    return np.array([float(_quantize(float(score), SCORE_PLACES)) for score in scores])


def _outcome_shares(scores: np.ndarray, approve_min_score: Decimal, refer_min_score: Decimal) -> dict[str, float]:
    scores = _live_scores(scores)
    approve = scores >= float(approve_min_score)
    refer = (scores >= float(refer_min_score)) & ~approve
    return {
        "approve_share": round(float(approve.mean()), 6),
        "refer_share": round(float(refer.mean()), 6),
        "decline_share": round(float((~approve & ~refer).mean()), 6),
    }


def _grade_shares(scores: np.ndarray, factor: float, offset: float) -> dict[str, float]:
    pds = _pds(scores, factor, offset)
    grades = np.full(len(scores), RiskGrade.E.value, dtype=object)
    for grade, ceiling in reversed(GRADE_PD_CEILINGS.items()):
        grades[pds <= float(ceiling)] = grade
    return {grade: round(float((grades == grade).mean()), 6) for grade in RiskGrade.values}


def _distribution(scores: np.ndarray, *, base_score: float, pdo: float) -> dict[str, Any]:
    """Shares of the training scores on fixed bands: base score ± k·pdo, open at both ends."""
    edges = [base_score + pdo * k for k in range(-DISTRIBUTION_BANDS_EACH_SIDE, DISTRIBUTION_BANDS_EACH_SIDE + 1)]
    indexes = np.searchsorted(np.array(edges), scores, side="right")
    counts = np.bincount(indexes, minlength=len(edges) + 1)
    bounds: list[float | None] = [None, *edges, None]
    return {
        "rows": len(scores),
        "edges": edges,
        "bands": [
            {"lower": bounds[i], "upper": bounds[i + 1], "share": round(float(counts[i] / len(scores)), 6)}
            for i in range(len(counts))
        ],
    }


def _quantize(value: float, places: Decimal) -> Decimal:
    return Decimal(repr(value)).quantize(places, rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- reasons --------------------------------------------------------------------------------------------

# Per feature: (English, Chinese) for a value below the best-scoring range, then above it. Each names what
# the merchant can see in its own sales, never "score too low".
REASONS: dict[str, dict[str, tuple[str, str]]] = {
    Feature.MONTHS_ACTIVE: {
        "low": ("The business has traded on the platform for a short time", "在平台的经营时间较短"),
        "high": ("Months trading on the platform are outside the best-scoring range", "在平台经营月数不在最佳区间"),
    },
    Feature.SALES_12M: {
        "low": ("Sales over the last 12 months are low for the amount requested", "近12个月销售额相对申请金额偏低"),
        "high": ("Sales over the last 12 months are outside the best-scoring range", "近12个月销售额不在最佳区间"),
    },
    Feature.MONTHLY_SALES_AVG: {
        "low": ("Monthly sales are low for the amount requested", "月均销售额相对申请金额偏低"),
        "high": ("Monthly sales are outside the best-scoring range", "月均销售额不在最佳区间"),
    },
    Feature.SALES_TREND: {
        "low": ("Sales in the last 3 months fell against the 3 months before", "近3个月销售额较前3个月下降"),
        "high": ("Sales in the last 3 months jumped unusually against the 3 before", "近3个月销售额较前3个月异常猛增"),
    },
    Feature.SALES_CV: {
        "low": ("Monthly sales are unusually flat for this kind of business", "月销售额异常平稳"),
        "high": ("Monthly sales swing widely from month to month", "月销售额波动较大"),
    },
    Feature.REFUND_RATIO: {
        "low": ("Refunds are outside the usual range for this kind of business", "退款比例不在常见区间"),
        "high": ("Refunds are a high share of sales", "退款占销售额的比例偏高"),
    },
    Feature.ACTIVE_DAY_SHARE: {
        "low": ("Sales happen on few of the days", "有销售的天数占比偏低"),
        "high": ("The share of days with sales is outside the best-scoring range", "有销售的天数占比不在最佳区间"),
    },
    Feature.DISTINCT_CUSTOMERS: {
        "low": ("Few distinct customers bought in the last 90 days", "近90天的独立顾客偏少"),
        "high": (
            "Distinct customers in the last 90 days are outside the best-scoring range",
            "近90天独立顾客数不在最佳区间",
        ),
    },
    Feature.DAYS_SINCE_LAST_SALE: {
        "low": ("Days since the last sale are outside the best-scoring range", "距最近一笔销售的天数不在最佳区间"),
        "high": ("No sales have been recorded recently", "近期没有销售记录"),
    },
    Feature.SEASONALITY: {
        "low": ("Sales follow an unusual seasonal pattern", "销售的季节性规律异常"),
        "high": ("Sales depend heavily on a peak season", "销售额高度依赖旺季"),
    },
    Feature.AMOUNT_TO_MONTHLY_SALES: {
        "low": (
            "The amount requested is outside the best-scoring range against sales",
            "申请金额与月销售额之比不在最佳区间",
        ),
        "high": ("The amount requested is large against monthly sales", "申请金额相对月销售额偏高"),
    },
}
# Chinese names of the features, for the reasons about missing values and categories.
FEATURE_NAMES_ZH = {
    Feature.MONTHS_ACTIVE: "经营月数",
    Feature.SALES_12M: "近12个月销售额",
    Feature.MONTHLY_SALES_AVG: "月均销售额",
    Feature.SALES_TREND: "销售趋势",
    Feature.SALES_CV: "月销售额波动",
    Feature.REFUND_RATIO: "退款比例",
    Feature.ACTIVE_DAY_SHARE: "有销售天数占比",
    Feature.DISTINCT_CUSTOMERS: "独立顾客数",
    Feature.DAYS_SINCE_LAST_SALE: "距最近销售天数",
    Feature.SEASONALITY: "季节性",
    Feature.AMOUNT_TO_MONTHLY_SALES: "申请金额与月销售额之比",
    Feature.INDUSTRY: "行业",
}
FEATURE_NAMES_EN = {
    Feature.MONTHS_ACTIVE: "months trading on the platform",
    Feature.SALES_12M: "sales over the last 12 months",
    Feature.MONTHLY_SALES_AVG: "average monthly sales",
    Feature.SALES_TREND: "the sales trend",
    Feature.SALES_CV: "the volatility of monthly sales",
    Feature.REFUND_RATIO: "the refund ratio",
    Feature.ACTIVE_DAY_SHARE: "the share of days with sales",
    Feature.DISTINCT_CUSTOMERS: "distinct customers",
    Feature.DAYS_SINCE_LAST_SALE: "days since the last sale",
    Feature.SEASONALITY: "seasonality",
    Feature.AMOUNT_TO_MONTHLY_SALES: "the amount requested against monthly sales",
    Feature.INDUSTRY: "the industry",
}


def _write_reasons(binning: FeatureBinning) -> None:
    """A specific reason on every bin that scores below the feature's best bin (the engine quotes it)."""
    best_points = max(bin_.points for bin_ in binning.bins)
    range_bins = [bin_ for bin_ in binning.bins if binning.kind == "numeric" and not bin_.category]
    best_range = max(range(len(range_bins)), key=lambda i: range_bins[i].points) if range_bins else 0
    name = binning.name
    name_en = FEATURE_NAMES_EN.get(name, name)
    name_zh = FEATURE_NAMES_ZH.get(name, name)
    for bin_ in binning.bins:
        if bin_.points >= best_points:
            continue
        if bin_.category == MISSING:
            en, zh = _missing_reason(name, name_en, name_zh)
        elif binning.kind == "categorical":
            en, zh = _category_reason(name, bin_, name_en, name_zh)
        else:
            side = "low" if range_bins.index(bin_) < best_range else "high"
            if name in REASONS:
                en, zh = REASONS[name][side]
            elif side == "low":
                en, zh = (
                    f"{name} ({bin_.label}) is lower than in the best-scoring range",
                    f"{name}（{bin_.label}）低于最佳区间",
                )
            else:
                en, zh = (
                    f"{name} ({bin_.label}) is higher than in the best-scoring range",
                    f"{name}（{bin_.label}）高于最佳区间",
                )
        bin_.reason_en, bin_.reason_zh = _fit_reason(en), _fit_reason(zh)


def _fit_reason(text: str) -> str:
    """A reason that quotes a long label is shortened visibly (the bin keeps the full label)."""
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 1] + "…"


def _missing_reason(name: str, name_en: str, name_zh: str) -> tuple[str, str]:
    if name == Feature.INDUSTRY:
        return "The merchant's industry is not on record", "商户的行业信息缺失"
    if name in Feature.values:
        return f"There is not enough sales history to measure {name_en}", f"销售记录不足，无法计算{name_zh}"
    return f"{name} is not known", f"{name}缺失"


def _category_reason(name: str, bin_: TrainedBin, name_en: str, name_zh: str) -> tuple[str, str]:
    category = bin_.category
    if name == Feature.INDUSTRY:
        if bin_.other:
            return "Merchants in less common industries have defaulted more often", "非主要行业商户的违约率较高"
        label_en, label_zh = category, category
        if category in Industry.values:
            with translation.override("en"):
                label_en = str(Industry(category).label).lower()
            with translation.override("zh-hans"):
                label_zh = str(Industry(category).label)
        return f"Merchants in {label_en} have defaulted more often", f"{label_zh}行业商户的违约率较高"
    if bin_.other:
        return f"Uncommon values of {name_en} have defaulted more often", f"{name_zh}为少见取值的违约率较高"
    return f"Applicants with {name_en} {category} have defaulted more often", f"{name_zh}为“{category}”的违约率较高"


# --- saving ---------------------------------------------------------------------------------------------


def scorecard_create_trained(
    *, trained: TrainedScorecard, name: str, by: Any = None, allow_unknown_features: bool = False
) -> Scorecard:
    """Store a fitted scorecard as the next draft version, with its bins and one audit row.

    Refuses (``TrainingDataError``, nothing saved) a scorecard with features the live engine does not
    compute unless ``allow_unknown_features``: such a scorecard would put every applicant in those
    features' missing bins.
    """
    unknown = trained.unknown_features
    if unknown and not allow_unknown_features:
        raise TrainingDataError(
            _(
                "Not saved: the column(s) %(columns)s are not features the live engine computes (%(known)s). "
                "Rename them, leave them out with --exclude, or save anyway with --allow-unknown-features."
            )
            % {"columns": ", ".join(unknown), "known": ", ".join(Feature.values)}
        )
    too_long = [column for column in unknown if len(column) > MAX_FEATURE_NAME_LENGTH]
    if too_long:
        raise TrainingDataError(
            _("Not saved: the column name(s) %(columns)s are longer than %(max)d characters.")
            % {"columns": ", ".join(too_long), "max": MAX_FEATURE_NAME_LENGTH}
        )
    name = name.strip()
    if not name or len(name) > Scorecard._meta.get_field("name").max_length:
        raise TrainingDataError(_("The scorecard name must be 1 to 100 characters."))
    metrics = {**trained.metrics, "unknown_features": unknown}
    with transaction.atomic():
        # Lock the newest version so that two trainings at once number themselves one after the other.
        latest = Scorecard.objects.select_for_update().order_by("-version").first()
        scorecard = Scorecard.objects.create(
            name=name,
            version=(latest.version + 1) if latest else 1,
            source="trained",
            base_score=trained.base_score,
            base_odds=trained.base_odds,
            pdo=trained.pdo,
            intercept_points=trained.intercept_points,
            grade_pd_ceilings=dict(GRADE_PD_CEILINGS),
            approve_min_score=trained.approve_min_score,
            refer_min_score=trained.refer_min_score,
            metrics=metrics,
            training_distribution=trained.training_distribution,
            notes=_notes(trained),
            created_by=by if getattr(by, "is_authenticated", False) else None,
        )
        ScorecardBin.objects.bulk_create(
            ScorecardBin(
                scorecard=scorecard,
                feature=binning.name,
                lower=bin_.lower,
                upper=bin_.upper,
                category=bin_.code,
                # The full label of a category (of any length); range and missing bins need none.
                label=bin_.category
                if binning.kind == "categorical" and not bin_.other and bin_.category != MISSING
                else "",
                points=bin_.points,
                woe=bin_.woe,
                reason_en=bin_.reason_en,
                reason_zh=bin_.reason_zh,
            )
            for binning in trained.features
            for bin_ in binning.bins
        )
        holdout = trained.metrics["holdout"]
        audit_record(
            subject=scorecard,
            action="scorecard.train",
            by=by,
            to_state=ScorecardState.DRAFT,
            reason=_("Trained on %(rows)d rows; holdout AUC %(auc).3f, KS %(ks).3f, Gini %(gini).3f.")
            % {"rows": trained.metrics["rows"], "auc": holdout["auc"], "ks": holdout["ks"], "gini": holdout["gini"]},
            data={
                "source": trained.source,
                "seed": trained.metrics["seed"],
                "features": [b.name for b in trained.features],
                "dropped": trained.dropped,
                "cutoffs": trained.metrics["cutoffs"],
            },
        )
    return scorecard


def _notes(trained: TrainedScorecard) -> str:
    source = trained.source
    origin = (
        f"CSV {source.get('file')} (sha256 {source.get('sha256')})"
        if source.get("kind") == "csv"
        else f"{source.get('kind', 'rows')}"
    )
    lines = [
        f"Trained from {origin}, target {trained.target}, seed {trained.metrics['seed']}, "
        f"holdout {trained.metrics['holdout_share']}.",
        "Missing values score in the __missing__ bin; categories without a bin of their own score in the bin "
        "with a blank category (other). A missing or other bin with under "
        f"{trained.metrics['min_bin_share']:.0%} of the training rows carries its feature's riskiest weight "
        "of evidence.",
    ]
    lines.append(
        "Binning: "
        + "; ".join(f"{binning.name}: {binning.shape}" for binning in trained.features)
        + f". Rare categories (under {trained.metrics['min_bin_share']:.0%} of the training rows) are pooled into "
        "other; a category is stored as a short code with its full label."
    )
    cutoffs = trained.metrics["cutoffs"]
    if cutoffs["basis"] == "pd_ceilings":
        lines.append(
            f"Cut-offs at the grade PD ceilings: approve PD ≤ {cutoffs['approve_pd']}, refer PD ≤ "
            f"{cutoffs['refer_pd']}."
        )
    else:
        appetite = (
            f"target approval rate {cutoffs['target_approval_rate']:.1%}"
            if cutoffs["basis"] == "target_approval_rate"
            else f"maximum bad rate among the approved {cutoffs['max_bad_rate']:.1%}"
        )
        lines.append(
            f"Cut-offs from the risk appetite ({appetite}) on the holdout: approve {cutoffs['approval_rate']:.1%} "
            f"with a bad rate of {cutoffs['bad_rate_approved']:.1%}, refer the next {cutoffs['refer_rate']:.1%}."
        )
    for warning in trained.metrics["warnings"]:
        lines.append(f"Warning: {warning}")
    if trained.dropped:
        lines.append("Dropped: " + "; ".join(f"{name}: {why}" for name, why in trained.dropped.items()) + ".")
    return "\n".join(lines)


# --- a challenger beside the champion -------------------------------------------------------------------

CHALLENGER_DAYS = 90
# The most recent decisions compared, so that the page stays quick on a busy book; the result says so.
CHALLENGER_MAX_DECISIONS = 20000


@dataclass(frozen=True)
class ScorecardMix:
    """What one scorecard would have decided: outcome shares and grade shares over the same decisions."""

    scorecard: Scorecard
    outcomes: dict[str, float]
    grades: dict[str, float]


@dataclass(frozen=True)
class ChallengerComparison:
    since: datetime.datetime
    decisions: int
    capped: bool
    champion: ScorecardMix | None
    challenger: ScorecardMix
    # Decisions on which the two scorecards' score-based outcomes differ.
    outcome_changes: int


def challenger_compare(
    *, challenger: Scorecard, days: int = CHALLENGER_DAYS, now: datetime.datetime | None = None
) -> ChallengerComparison:
    """Score the last ``days`` of decisions with the challenger and with the active scorecard (the champion).

    Each decision's features are the ones in its snapshot, as the engine measured them at the time; each
    scorecard's outcome is its own approve / refer / decline cut-off on its own score. Policy rules and fraud
    checks, which apply alike whichever scorecard is active, are left out. Read-only.
    """
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    snapshots = list(
        Decision.objects.filter(decided_at__gte=since, snapshot__has_key="features")
        .order_by("-decided_at", "-id")
        .values_list("snapshot", flat=True)[: CHALLENGER_MAX_DECISIONS + 1]
    )
    capped = len(snapshots) > CHALLENGER_MAX_DECISIONS
    features = [MerchantFeatures.from_dict(snapshot["features"]) for snapshot in snapshots[:CHALLENGER_MAX_DECISIONS]]
    champion = Scorecard.objects.filter(state=ScorecardState.ACTIVE).exclude(pk=challenger.pk).first()

    def outcomes_of(scorecard: Scorecard) -> tuple[list[str], list[str]]:
        card = scorecard_load(scorecard)
        outcomes, grades = [], []
        for merchant_features in features:
            result = score_features(features=merchant_features, scorecard=card)
            if result.score >= card.approve_min_score:
                outcomes.append("approve")
            elif result.score >= card.refer_min_score:
                outcomes.append("refer")
            else:
                outcomes.append("decline")
            grades.append(result.grade)
        return outcomes, grades

    def mix(scorecard: Scorecard, outcomes: list[str], grades: list[str]) -> ScorecardMix:
        total = len(outcomes) or 1
        return ScorecardMix(
            scorecard=scorecard,
            outcomes={name: outcomes.count(name) / total for name in ("approve", "refer", "decline")},
            grades={grade: grades.count(grade) / total for grade in RiskGrade.values},
        )

    challenger_outcomes, challenger_grades = outcomes_of(challenger)
    champion_mix, changes = None, 0
    if champion is not None:
        champion_outcomes, champion_grades = outcomes_of(champion)
        champion_mix = mix(champion, champion_outcomes, champion_grades)
        changes = sum(a != b for a, b in zip(champion_outcomes, challenger_outcomes, strict=True))
    return ChallengerComparison(
        since=since,
        decisions=len(features),
        capped=capped,
        champion=champion_mix,
        challenger=mix(challenger, challenger_outcomes, challenger_grades),
        outcome_changes=changes,
    )
