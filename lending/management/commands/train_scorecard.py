"""Fit a scorecard from data and save it as a draft version (``underwriting.services.training``)."""

import argparse
import textwrap
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from lending.servicing.selectors.loans import loan_outcomes
from underwriting.choices import Feature
from underwriting.services.training import (
    APPROVE_DOWN_TO_GRADE,
    DEFAULT_BINS,
    DEFAULT_FINE_BINS,
    DEFAULT_HOLDOUT,
    DEFAULT_MAX_CATEGORIES,
    DEFAULT_MIN_BIN_SHARE,
    DEFAULT_MIN_IV,
    DEFAULT_REFER_SHARE,
    DEFAULT_SEED,
    GRADE_PD_CEILINGS,
    LEAKAGE_AUC,
    LOAN_TARGET,
    MISSING,
    MONOTONE_TEST_LEVEL,
    OVERFIT_GAP,
    REFER_DOWN_TO_GRADE,
    TrainedScorecard,
    TrainingDataError,
    TrainingRows,
    loan_training_rows,
    read_training_csv,
    scorecard_create_trained,
    train_scorecard,
)

DESCRIPTION = f"""\
Fit a scorecard from data and save it as a new draft version (a risk manager activates it in admin).

Examples:
  manage.py train_scorecard --csv applicants.csv --target defaulted
  manage.py train_scorecard --csv applicants.csv --target bad --holdout 0.25 --seed 7 --name "Q3 refit"
  manage.py train_scorecard --csv applicants.csv --target bad --dry-run      # print, save nothing
  manage.py train_scorecard --csv applicants.csv --target bad --target-approval-rate 0.6
  manage.py train_scorecard --csv applicants.csv --target bad --max-bad-rate 0.08 --refer-share 0.05
  manage.py train_scorecard --from-loans

The CSV has a header line, one line per past applicant, and a target column that is 1 for a bad (default)
and 0 for a good. Every other column is a candidate feature: numeric when every non-empty value is a number,
otherwise categorical (force with --categorical). Numbers stored as text count as numbers ("1,200", "¥350",
full-width digits). Category labels are kept whatever they look like: any length, any script, punctuation; a
bin stores a short code and the full label. Empty cells and NA/NaN/null are missing values and get their own bin.
The live engine computes these features, so name the columns after them to make the scorecard usable:
{textwrap.fill(", ".join(Feature.values), width=110, initial_indent="  ", subsequent_indent="  ")}
Values must be in the engine's units (underwriting.selectors.features): amounts in yuan, ratios and shares as fractions
(0.05, not 5%), sales_trend as a change (0.10 is +10%), industry as the GB/T 4754 code (F5211 …).
A scorecard with other columns is refused unless --allow-unknown-features (the engine would put every applicant
in their missing bin); leave such columns out with --exclude.

What it does: a stratified holdout split (--holdout, --seed). Fine classing: up to --fine-bins quantile bins per
numeric column, merged until each holds --min-bin-share of the training rows and both goods and bads; coarse
classing: neighbours merged, least information lost first, down to --bins. --monotonic auto (the default) makes
the weight of evidence monotone unless a G-test at the {MONOTONE_TEST_LEVEL} level says the data rejects one trend
(then it says so); always / never force it either way. Categories: one bin each when it holds --min-bin-share of
the training rows, the rarer ones (and those beyond --max-categories) pooled into "other".
A column is refused only for a stated statistical reason, printed beside it: no values, a single value, leakage
(it equals the target, or alone ranks the training rows with an AUC of {LEAKAGE_AUC} or more), or an information
value below --min-iv. Then a logistic regression on the WoE columns and points on the base score / base odds /
pdo scale (score = intercept points + the points of each feature's bin).
It prints the information values and binning of every column, the points table, AUC, KS and Gini on train and
holdout with a bootstrap interval for the holdout AUC (a warning when train and holdout AUC differ by more than
{OVERFIT_GAP}), the calibration table (predicted against observed bad rate by score band) and the trade-off table
(cut-off → approval rate, bad rate among the approved) on the holdout.
Cut-offs: from the risk appetite with --target-approval-rate (approve that share of the holdout, best scores
first) or --max-bad-rate (the lowest cut-off whose bad rate among the approved holdout rows is at most that); the
next --refer-share of applicants below it is referred, the rest declined. Without either, approve at the score of
PD {GRADE_PD_CEILINGS[APPROVE_DOWN_TO_GRADE]} (grade {APPROVE_DOWN_TO_GRADE}) and refer at PD \
{GRADE_PD_CEILINGS[REFER_DOWN_TO_GRADE]} (grade {REFER_DOWN_TO_GRADE}).
Stored bins: numeric [lower, upper) with open ends empty; categories by name; missing values in the category
"{MISSING}"; rare and unseen categories in the bin with a blank category ("other"). A missing or other bin with
under --min-bin-share of the training rows is no evidence and scores as its feature's riskiest bin.

--from-loans trains on the platform's own funded loans instead: the features stored in the snapshot of the
decision behind each loan, and the target {LOAN_TARGET} = defaulted within 12 months of funding (loans younger
than 12 months that have not defaulted are left out). Without such loans it stops with "No funded loans to train
on yet".

Bad input stops the command with a message naming the problem, and nothing is saved.
"""


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keep the description's line breaks (the examples and the feature list)."""


class Command(BaseCommand):
    help = DESCRIPTION

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = _Formatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, help="CSV file of past applicants with a 0/1 target column.")
        source.add_argument(
            "--from-loans", action="store_true", help=f"Train on funded loans (target {LOAN_TARGET}); see above."
        )
        parser.add_argument("--target", help="The target column: 1 = bad (default), 0 = good. Needed with --csv.")
        parser.add_argument(
            "--holdout",
            type=float,
            default=DEFAULT_HOLDOUT,
            help=f"Share of rows held out to measure the scorecard, above 0 and below 0.9 (default {DEFAULT_HOLDOUT}).",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Seed of the holdout split (default {DEFAULT_SEED})."
        )
        parser.add_argument("--name", help="Name of the scorecard (default: Trained from <file>).")
        parser.add_argument(
            "--bins",
            type=int,
            default=DEFAULT_BINS,
            help=f"Most coarse bins per numeric column, missing aside (default {DEFAULT_BINS}).",
        )
        parser.add_argument(
            "--fine-bins",
            type=int,
            default=DEFAULT_FINE_BINS,
            help=f"Quantile bins per numeric column before merging (default {DEFAULT_FINE_BINS}).",
        )
        parser.add_argument(
            "--monotonic",
            nargs="?",
            const="always",
            default="auto",
            choices=["auto", "always", "never"],
            help="Monotone weight of evidence: auto (where the data supports it; default), always, never.",
        )
        parser.add_argument(
            "--no-monotonic", dest="monotonic", action="store_const", const="never", help="Same as --monotonic never."
        )
        appetite = parser.add_mutually_exclusive_group()
        appetite.add_argument(
            "--target-approval-rate",
            type=float,
            help="Set the approve cut-off so that this share of the holdout is approved (0.6 for 60 %%).",
        )
        appetite.add_argument(
            "--max-bad-rate",
            type=float,
            help="Set the approve cut-off as low as the bad rate among the approved holdout rows allows (0.08).",
        )
        parser.add_argument(
            "--refer-share",
            type=float,
            default=DEFAULT_REFER_SHARE,
            help=f"With a risk appetite: share of applicants below the approve cut-off referred (default "
            f"{DEFAULT_REFER_SHARE}).",
        )
        parser.add_argument(
            "--min-bin-share",
            type=float,
            default=DEFAULT_MIN_BIN_SHARE,
            help=f"Smallest share of the training rows in a bin (default {DEFAULT_MIN_BIN_SHARE}).",
        )
        parser.add_argument(
            "--min-iv",
            type=float,
            default=DEFAULT_MIN_IV,
            help=f"Drop columns with a lower information value (default {DEFAULT_MIN_IV}).",
        )
        parser.add_argument(
            "--max-categories",
            type=int,
            default=DEFAULT_MAX_CATEGORIES,
            help=f"Most bins for a categorical column, 'other' included (default {DEFAULT_MAX_CATEGORIES}).",
        )
        parser.add_argument("--exclude", nargs="+", default=[], metavar="COLUMN", help="Columns to leave out.")
        parser.add_argument(
            "--categorical", nargs="+", default=[], metavar="COLUMN", help="Columns to treat as categories."
        )
        parser.add_argument("--base-score", type=_decimal, default=Decimal(600), help="Base score (default 600).")
        parser.add_argument("--base-odds", type=_decimal, default=Decimal(50), help="Good:bad odds at it (default 50).")
        parser.add_argument("--pdo", type=_decimal, default=Decimal(20), help="Points to double the odds (default 20).")
        parser.add_argument(
            "--allow-unknown-features",
            action="store_true",
            help="Save even if some kept columns are not features the live engine computes.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Train and print; save nothing.")

    def handle(self, *args, **options):
        if options["csv"] is not None and not options["target"]:
            raise CommandError("--target is required with --csv: name the 0/1 column (1 = bad).")
        try:
            data = self._rows(options)
            trained = train_scorecard(
                data.rows,
                options["target"] or LOAN_TARGET,
                holdout=options["holdout"],
                seed=options["seed"],
                bins=options["bins"],
                fine_bins=options["fine_bins"],
                monotonic=options["monotonic"],
                target_approval_rate=options["target_approval_rate"],
                max_bad_rate=options["max_bad_rate"],
                refer_share=options["refer_share"],
                min_bin_share=options["min_bin_share"],
                min_iv=options["min_iv"],
                max_categories=options["max_categories"],
                exclude=options["exclude"],
                categorical=options["categorical"],
                base_score=options["base_score"],
                base_odds=options["base_odds"],
                pdo=options["pdo"],
                line_numbers=data.line_numbers,
                source=data.source,
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        self._print(trained)
        if trained.unknown_features:
            self.stderr.write(
                self.style.WARNING(
                    f"Warning: {', '.join(trained.unknown_features)} are not features the live engine computes; "
                    "it would score every applicant in their missing bin."
                )
            )
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing saved.")
            return
        name = options["name"] or (
            f"Trained from {options['csv'].name}"[:100] if options["csv"] else "Trained from funded loans"
        )
        try:
            scorecard = scorecard_create_trained(
                trained=trained, name=name, by=None, allow_unknown_features=options["allow_unknown_features"]
            )
        except TrainingDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f'Saved draft scorecard "{scorecard.name}" version {scorecard.version} (id {scorecard.pk}) with '
                f"{scorecard.bins.count()} bins. A risk manager activates it in admin after review."
            )
        )

    @staticmethod
    def _rows(options) -> TrainingRows:
        if options["from_loans"]:
            return loan_training_rows(loans=loan_outcomes())
        return read_training_csv(options["csv"])

    def _print(self, trained: TrainedScorecard) -> None:
        metrics = trained.metrics
        train, holdout = metrics["train"], metrics["holdout"]
        source = trained.source.get("file") or trained.source.get("kind", "rows")
        bads = train["bads"] + holdout["bads"]
        self.stdout.write(
            f"Trained on {source}: {metrics['rows']} rows, target {trained.target} ({bads} bad, "
            f"{bads / metrics['rows']:.1%}); holdout {metrics['holdout_share']:.0%}, seed {metrics['seed']}."
        )
        self.stdout.write("")
        self.stdout.write("Columns: information value, binning, and why a column was refused")
        kept = {binning.name: binning for binning in trained.features}
        self._table(
            ["feature", "type", "IV", "kept", "binning"],
            [
                [
                    name,
                    trained.column_types[name],
                    f"{iv:.4f}",
                    "yes" if name in kept else f"no: {trained.dropped[name]}",
                    kept[name].shape if name in kept else "",
                ]
                for name, iv in sorted(trained.information_values.items(), key=lambda item: -item[1])
            ],
            right={2},
        )
        self.stdout.write(
            f"  (rare categories: under {metrics['min_bin_share']:.0%} of the training rows, pooled into 'other')"
        )
        self.stdout.write("")
        self.stdout.write(f"Points table (every applicant starts with {trained.intercept_points} points)")
        rows = []
        for binning in trained.features:
            for bin_ in binning.bins:
                code = bin_.code if binning.kind == "categorical" and bin_.code != bin_.category else ""
                rows.append(
                    [
                        binning.name,
                        bin_.label + (f"  [code {code}]" if code else ""),
                        str(bin_.count),
                        "-" if bin_.bad_rate is None else f"{bin_.bad_rate:.1%}",
                        f"{bin_.woe:.3f}{'*' if bin_.no_evidence else ' '}",
                        f"{bin_.points:.3f}",
                    ]
                )
        self._table(["feature", "bin", "count", "bad rate", "WoE", "points"], rows, right={2, 3, 4, 5})
        self.stdout.write(
            "  (count: training rows. * a missing or other bin with under "
            f"{metrics['min_bin_share']:.0%} of the rows scores as its feature's riskiest bin)"
        )
        self.stdout.write("")
        low, high = holdout["auc_interval"]
        self._table(
            ["", "AUC", "KS", "Gini", "rows", "bads", "bad rate"],
            [
                [
                    label,
                    f"{part['auc']:.4f}",
                    f"{part['ks']:.4f}",
                    f"{part['gini']:.4f}",
                    str(part["rows"]),
                    str(part["bads"]),
                    f"{part['bad_rate']:.1%}",
                ]
                for label, part in (("train", train), ("holdout", holdout))
            ],
            right={1, 2, 3, 4, 5, 6},
        )
        self.stdout.write(
            f"  Holdout AUC {holdout['auc']:.4f}, {holdout['auc_interval_level']:.0%} bootstrap interval "
            f"{low:.4f} to {high:.4f} ({holdout['bootstrap_resamples']} resamples)."
        )
        for warning in metrics["warnings"]:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        self.stdout.write("")
        self.stdout.write("Calibration on the holdout (score bands of about equal size, riskiest first)")
        self._table(
            ["score from", "to", "rows", "bads", "observed", "predicted"],
            [
                [
                    f"{band['min_score']:.2f}",
                    f"{band['max_score']:.2f}",
                    str(band["rows"]),
                    str(band["bads"]),
                    f"{band['observed_bad_rate']:.1%}",
                    f"{band['predicted_bad_rate']:.1%}",
                ]
                for band in metrics["calibration"]
            ]
            + [
                [
                    "all",
                    "",
                    str(sum(band["rows"] for band in metrics["calibration"])),
                    str(sum(band["bads"] for band in metrics["calibration"])),
                    f"{holdout['bad_rate']:.1%}",
                    "",
                ]
            ],
            right={0, 1, 2, 3, 4, 5},
        )
        self.stdout.write("")
        self.stdout.write("Trade-off on the holdout: approve at or above the cut-off")
        self._table(
            ["cut-off", "approval rate", "approved", "bads", "bad rate among approved", "predicted"],
            [
                [
                    line["cutoff"],
                    f"{line['approval_rate']:.1%}",
                    str(line["approved"]),
                    str(line["bads"]),
                    f"{line['bad_rate']:.1%}",
                    f"{line['predicted_bad_rate']:.1%}",
                ]
                for line in metrics["tradeoff"]
            ],
            right={0, 1, 2, 3, 4, 5},
        )
        self.stdout.write("")
        cutoffs = metrics["cutoffs"]
        if cutoffs["basis"] == "pd_ceilings":
            self.stdout.write(
                f"Approve at {trained.approve_min_score} or above (PD ≤ {cutoffs['approve_pd']}), refer at "
                f"{trained.refer_min_score} or above (PD ≤ {cutoffs['refer_pd']}), decline below. To set them from "
                "the risk appetite instead, use --target-approval-rate or --max-bad-rate."
            )
        else:
            appetite = (
                f"target approval rate {cutoffs['target_approval_rate']:.1%}"
                if cutoffs["basis"] == "target_approval_rate"
                else f"bad rate among the approved at most {cutoffs['max_bad_rate']:.1%}"
            )
            self.stdout.write(
                f"Cut-offs from the risk appetite ({appetite}): approve at {trained.approve_min_score} or above "
                f"({cutoffs['approval_rate']:.1%} of the holdout, bad rate {cutoffs['bad_rate_approved']:.1%}), "
                f"refer at {trained.refer_min_score} or above (the next {cutoffs['refer_rate']:.1%}), decline below."
            )
        grades = ", ".join(f"{grade} {share:.1%}" for grade, share in holdout["grades"].items())
        self.stdout.write(
            f"On the holdout: approve {holdout['approve_share']:.1%}, refer {holdout['refer_share']:.1%}, "
            f"decline {holdout['decline_share']:.1%}; grades {grades}."
        )

    def _table(self, header: list[str], rows: list[list[str]], *, right: set[int]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
            self.stdout.write("  " + "  ".join(cells).rstrip())


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
