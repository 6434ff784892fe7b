"""Training scorecards from data (``underwriting.services.training`` and ``manage.py train_scorecard``).

The data is synthetic with a known logistic relationship: the odds of a bad fall with monthly sales and
months active and rise with the refund ratio; ``distinct_customers`` is noise. The tests check what a risk
manager relies on: the metrics the command reports are what the saved bins give on the holdout rows,
recomputed here from the stored scorecard without the training code.
"""

import csv
import datetime
import hashlib
import io
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from core.models import AuditEvent
from lending.management.commands.train_scorecard import Command as TrainScorecardCommand
from underwriting.choices import ScorecardState
from underwriting.models import Scorecard
from underwriting.services import training
from underwriting.services.training import (
    LoanRecord,
    TrainingDataError,
    loan_outcome_rows,
    scorecard_create_trained,
    train_scorecard,
    woe_matrix,
)

# Made once with write_csv(path, applicants(600, seed=2024, intercept=-2.5)): 600 applicants, 78 bads.
EXAMPLE_CSV = Path(__file__).parent / "data" / "example_applicants.csv"
COLUMNS = ["months_active", "monthly_sales_avg", "refund_ratio", "industry", "distinct_customers", "defaulted"]
# Industry effects on the log-odds; O8111 is rare (about 1 %), so training pools it into the blank "other" bin.
INDUSTRY_RISK = {"F5211": -0.3, "F5232": 0.0, "H6210": 0.4, "H6220": 0.3, "O8070": 0.0, "O8111": 0.5}
INDUSTRY_SHARE = [0.2, 0.2, 0.2, 0.2, 0.19, 0.01]


def applicants(n: int, seed: int, *, intercept: float = -2.2) -> list[dict[str, str]]:
    """Rows as a CSV would give them: strings, with about 4 % of refund ratios missing."""
    rng = np.random.default_rng(seed)
    months = rng.integers(3, 73, n)
    sales = rng.lognormal(math.log(60000), 0.7, n)
    refunds = rng.beta(2, 60, n)
    industry = rng.choice(list(INDUSTRY_RISK), n, p=INDUSTRY_SHARE)
    customers = rng.integers(50, 2000, n)
    missing_refunds = rng.random(n) < 0.04
    log_odds = intercept - 0.9 * np.log(sales / 60000) + 30 * (refunds - 0.033) - 0.035 * (months - 36)
    log_odds += np.array([INDUSTRY_RISK[code] for code in industry])
    bad = rng.random(n) < 1 / (1 + np.exp(-log_odds))
    return [
        {
            "months_active": str(int(months[i])),
            "monthly_sales_avg": f"{sales[i]:.2f}",
            "refund_ratio": "" if missing_refunds[i] else f"{refunds[i]:.4f}",
            "industry": str(industry[i]),
            "distinct_customers": str(int(customers[i])),
            "defaulted": "1" if bad[i] else "0",
        }
        for i in range(n)
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def train(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("train_scorecard", "--csv", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def holdout_indexes(rows: list[dict], *, seed: int, holdout: float = 0.3, target: str = "defaulted"):
    """The split redone from its seed, as anyone checking the reported metrics would."""
    y = [int(row[target]) for row in rows]
    train_index, holdout_index = train_test_split(
        np.arange(len(rows)), test_size=holdout, stratify=y, random_state=seed
    )
    return sorted(train_index), sorted(holdout_index)


# --- scoring from the stored scorecard, independently of underwriting.services.training --------------------------


def saved_bins(card: Scorecard) -> dict[str, list]:
    bins: dict[str, list] = {}
    for bin_ in card.bins.all():
        bins.setdefault(bin_.feature, []).append(bin_)
    return bins


def bin_of(feature_bins: list, raw: str | None):
    """Missing → the "__missing__" bin; a category → its bin or the blank-category one; a number → [lower, upper)."""
    value = (raw or "").strip()
    if value == "":
        return next(bin_ for bin_ in feature_bins if bin_.category == "__missing__")
    categorical = any(bin_.category not in ("", "__missing__") for bin_ in feature_bins)
    if categorical:
        matching = [bin_ for bin_ in feature_bins if (bin_.label or bin_.category) == value]
        return matching[0] if matching else next(bin_ for bin_ in feature_bins if bin_.category == "")
    number = Decimal(value)
    (found,) = [
        bin_
        for bin_ in feature_bins
        if bin_.category == ""
        and (bin_.lower is None or number >= bin_.lower)
        and (bin_.upper is None or number < bin_.upper)
    ]
    return found


def score_of(card: Scorecard, bins: dict[str, list], row: dict[str, str]) -> Decimal:
    return card.intercept_points + sum(bin_of(feature_bins, row.get(f)).points for f, feature_bins in bins.items())


def pd_of(card: Scorecard, score: Decimal) -> float:
    factor = float(card.pdo) / math.log(2)
    offset = float(card.base_score) - factor * math.log(float(card.base_odds))
    return 1 / (1 + math.exp((float(score) - offset) / factor))


def ks_of(scores: list[float], bads: list[int]) -> float:
    """The largest gap between the cumulative score distributions of goods and bads."""
    goods_total, bads_total = bads.count(0), bads.count(1)
    pairs = sorted(zip(scores, bads, strict=True))
    gap = seen_goods = seen_bads = 0
    for i, (score, bad) in enumerate(pairs):
        seen_bads += bad
        seen_goods += 1 - bad
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            gap = max(gap, abs(seen_goods / goods_total - seen_bads / bads_total))
    return gap


@pytest.fixture
def applicants_csv(tmp_path):
    rows = applicants(3000, seed=11)
    return write_csv(tmp_path / "applicants.csv", rows), rows


# --- what a trained scorecard reports, and that the saved bins reproduce it -----------------------------


def test_reported_holdout_auc_and_ks_are_what_the_saved_bins_give_on_the_holdout_rows(db, applicants_csv):
    path, rows = applicants_csv

    output = train(path, "--target", "defaulted", "--seed", "5")

    card = Scorecard.objects.get()
    bins = saved_bins(card)
    _train, holdout = holdout_indexes(rows, seed=5)
    bads = [int(rows[i]["defaulted"]) for i in holdout]
    scores = [float(score_of(card, bins, rows[i])) for i in holdout]
    auc = roc_auc_score(bads, [-score for score in scores])
    assert auc == pytest.approx(card.metrics["holdout"]["auc"], abs=1e-6)
    assert card.metrics["holdout"]["gini"] == pytest.approx(2 * auc - 1, abs=1e-6)
    assert ks_of(scores, bads) == pytest.approx(card.metrics["holdout"]["ks"], abs=1e-6)
    assert auc > 0.7
    assert card.metrics["holdout"]["rows"] == len(holdout) == 900
    holdout_line = next(line for line in output.splitlines() if line.strip().startswith("holdout"))
    assert f"{auc:.4f}" in holdout_line


def test_reported_train_auc_is_what_the_saved_bins_give_on_the_training_rows(db, applicants_csv):
    path, rows = applicants_csv
    train(path, "--target", "defaulted", "--seed", "5")

    card = Scorecard.objects.get()
    bins = saved_bins(card)
    train_index, _holdout = holdout_indexes(rows, seed=5)
    auc = roc_auc_score(
        [int(rows[i]["defaulted"]) for i in train_index], [-float(score_of(card, bins, rows[i])) for i in train_index]
    )
    assert auc == pytest.approx(card.metrics["train"]["auc"], abs=1e-6)


def test_pd_read_back_from_the_saved_score_is_the_regression_probability(db):
    rows = applicants(3000, seed=12)
    trained = train_scorecard(rows, "defaulted", seed=2)
    card = scorecard_create_trained(trained=trained, name="PD check")

    bins = saved_bins(card)
    holdout_rows = [rows[i] for i in trained.holdout_index]
    regression_pd = trained.regression.predict_proba(woe_matrix(trained, holdout_rows))[:, 1]
    card_pd = np.array([pd_of(card, score_of(card, bins, row)) for row in holdout_rows])
    assert np.max(np.abs(card_pd - regression_pd)) < 1e-4
    assert card_pd.min() < 0.05 < 0.3 < card_pd.max()


def test_monotonic_bins_have_bad_rates_moving_one_way_on_the_training_rows(db, applicants_csv):
    path, rows = applicants_csv
    train(path, "--target", "defaulted", "--seed", "5")

    card = Scorecard.objects.get()
    train_index, _holdout = holdout_indexes(rows, seed=5)
    for feature in ("months_active", "monthly_sales_avg", "refund_ratio"):
        ranges = sorted(
            (bin_ for bin_ in card.bins.filter(feature=feature) if bin_.category == ""),
            key=lambda bin_: bin_.lower if bin_.lower is not None else Decimal("-Infinity"),
        )
        assert len(ranges) >= 3, feature
        counts = {bin_.pk: [0, 0] for bin_ in ranges}
        for i in train_index:
            if rows[i][feature]:
                counts[bin_of(ranges, rows[i][feature]).pk][int(rows[i]["defaulted"])] += 1
        rates = [counts[bin_.pk][1] / sum(counts[bin_.pk]) for bin_ in ranges]
        steps = np.sign(np.diff(rates))
        assert (steps > 0).all() or (steps < 0).all(), (feature, rates)
        for good, bad in counts.values():
            assert good
            assert bad
            assert good + bad >= 0.05 * len(train_index)


def test_u_shaped_risk_is_merged_to_monotonic_bins_only_when_asked():
    rng = np.random.default_rng(4)
    cv = rng.uniform(0, 2, 4000)
    bad = rng.random(4000) < 1 / (1 + np.exp(-(-2.5 + 3 * (cv - 1) ** 2)))
    rows = [{"sales_cv": f"{x:.4f}", "bad": int(b)} for x, b in zip(cv, bad, strict=True)]

    def bad_rates(monotonic: bool) -> list[float]:
        (binning,) = train_scorecard(rows, "bad", bins=6, monotonic=monotonic).features
        return [bin_.bad_rate for bin_ in binning.bins if not bin_.category]

    free = np.sign(np.diff(bad_rates(monotonic=False)))
    assert (free > 0).any()
    assert (free < 0).any()
    forced = np.sign(np.diff(bad_rates(monotonic=True)))
    assert (forced > 0).all() or (forced < 0).all()


def test_by_default_bins_are_monotone_where_the_data_supports_it_and_the_trainer_says_where_not():
    rng = np.random.default_rng(4)
    cv = rng.uniform(0, 2, 4000)
    sales = rng.lognormal(math.log(60000), 0.7, 4000)
    log_odds = -2.5 + 3 * (cv - 1) ** 2 - 0.9 * np.log(sales / 60000)
    bad = rng.random(4000) < 1 / (1 + np.exp(-log_odds))
    rows = [
        {"sales_cv": f"{x:.4f}", "monthly_sales_avg": f"{s:.2f}", "bad": int(b)}
        for x, s, b in zip(cv, sales, bad, strict=True)
    ]

    binnings = {binning.name: binning for binning in train_scorecard(rows, "bad").features}

    assert binnings["sales_cv"].shape.startswith("20 fine classes → 6 coarse; not monotone: the data rejects one trend")
    rates = [bin_.bad_rate for bin_ in binnings["sales_cv"].bins if not bin_.category]
    assert rates[0] > min(rates) < rates[-1]  # the U is kept
    assert binnings["monthly_sales_avg"].shape.endswith("monotone: the bad rate falls as the value rises")
    rates = [bin_.bad_rate for bin_ in binnings["monthly_sales_avg"].bins if not bin_.category]
    assert rates == sorted(rates, reverse=True)


def test_missing_values_and_rare_categories_get_their_own_bins(db, applicants_csv):
    path, _rows = applicants_csv
    train(path, "--target", "defaulted")

    card = Scorecard.objects.get()
    refund_categories = set(card.bins.filter(feature="refund_ratio").values_list("category", flat=True))
    assert refund_categories == {"", "__missing__"}
    industries = set(card.bins.filter(feature="industry").values_list("category", flat=True))
    # O8111 is under the minimum bin share: it scores in the blank-category bin for any other industry.
    assert industries == {"F5211", "F5232", "H6210", "H6220", "O8070", "", "__missing__"}
    # Too few rows to weigh (under 5 % of the training rows): those bins score as the riskiest industry.
    industry = {bin_.category: bin_.points for bin_ in card.bins.filter(feature="industry")}
    riskiest_kept = min(points for category, points in industry.items() if category not in ("", "__missing__"))
    assert industry[""] == industry["__missing__"] == riskiest_kept


def test_same_seed_gives_the_same_points_and_another_seed_another_split():
    rows = applicants(2000, seed=13)

    def points(seed: int):
        trained = train_scorecard(rows, "defaulted", seed=seed)
        table = [(f.name, b.label, b.points) for f in trained.features for b in f.bins]
        return trained.intercept_points, table, trained.metrics["holdout"]["auc"]

    assert points(3) == points(3)
    assert points(3)[2] != points(4)[2]


# --- the saved draft ------------------------------------------------------------------------------------


def test_trained_scorecard_is_saved_as_the_next_draft_version_with_bins_metrics_and_an_audit_row(db, applicants_csv):
    path, _rows = applicants_csv
    Scorecard.objects.create(name="Expert", version=3, approve_min_score=560, refer_min_score=540)

    output = train(path, "--target", "defaulted", "--seed", "5", "--name", "Autumn refit")

    card = Scorecard.objects.get(version=4)
    assert (card.name, card.state, card.source) == ("Autumn refit", ScorecardState.DRAFT, "trained")
    assert card.grade_pd_ceilings == {"A": "0.01", "B": "0.025", "C": "0.05", "D": "0.10"}
    # With base score 600 at odds 50 and 20 points to double: PD 5 % ↔ 572.08, PD 10 % ↔ 550.52.
    assert (card.approve_min_score, card.refer_min_score) == (Decimal("572.08"), Decimal("550.52"))
    assert set(card.bins.values_list("feature", flat=True)) == {
        "months_active",
        "monthly_sales_avg",
        "refund_ratio",
        "industry",
    }
    assert card.metrics["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card.metrics["seed"] == 5
    assert card.metrics["rows"] == 3000
    assert "distinct_customers" in card.metrics["dropped_features"]
    assert card.metrics["information_value"]["distinct_customers"] < 0.02
    assert card.metrics["information_value"]["months_active"] > 0.1
    assert sum(band["share"] for band in card.training_distribution["bands"]) == pytest.approx(1, abs=1e-5)
    assert card.training_distribution["rows"] == 2100
    (event,) = AuditEvent.objects.filter(action="scorecard.train")
    assert (event.object_id, event.actor, event.to_state) == (str(card.pk), None, "draft")
    assert "holdout AUC" in event.reason
    assert 'Saved draft scorecard "Autumn refit" version 4' in output


def test_bins_that_lose_points_carry_a_specific_reason(db, applicants_csv):
    path, _rows = applicants_csv
    train(path, "--target", "defaulted")

    card = Scorecard.objects.get()
    sales = sorted(
        card.bins.filter(feature="monthly_sales_avg", category=""),
        key=lambda bin_: bin_.lower if bin_.lower is not None else Decimal("-Infinity"),
    )
    assert sales[0].lower is None
    assert (sales[0].reason_en, sales[0].reason_zh) == (
        "Monthly sales are low for the amount requested",
        "月均销售额相对申请金额偏低",
    )
    assert (sales[-1].upper, sales[-1].reason_en) == (None, "")
    refunds = card.bins.filter(feature="refund_ratio", category="").order_by("-upper").first()
    assert refunds.reason_en == "Refunds are a high share of sales"
    assert card.bins.get(feature="industry", category="H6210").reason_en == (
        "Merchants in restaurants have defaulted more often"
    )
    for bin_ in card.bins.all():
        best = max(card.bins.filter(feature=bin_.feature).values_list("points", flat=True))
        assert bool(bin_.reason_en) == (bin_.points < best), bin_


def test_command_prints_information_values_points_table_and_metrics(db, applicants_csv):
    path, _rows = applicants_csv

    output = train(path, "--target", "defaulted", "--dry-run")

    assert "Trained on applicants.csv: 3000 rows, target defaulted" in output
    assert "no: information value" in output
    header = next(line for line in output.splitlines() if line.split()[:2] == ["feature", "bin"])
    assert header.split() == ["feature", "bin", "count", "bad", "rate", "WoE", "points"]
    assert "Approve at 572.08 or above (PD ≤ 0.05), refer at 550.52 or above (PD ≤ 0.10)" in output
    assert "Dry run: nothing saved." in output
    assert not Scorecard.objects.exists()


def test_committed_example_csv_trains_and_saves(db):
    output = train(EXAMPLE_CSV, "--target", "defaulted")

    card = Scorecard.objects.get()
    assert card.metrics["holdout"]["auc"] > 0.65
    assert f"{card.metrics['holdout']['auc']:.4f}" in output
    assert card.bins.filter(feature="monthly_sales_avg").exists()


# --- columns the live engine does not compute -----------------------------------------------------------


@pytest.fixture
def csv_with_unknown_column(tmp_path):
    rows = applicants(2000, seed=14)
    for row in rows:
        # A strong signal under a name the engine does not know (low ratings for half the bads and a few goods).
        months = int(row["months_active"])
        row["shop_rating"] = "1" if (row["defaulted"] == "1" and months % 2) or months % 7 == 0 else "5"
    return write_csv(tmp_path / "unknown.csv", rows)


def test_column_that_is_no_engine_feature_is_refused_and_nothing_is_saved(db, csv_with_unknown_column):
    with pytest.raises(CommandError, match=r"Not saved: the column\(s\) shop_rating are not features"):
        train(csv_with_unknown_column, "--target", "defaulted")
    assert not Scorecard.objects.exists()
    assert not AuditEvent.objects.exists()


def test_unknown_column_is_saved_when_allowed_or_left_out_when_excluded(db, csv_with_unknown_column):
    train(csv_with_unknown_column, "--target", "defaulted", "--allow-unknown-features")
    train(csv_with_unknown_column, "--target", "defaulted", "--exclude", "shop_rating")

    allowed, excluded = Scorecard.objects.order_by("version")
    assert allowed.bins.filter(feature="shop_rating").exists()
    assert allowed.metrics["unknown_features"] == ["shop_rating"]
    assert not excluded.bins.filter(feature="shop_rating").exists()


# --- bad input ------------------------------------------------------------------------------------------


def _bad_target(rows):
    rows[1]["defaulted"] = "yes"
    rows[5]["defaulted"] = "2"
    rows[6]["defaulted"] = ""
    return rows


def _one_class(rows):
    for row in rows:
        row["defaulted"] = "0"
    return rows


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        pytest.param(
            lambda rows: rows,
            ["--target", "bad"],
            "There is no target column bad. The columns are: months_active, monthly_sales_avg, refund_ratio, "
            "industry, distinct_customers, defaulted.",
            id="missing-target",
        ),
        pytest.param(
            _bad_target,
            ["--target", "defaulted"],
            "The target column defaulted must be 0 (good) or 1 (bad) on every row; found 'yes' on line 3, "
            "'2' on line 7, an empty value on line 8.",
            id="non-binary-target",
        ),
        pytest.param(
            _one_class,
            ["--target", "defaulted"],
            "The target column defaulted has only one class, 0 (good), on all 300 rows",
            id="one-class",
        ),
        pytest.param(
            lambda rows: rows[:60],
            ["--target", "defaulted"],
            "Only 60 rows: at least 100 are needed",
            id="too-few-rows",
        ),
        pytest.param(
            lambda rows: (
                [row for row in rows if row["defaulted"] == "0"][:195]
                + [row for row in rows if row["defaulted"] == "1"][:5]
            ),
            ["--target", "defaulted"],
            "Only 5 bad (1) and 195 good (0) rows: at least 10 of each are needed.",
            id="too-few-bads",
        ),
        pytest.param(
            lambda rows: rows,
            ["--target", "defaulted", "--holdout", "0"],
            "The holdout share must be above 0 and below 0.9 (for example 0.3); it is 0.0.",
            id="holdout-zero",
        ),
        pytest.param(
            lambda rows: rows,
            ["--target", "defaulted", "--holdout", "0.95"],
            "The holdout share must be above 0 and below 0.9 (for example 0.3); it is 0.95.",
            id="holdout-too-large",
        ),
        pytest.param(
            lambda rows: rows, [], "--target is required with --csv: name the 0/1 column (1 = bad).", id="no-target"
        ),
    ],
)
def test_bad_training_data_is_refused_with_a_message_and_nothing_saved(db, tmp_path, rows, args, message):
    path = write_csv(tmp_path / "bad.csv", rows(applicants(300, seed=15)))

    with pytest.raises(CommandError) as error:
        train(path, *args)

    assert message in str(error.value)
    assert not Scorecard.objects.exists()
    assert not AuditEvent.objects.exists()


def test_non_binary_target_quotes_the_first_five_lines_and_counts_the_rest(db, tmp_path):
    rows = applicants(300, seed=15)
    for row in rows[:8]:
        row["defaulted"] = "maybe"

    with pytest.raises(CommandError) as error:
        train(write_csv(tmp_path / "bad.csv", rows), "--target", "defaulted")

    assert "found 'maybe' on line 2, 'maybe' on line 3," in str(error.value)
    assert "'maybe' on line 6 and 3 more lines." in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "is empty: it needs a header line naming the columns", id="empty"),
        pytest.param(b"  \n\n", "is empty: it needs a header line naming the columns", id="blank"),
        pytest.param(b"months_active,defaulted\n", "has a header but no data lines", id="header-only"),
        pytest.param(b"a,b,a\n1,0,1\n", "the header names the column(s) a more than once", id="duplicate-column"),
        pytest.param(
            b"a,defaulted\n1,0\n2\n3,1,9\n",
            "2 line(s) do not have the 2 values of the header (line 3 has 1, line 4 has 3)",
            id="ragged",
        ),
        pytest.param(b"a,defaulted\n\xff\xfe,1\n", "is not UTF-8 text", id="not-utf8"),
    ],
)
def test_unreadable_csv_is_refused_with_a_message(db, tmp_path, content, message):
    path = tmp_path / "file.csv"
    path.write_bytes(content)

    with pytest.raises(CommandError) as error:
        train(path, "--target", "defaulted")

    assert message in str(error.value)
    assert not Scorecard.objects.exists()


def test_missing_file_is_named_in_the_error(db, tmp_path):
    with pytest.raises(CommandError, match=r"No such file: .*nope\.csv"):
        train(tmp_path / "nope.csv", "--target", "defaulted")


def test_directory_instead_of_a_file_cannot_be_read(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        train(tmp_path, "--target", "defaulted")


def test_command_exits_non_zero_with_the_message_on_stderr(tmp_path, capsys):
    command = TrainScorecardCommand()
    argv = ["manage.py", "train_scorecard", "--csv", str(tmp_path / "nope.csv"), "--target", "bad"]

    with pytest.raises(SystemExit) as exit_:
        command.run_from_argv(argv)

    assert exit_.value.code == 1
    assert "CommandError: No such file" in capsys.readouterr().err


def test_rows_not_from_a_file_are_located_by_position(db):
    rows = [{"months_active": i, "bad": i % 2} for i in range(200)]
    rows[3]["bad"] = "x"

    with pytest.raises(TrainingDataError, match=r"found 'x' in row 4\."):
        train_scorecard(rows, "bad")


def test_no_predictive_column_is_refused_with_the_information_values(db, tmp_path):
    rng = np.random.default_rng(16)
    rows = [{"distinct_customers": int(rng.integers(50, 2000)), "bad": int(rng.random() < 0.2)} for _ in range(3000)]

    with pytest.raises(TrainingDataError, match=r"No column predicts the target well enough .*distinct_customers 0\.0"):
        train_scorecard(rows, "bad")


def test_columns_are_refused_only_for_a_statistical_reason_which_is_given():
    rows = applicants(2000, seed=17)
    for index, row in enumerate(rows):
        row["merchant_ref"] = str(10**15 + index)  # an identifier, not a measure: it carries no information
        row["note"] = "x" * 50  # the same free text on every row

    trained = train_scorecard(rows, "defaulted")

    assert trained.dropped["merchant_ref"].startswith("information value 0.0")
    assert trained.dropped["note"] == (
        f"a single value ('{'x' * 50}') on every training row: it cannot tell goods from bads"
    )
    assert {binning.name for binning in trained.features} >= {"months_active", "monthly_sales_avg"}


# --- training from funded loans -------------------------------------------------------------------------


def test_training_from_no_funded_loans_says_there_are_none_yet(db):
    with pytest.raises(training.TrainingDataError, match="No funded loans to train on yet: none has defaulted"):
        training.loan_training_rows(loans=[])
    assert not Scorecard.objects.exists()


def test_loan_target_is_default_within_12_months_and_unripe_loans_are_left_out():
    now = datetime.datetime(2025, 6, 30, tzinfo=datetime.UTC)
    two_years_ago = now - datetime.timedelta(days=730)
    three_months_ago = now - datetime.timedelta(days=90)
    records = [
        LoanRecord(
            {"months_active": 10, "as_of": "2023-06-01"}, two_years_ago, two_years_ago + datetime.timedelta(days=100)
        ),
        LoanRecord({"months_active": 20}, two_years_ago, two_years_ago + datetime.timedelta(days=400)),
        LoanRecord({"months_active": 30}, two_years_ago, None),
        LoanRecord({"months_active": 40}, three_months_ago, None),
        LoanRecord({"months_active": 50}, three_months_ago, three_months_ago + datetime.timedelta(days=30)),
    ]

    rows = loan_outcome_rows(records, as_of=now)

    assert [(row["months_active"], row["defaulted_12m"]) for row in rows] == [(10, 1), (20, 0), (30, 0), (50, 1)]
    assert set(rows[0]) == {"months_active", "defaulted_12m"}


# --- labels as real data spells them, leakage, honest figures and cut-offs from the risk appetite --------

# Industry labels as a bank's data set writes them: long, Chinese, punctuated, quoted.
LONG_LABELS = {
    "F5211": "零售：便利店 / 社区超市 / 水果生鲜（含“前店后仓”模式，日均客流 > 200 人）",
    "F5232": "Wholesale of construction materials, hardware & plumbing supplies (B2B, 30-90 day terms)",
    "H6210": "餐饮服务（含外卖、堂食、夜宵档口）",
    "H6220": "O'Brien's \"Café\" & Bar, Ltd. — 酒吧/咖啡馆; tables: 12; since 2019",
    "O8070": "美容美发、美甲及个人护理服务（预付卡经营，需备案；门店面积 ≥ 50 m²）",
}


def labelled_applicants(n: int, seed: int) -> list[dict[str, str]]:
    """``applicants`` with long labels for industry, drawn so that the industry clearly tells goods from bads."""
    rows = applicants(n, seed=seed)
    rng = np.random.default_rng(seed)
    labels = list(LONG_LABELS.values())
    for row in rows:
        shares = [0.1, 0.1, 0.35, 0.35, 0.1] if row["defaulted"] == "1" else [0.3, 0.3, 0.1, 0.1, 0.2]
        row["industry"] = labels[rng.choice(len(labels), p=shares)]
    return rows


def test_long_chinese_and_punctuated_labels_survive_training_saving_and_scoring(db, tmp_path):
    from underwriting.engine.scoring import score_features
    from underwriting.selectors.features import MerchantFeatures

    rows = labelled_applicants(3000, seed=11)
    out = train(write_csv(tmp_path / "labels.csv", rows), "--target", "defaulted")

    card = Scorecard.objects.get()
    by_label = {bin_.label: bin_ for bin_ in card.bins.filter(feature="industry") if bin_.label}
    assert set(by_label) == set(LONG_LABELS.values())
    for label, bin_ in by_label.items():
        assert len(bin_.category) <= 40
        assert bin_.category == label if len(label) <= 40 else bin_.category.startswith(label[:28])
        assert label in out  # the points table prints the label whole
    assert len({bin_.category for bin_ in by_label.values()}) == len(LONG_LABELS)
    (industry_line,) = [line for line in out.splitlines() if line.split()[:2] == ["industry", "categorical"]]
    assert industry_line.split()[3] == "yes"
    assert "5 categories: one bin each for 5" in industry_line

    # At decision time a merchant whose industry is spelt so scores in that bin, whatever the label looks like.
    for label, bin_ in by_label.items():
        features = MerchantFeatures.from_dict({"industry": label, "months_active": 30, "monthly_sales_avg": "60000"})
        (line,) = [
            line for line in score_features(features=features, scorecard=card).lines if line.feature == "industry"
        ]
        assert (line.bin_label, line.points) == (label, bin_.points)
    unseen = MerchantFeatures.from_dict({"industry": "养殖业（未见过的行业）", "months_active": 30})
    (line,) = [line for line in score_features(features=unseen, scorecard=card).lines if line.feature == "industry"]
    assert line.points == card.bins.get(feature="industry", category="", label="").points


def test_a_column_that_leaks_the_outcome_is_refused_with_its_reason(db, tmp_path):
    rows = applicants(2000, seed=5)
    rng = np.random.default_rng(5)
    for row in rows:
        bad = row["defaulted"] == "1"
        row["written_off"] = "written off" if bad else "performing"  # the target in other words
        row["days_past_due_12m"] = str(int(rng.integers(91, 365)) if bad else int(rng.integers(0, 30)))

    out = train(write_csv(tmp_path / "leaky.csv", rows), "--target", "defaulted")

    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert (
        "no: leakage: it equals the target on every training row, so it is the outcome itself, not something known "
        "when the application is decided" in lines["written_off"]
    )
    assert (
        "no: leakage: on its own it separates goods from bads almost perfectly (training AUC 1.000, at least 0.98)"
        in lines["days_past_due_12m"]
    )
    card = Scorecard.objects.get()
    assert not card.bins.filter(feature__in=["written_off", "days_past_due_12m"]).exists()
    assert card.metrics["dropped_features"]["written_off"].startswith("leakage: it equals the target")
    assert "months_active" in card.metrics["coefficients"]


def test_numbers_written_as_text_are_binned_as_numbers():
    rows = applicants(2000, seed=8)
    for row in rows:
        row["monthly_sales_avg"] = f"¥{float(row['monthly_sales_avg']):,.2f}"  # "¥48,213.77"

    trained = train_scorecard(rows, "defaulted")

    assert trained.column_types["monthly_sales_avg"] == "numeric"
    sales = next(binning for binning in trained.features if binning.name == "monthly_sales_avg")
    assert sales.shape.startswith("20 fine classes → ")
    assert all(bin_.category in ("", "__missing__") for bin_ in sales.bins)


@pytest.fixture
def risky_population(tmp_path):
    """A population where 30 % of applicants go bad: the grade PD ceilings alone would decline most of it."""
    rows = applicants(4000, seed=21, intercept=-1.0)
    return write_csv(tmp_path / "risky.csv", rows), rows


def _holdout_scores(card: Scorecard, rows: list[dict]) -> tuple[list[Decimal], list[int]]:
    _train, holdout = holdout_indexes(rows, seed=1)
    bins = saved_bins(card)
    scores = [score_of(card, bins, rows[i]).quantize(Decimal("0.01")) for i in holdout]
    return scores, [int(rows[i]["defaulted"]) for i in holdout]


@pytest.mark.parametrize("target", ["0.3", "0.6", "0.85"])
def test_cut_off_from_a_target_approval_rate_approves_that_share_of_the_holdout_within_one_band(
    db, risky_population, target
):
    path, rows = risky_population
    bads = sum(int(row["defaulted"]) for row in rows)
    assert 0.27 < bads / len(rows) < 0.33

    out = train(path, "--target", "defaulted", "--target-approval-rate", target)

    card = Scorecard.objects.get()
    scores, _outcomes = _holdout_scores(card, rows)
    approved = sum(score >= card.approve_min_score for score in scores) / len(scores)
    referred = sum(card.refer_min_score <= score < card.approve_min_score for score in scores) / len(scores)
    assert abs(approved - float(target)) <= float(training.TRADEOFF_STEP)
    assert abs(referred - training.DEFAULT_REFER_SHARE) <= float(training.TRADEOFF_STEP)
    assert f"target approval rate {float(target):.1%}): approve at {card.approve_min_score} or above" in out
    assert "Trade-off on the holdout: approve at or above the cut-off" in out


def test_cut_off_from_a_maximum_bad_rate_keeps_the_approved_under_it(db, risky_population):
    path, rows = risky_population

    out = train(path, "--target", "defaulted", "--max-bad-rate", "0.15")

    card = Scorecard.objects.get()
    scores, outcomes = _holdout_scores(card, rows)
    approved = [bad for score, bad in zip(scores, outcomes, strict=True) if score >= card.approve_min_score]
    assert sum(approved) / len(approved) <= 0.15
    # As many approvals as that allows: the next trade-off line down approves more at a higher bad rate.
    below = [line for line in card.metrics["tradeoff"] if Decimal(line["cutoff"]) < card.approve_min_score]
    assert below[0]["bad_rate"] > 0.15
    assert "bad rate among the approved at most 15.0%): approve at" in out


def test_without_a_risk_appetite_the_grade_ceilings_decline_most_of_a_risky_population(db, risky_population):
    path, rows = risky_population

    out = train(path, "--target", "defaulted")

    card = Scorecard.objects.get()
    scores, _outcomes = _holdout_scores(card, rows)
    assert sum(score >= card.approve_min_score for score in scores) / len(scores) < 0.1
    assert "use --target-approval-rate or --max-bad-rate" in out


def test_calibration_table_adds_up_to_the_holdout_rows_and_bads(db, applicants_csv):
    path, rows = applicants_csv

    out = train(path, "--target", "defaulted")

    card = Scorecard.objects.get()
    _train, holdout = holdout_indexes(rows, seed=1)
    holdout_bads = sum(int(rows[i]["defaulted"]) for i in holdout)
    calibration = card.metrics["calibration"]
    assert len(calibration) == training.CALIBRATION_BANDS
    assert sum(band["rows"] for band in calibration) == len(holdout) == card.metrics["holdout"]["rows"]
    assert sum(band["bads"] for band in calibration) == holdout_bads == card.metrics["holdout"]["bads"]
    assert [band["min_score"] for band in calibration] == sorted(band["min_score"] for band in calibration)
    assert all(band["observed_bad_rate"] == round(band["bads"] / band["rows"], 6) for band in calibration)
    (total,) = [line.split() for line in out.splitlines() if line.strip().startswith("all ")]
    assert total == ["all", str(len(holdout)), str(holdout_bads), f"{holdout_bads / len(holdout):.1%}"]


def test_holdout_auc_comes_with_a_bootstrap_interval_around_it(db, applicants_csv):
    path, _rows = applicants_csv

    out = train(path, "--target", "defaulted")

    holdout = Scorecard.objects.get().metrics["holdout"]
    low, high = holdout["auc_interval"]
    assert low < holdout["auc"] < high
    assert 0.02 < high - low < 0.2
    assert f"95% bootstrap interval {low:.4f} to {high:.4f} (500 resamples)" in out


def test_a_train_auc_far_above_the_holdout_is_warned_about(db, tmp_path):
    rows = applicants(400, seed=3)
    rng = np.random.default_rng(3)
    for row in rows:  # noise a fine-grained binning learns by heart
        row["noise_a"], row["noise_b"] = f"{rng.random():.4f}", f"{rng.random():.4f}"
    path = write_csv(tmp_path / "small.csv", rows)
    args = ["--target", "defaulted", "--allow-unknown-features", "--min-iv", "0", "--min-bin-share", "0.02"]
    err = io.StringIO()

    call_command(
        "train_scorecard",
        "--csv",
        str(path),
        *args,
        "--bins",
        "20",
        "--monotonic",
        "never",
        stderr=err,
        stdout=io.StringIO(),
    )

    metrics = Scorecard.objects.get().metrics
    assert metrics["train"]["auc"] - metrics["holdout"]["auc"] > 0.05
    assert (
        f"Train AUC {metrics['train']['auc']:.3f} and holdout AUC {metrics['holdout']['auc']:.3f} differ by more"
        " than 0.05" in err.getvalue()
    )


def test_a_well_fitted_scorecard_gets_no_overfitting_warning(db, applicants_csv):
    path, _rows = applicants_csv
    err = io.StringIO()

    call_command("train_scorecard", "--csv", str(path), "--target", "defaulted", stdout=io.StringIO(), stderr=err)

    metrics = Scorecard.objects.get().metrics
    assert abs(metrics["train"]["auc"] - metrics["holdout"]["auc"]) <= 0.05
    assert metrics["warnings"] == []
    assert "differ by more than" not in err.getvalue()
