"""The risk managers' back office for the engine: scorecard versions, policy rules, decisions, pre-approved limits.

Nothing here changes a state field. A scorecard's state moves only through ``scorecard_activate`` (which
a second risk manager runs on a version another proposed, ``scorecard_activation_propose``) and ``scorecard_retire``
(the list actions), a draft's parameters are saved by ``scorecard_save``, a rule by
``policy_rule_save`` (validated and audited); decisions and pre-approved limits are read-only.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.admin.charts import curve_chart
from core.admin.confirm import confirmed_note
from core.admin.mixins import EstimatedCountPaginator, ExactSearchAdminMixin
from underwriting.choices import Feature, Outcome, RuleKind, ScorecardState
from underwriting.models import Decision, PolicyRule, PreApprovedLimit, Scorecard, ScorecardBin
from underwriting.services.decisions import (
    ACTIVATE_PERMISSION,
    policy_rule_save,
    scorecard_activate,
    scorecard_activation_propose,
    scorecard_retire,
    scorecard_save,
)
from underwriting.services.training import CHALLENGER_DAYS, challenger_compare

METRIC_LABELS = {
    "auc": _("AUC"),
    "gini": _("Gini"),
    "ks": _("KS"),
    "rows": _("rows"),
    "holdout_rows": _("holdout rows"),
    "train_rows": _("training rows"),
    "bad_rate": _("bad rate"),
}


HEADLINE_METRICS = ("auc", "ks", "gini")
ROC_TABLE_ROWS = 11


@dataclass(frozen=True)
class RocPoint:
    false_positive: float
    true_positive: float
    cutoff: float | None  # declining scores up to this one; None: nobody, or everybody

    def describe(self) -> str:
        shares = {"goods": f"{self.false_positive:.1%}", "bads": f"{self.true_positive:.1%}"}
        if self.cutoff is None:
            return gettext("goods declined %(goods)s, bads declined %(bads)s") % shares
        return gettext("declining up to %(cutoff)s: goods declined %(goods)s, bads declined %(bads)s") % {
            **shares,
            "cutoff": f"{self.cutoff:.2f}",
        }


def roc_from_metrics(metrics: dict) -> list[RocPoint]:
    """The holdout's ROC points: as training stores them (``holdout.roc``), or, for a version trained before it did,
    from the calibration bands (declining band after band from the riskiest: a coarser curve of the same score)."""
    stored = (metrics.get("holdout") or {}).get("roc")
    if isinstance(stored, list) and stored:
        return [
            RocPoint(float(fpr), float(tpr), None if cutoff is None else float(cutoff)) for fpr, tpr, cutoff in stored
        ]
    bands = metrics.get("calibration")
    if not isinstance(bands, list) or not bands:
        return []
    bads = sum(int(band["bads"]) for band in bands)
    goods = sum(int(band["rows"]) - int(band["bads"]) for band in bands)
    if not bads or not goods:
        return []
    points = [RocPoint(0.0, 0.0, None)]
    declined_bads = declined_goods = 0
    for band in bands:  # lowest scores first
        declined_bads += int(band["bads"])
        declined_goods += int(band["rows"]) - int(band["bads"])
        points.append(RocPoint(declined_goods / goods, declined_bads / bads, float(band["max_score"])))
    return points


def _spread(items: list, count: int) -> list:
    """At most ``count`` of ``items``, evenly spread, the first and the last always among them."""
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1)
    return [items[round(index * step)] for index in range(count)]


def _is_draft(scorecard: Scorecard | None) -> bool:
    return scorecard is None or scorecard.state == ScorecardState.DRAFT


def _in_language(item: dict) -> str:
    """The English or Chinese message of a reason or rule result, in the officer's language."""
    key = "message_zh" if (get_language() or "").startswith("zh") else "message_en"
    return item.get(key) or item.get("message_en") or ""


def _table(headers: list, rows: list[tuple]) -> str:
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    cells = "<td>{}</td>" * len(headers)
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        head,
        format_html_join("", "<tr>" + cells + "</tr>", rows),
    )


def _feature_label(code: str) -> str:
    return str(Feature(code).label) if code in Feature.values else code


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


class ScorecardBinInline(admin.TabularInline):
    """The points table; editable while the scorecard is a draft, read-only once it has been used."""

    model = ScorecardBin
    extra = 0
    fields = ["feature", "lower", "upper", "category", "label", "points", "woe", "reason_en", "reason_zh"]

    def get_readonly_fields(self, request: HttpRequest, obj: Scorecard | None = None):
        return [] if _is_draft(obj) else self.fields

    def has_add_permission(self, request: HttpRequest, obj: Scorecard | None = None) -> bool:
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Scorecard | None = None) -> bool:
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Scorecard | None = None) -> bool:
        return _is_draft(obj) and super().has_delete_permission(request, obj)


@admin.register(Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "name",
        "state_badge",
        "source",
        "auc",
        "gini",
        "ks",
        "refer_min_score",
        "approve_min_score",
        "bin_count",
        "activated_at",
        "retired_at",
        "activation_proposed_by",
    ]
    list_display_links = ["version", "name"]
    list_filter = ["state", "source"]
    search_fields = ["name", "notes"]
    ordering = ["-version"]
    inlines = [ScorecardBinInline]
    actions = ["propose_activation", "activate_version", "retire_version"]
    fieldsets = [
        (None, {"fields": ["name", "version", "state_badge", "source", "notes"]}),
        (
            _("Scaling and thresholds"),
            {
                "fields": [
                    ("base_score", "base_odds", "pdo"),
                    "intercept_points",
                    "grade_pd_ceilings",
                    ("refer_min_score", "approve_min_score"),
                    "score_bands",
                ]
            },
        ),
        (
            _("Holdout metrics"),
            {"fields": ["metrics_table", "holdout_figures", "roc_curve", "training_distribution"]},
        ),
        (_("Calibration and cut-offs on the holdout"), {"fields": ["calibration_table", "tradeoff_table"]}),
        (_("Challenger against the champion"), {"fields": ["challenger_comparison"]}),
        (
            _("Activation (proposed by one risk manager, confirmed by another)"),
            {"fields": ["activation_proposed_by", "activation_proposed_at", "activation_proposal_note"]},
        ),
        (_("History"), {"fields": ["created_by", "created_at", "activated_at", "retired_at"]}),
    ]
    readonly_fields = [
        "activation_proposed_by",
        "activation_proposed_at",
        "activation_proposal_note",
        "state_badge",
        "score_bands",
        "metrics_table",
        "holdout_figures",
        "roc_curve",
        "calibration_table",
        "tradeoff_table",
        "challenger_comparison",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scorecard]:
        return super().get_queryset(request).annotate(bin_total=Count("bins"))

    def get_readonly_fields(self, request: HttpRequest, obj: Scorecard | None = None):
        readonly = list(self.readonly_fields)
        if obj is not None:
            readonly.append("version")  # the version names the scorecard in every decision made with it
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Scorecard | None = None) -> bool:
        # A scorecard that has been active is evidence for the decisions made with it: it is never edited.
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Scorecard | None = None) -> bool:
        return False

    def has_activate_scorecard_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    def save_model(self, request: HttpRequest, obj: Scorecard, form, change: bool) -> None:
        scorecard_save(scorecard=obj, by=request.user)

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, scorecard: Scorecard) -> str:
        if scorecard.pk is None:
            return ScorecardState(ScorecardState.DRAFT).label
        return format_html('<span class="status status-{}">{}</span>', scorecard.state, scorecard.get_state_display())

    def _metric(self, scorecard: Scorecard, name: str) -> str:
        metrics = scorecard.metrics or {}
        # A trained scorecard keeps its figures per part (train, holdout): the list shows the holdout's.
        value = (metrics.get("holdout") or {}).get(name, metrics.get(name))
        if value is None:
            return "—"
        try:
            return f"{Decimal(str(value)):.3f}"
        except ArithmeticError:
            return str(value)

    @admin.display(description=_("AUC"))
    def auc(self, scorecard: Scorecard) -> str:
        return self._metric(scorecard, "auc")

    @admin.display(description=_("Gini"))
    def gini(self, scorecard: Scorecard) -> str:
        return self._metric(scorecard, "gini")

    @admin.display(description=_("KS"))
    def ks(self, scorecard: Scorecard) -> str:
        return self._metric(scorecard, "ks")

    @admin.display(description=_("bins"), ordering="bin_total")
    def bin_count(self, scorecard: Scorecard) -> int:
        return getattr(scorecard, "bin_total", None) or scorecard.bins.count()

    @admin.display(description=_("holdout metrics"))
    def metrics_table(self, scorecard: Scorecard) -> str:
        """The holdout's AUC, KS and Gini first (what a risk manager judges a version by), then the other figures."""
        metrics = scorecard.metrics or {}
        headline = [(METRIC_LABELS[name], self._metric(scorecard, name)) for name in ("auc", "ks", "gini")]
        rows = [
            (METRIC_LABELS.get(name, name), _shown(value))
            for name, value in metrics.items()
            if not isinstance(value, dict | list) and name not in HEADLINE_METRICS
        ]
        if all(value == "—" for _label, value in headline) and not rows:
            return gettext("No holdout metrics: an expert scorecard is not fitted to data.")
        return _table([gettext("Metric"), gettext("Value")], [*headline, *rows])

    @admin.display(description=_("ROC curve on the holdout"))
    def roc_curve(self, scorecard: Scorecard) -> str:
        """The holdout's ROC curve, as stored by training, or read off the calibration bands of an older version."""
        metrics = scorecard.metrics or {}
        points = roc_from_metrics(metrics)
        if not points:
            return gettext("No ROC curve: the scorecard was not fitted to data with a holdout.")
        auc = self._metric(scorecard, "auc")
        chart = curve_chart(
            chart_id="roc-curve",
            title=gettext("ROC curve of version %(version)s on its holdout (AUC %(auc)s)")
            % {"version": scorecard.version, "auc": auc},
            description=gettext(
                "Declining every score up to a cut-off declines this share of the goods (across) and of the bads "
                "(up); the dashed diagonal is a score that ranks no better than chance."
            ),
            points=[(point.false_positive, point.true_positive) for point in points],
            x_title=gettext("goods declined (false positive rate)"),
            y_title=gettext("bads declined (true positive rate)"),
            labelled=[(point.false_positive, point.true_positive, point.describe()) for point in points],
        )
        shown = _spread(points, ROC_TABLE_ROWS)
        table = _table(
            [gettext("Decline scores up to"), gettext("goods declined"), gettext("bads declined")],
            [
                (
                    "—" if point.cutoff is None else f"{point.cutoff:.2f}",
                    f"{point.false_positive:.1%}",
                    f"{point.true_positive:.1%}",
                )
                for point in shown
            ],
        )
        return format_html('<figure class="chart">{}</figure>{}', chart, table)

    @admin.display(description=_("train and holdout"))
    def holdout_figures(self, scorecard: Scorecard) -> str:
        metrics = scorecard.metrics or {}
        train, holdout = metrics.get("train"), metrics.get("holdout")
        if not isinstance(train, dict) or not isinstance(holdout, dict):
            return "—"
        low, high = holdout.get("auc_interval") or (None, None)
        rows = [
            (
                part_name,
                f"{part['auc']:.3f}",
                f"{low:.3f} – {high:.3f}" if part is holdout and low is not None else "",
                f"{part['ks']:.3f}",
                f"{part['gini']:.3f}",
                part["rows"],
                part["bads"],
                f"{part['bad_rate']:.1%}",
            )
            for part_name, part in ((gettext("train"), train), (gettext("holdout"), holdout))
        ]
        table = _table(
            [
                gettext("Rows scored"),
                gettext("AUC"),
                # xgettext:no-python-format
                gettext("95 % interval (bootstrap)"),
                gettext("KS"),
                gettext("Gini"),
                gettext("rows"),
                gettext("bads"),
                gettext("bad rate"),
            ],
            rows,
        )
        notes = [*metrics.get("warnings", [])]
        dropped = metrics.get("dropped_features") or {}
        notes += [gettext("%(column)s refused: %(reason)s") % {"column": c, "reason": r} for c, r in dropped.items()]
        return format_html("{}{}", table, format_html_join("", "<p>{}</p>", ((note,) for note in notes)))

    @admin.display(description=_("calibration"))
    def calibration_table(self, scorecard: Scorecard) -> str:
        bands = (scorecard.metrics or {}).get("calibration")
        if not bands:
            return "—"
        rows = [
            (
                f"{band['min_score']:.2f} – {band['max_score']:.2f}",
                band["rows"],
                band["bads"],
                f"{band['observed_bad_rate']:.1%}",
                f"{band['predicted_bad_rate']:.1%}",
            )
            for band in bands
        ]
        rows.append(
            (
                gettext("all"),
                sum(band["rows"] for band in bands),
                sum(band["bads"] for band in bands),
                f"{scorecard.metrics['holdout']['bad_rate']:.1%}",
                "",
            )
        )
        return _table(
            [
                gettext("Score band"),
                gettext("rows"),
                gettext("bads"),
                gettext("observed bad rate"),
                gettext("predicted bad rate"),
            ],
            rows,
        )

    @admin.display(description=_("trade-off"))
    def tradeoff_table(self, scorecard: Scorecard) -> str:
        lines = (scorecard.metrics or {}).get("tradeoff")
        if not lines:
            return "—"
        rows = [
            (
                line["cutoff"],
                f"{line['approval_rate']:.1%}",
                line["approved"],
                line["bads"],
                f"{line['bad_rate']:.1%}",
                f"{line['predicted_bad_rate']:.1%}",
            )
            for line in lines
        ]
        cutoffs = scorecard.metrics.get("cutoffs") or {}
        if cutoffs.get("basis") == "target_approval_rate":
            basis = gettext("Cut-offs set for a target approval rate of %(rate).1f %%.") % {
                "rate": 100 * cutoffs["target_approval_rate"]
            }
        elif cutoffs.get("basis") == "max_bad_rate":
            basis = gettext("Cut-offs set for a bad rate among the approved of at most %(rate).1f %%.") % {
                "rate": 100 * cutoffs["max_bad_rate"]
            }
        else:
            basis = gettext("Cut-offs at the grade PD ceilings.")
        return format_html(
            "<p>{}</p>{}",
            basis,
            _table(
                [
                    gettext("Approve from score"),
                    gettext("approval rate"),
                    gettext("approved"),
                    gettext("bads"),
                    gettext("bad rate among approved"),
                    gettext("predicted"),
                ],
                rows,
            ),
        )

    @admin.display(description=_("last 90 days of decisions"))
    def challenger_comparison(self, scorecard: Scorecard) -> str:
        if scorecard.pk is None:
            return "—"
        if scorecard.state == ScorecardState.ACTIVE:
            return gettext("This version is the champion: a draft is compared with it here before activation.")
        comparison = challenger_compare(challenger=scorecard, days=CHALLENGER_DAYS)
        if not comparison.decisions:
            return gettext("No decisions in the last %(days)d days to compare on.") % {"days": CHALLENGER_DAYS}
        sides = [(gettext("challenger"), comparison.challenger)]
        if comparison.champion is not None:
            sides.insert(0, (gettext("champion"), comparison.champion))
        headers = [gettext("Would have produced")] + [
            f"{role}: {side.scorecard.name} v{side.scorecard.version}" for role, side in sides
        ]
        labels = {"approve": gettext("approved"), "refer": gettext("referred"), "decline": gettext("declined")}
        rows = [(labels[name], *(f"{side.outcomes[name]:.1%}" for _role, side in sides)) for name in labels]
        rows += [
            (gettext("grade %(grade)s") % {"grade": grade}, *(f"{side.grades[grade]:.1%}" for _role, side in sides))
            for grade in comparison.challenger.grades
        ]
        summary = gettext(
            "%(count)d decisions since %(since)s, scored again from their snapshots; only the score and each "
            "version's cut-offs differ (policy rules and fraud checks apply alike)."
        ) % {"count": comparison.decisions, "since": comparison.since.date().isoformat()}
        if comparison.champion is None:
            summary += " " + gettext("No version is active: there is no champion to compare with.")
        else:
            summary += " " + gettext("The outcome would change for %(changes)d of them.") % {
                "changes": comparison.outcome_changes
            }
        if comparison.capped:
            summary += " " + gettext("Only the most recent decisions are compared.")
        return format_html("<p>{}</p>{}", summary, _table(headers, rows))

    @admin.display(description=_("what the thresholds mean"))
    def score_bands(self, scorecard: Scorecard) -> str:
        if scorecard.pk is None:
            return "—"
        return gettext(
            "Below %(refer)s: declined. From %(refer)s to below %(approve)s: referred to an officer. "
            "From %(approve)s: approved automatically."
        ) % {"refer": scorecard.refer_min_score, "approve": scorecard.approve_min_score}

    @admin.action(description=_("Propose activation…"), permissions=["activate_scorecard"])
    def propose_activation(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> HttpResponse | None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, gettext("Select exactly one draft version to activate."), messages.ERROR)
            return None
        note = confirmed_note(
            self,
            request,
            chosen,
            action="propose_activation",
            title=gettext("Propose activation"),
            what=gettext(
                "This version will wait for a different risk manager to confirm its activation; until then nothing "
                "changes for decisions."
            ),
            submit_label=gettext("Propose"),
        )
        if not isinstance(note, str):
            return note
        try:
            proposed = scorecard_activation_propose(scorecard=chosen[0], by=request.user, note=note)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, self._refusal(exc), messages.ERROR)
            return None
        self.message_user(
            request,
            gettext("Version %(version)s is proposed for activation; a different risk manager confirms it.")
            % {"version": proposed.version},
            messages.SUCCESS,
        )
        return None

    @admin.action(description=_("Confirm activation (second risk manager)…"), permissions=["activate_scorecard"])
    def activate_version(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> HttpResponse | None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, gettext("Select exactly one draft version to activate."), messages.ERROR)
            return None
        note = confirmed_note(
            self,
            request,
            chosen,
            action="activate_version",
            title=gettext("Confirm activation"),
            what=gettext(
                "This version becomes the active scorecard and decides every application from now on; the one "
                "active now is retired. It must have been proposed by a different risk manager."
            ),
            submit_label=gettext("Activate"),
        )
        if not isinstance(note, str):
            return note
        previous = Scorecard.objects.filter(state=ScorecardState.ACTIVE).first()
        try:
            activated = scorecard_activate(scorecard=chosen[0], by=request.user, note=note)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, self._refusal(exc), messages.ERROR)
            return None
        message = gettext("Version %(version)s is now active.") % {"version": activated.version}
        if previous is not None and previous.pk != activated.pk:
            message += " " + gettext("Version %(version)s was retired.") % {"version": previous.version}
        self.message_user(request, message, messages.SUCCESS)
        return None

    @admin.action(description=_("Retire"), permissions=["activate_scorecard"])
    def retire_version(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        for scorecard in queryset:
            try:
                scorecard_retire(scorecard=scorecard, by=request.user, reason=gettext("Retired in the back office."))
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, self._refusal(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Version %(version)s is retired. No scorecard is active: applications cannot be decided "
                        "automatically until a version is activated."
                    )
                    % {"version": scorecard.version},
                    messages.WARNING,
                )

    @staticmethod
    def _refusal(exc: Exception) -> str:
        if isinstance(exc, ValidationError):
            return " ".join(exc.messages)
        return str(exc) or gettext("Permission denied.")


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "threshold", "outcome", "is_active", "message_en", "updated_at"]
    list_filter = ["is_active", "kind", "outcome"]
    search_fields = ["code", "message_en", "message_zh"]
    ordering = ["code"]
    readonly_fields = ["placeholders", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "kind", "is_active"]}),
        (_("What the rule checks"), {"fields": ["threshold", "parameters", "outcome"]}),
        (_("What the merchant is told when it fails"), {"fields": ["placeholders", "message_en", "message_zh"]}),
        (_("History"), {"fields": ["updated_at"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: PolicyRule | None = None) -> bool:
        # Decisions name their rules by code: a rule is switched off, not deleted.
        return False

    def save_model(self, request: HttpRequest, obj: PolicyRule, form, change: bool) -> None:
        policy_rule_save(rule=obj, by=request.user, reason=gettext("Edited in the back office."))

    @admin.display(description=_("placeholders"))
    def placeholders(self, rule: PolicyRule) -> str:
        rows = [
            (RuleKind.MIN_MONTHS_ACTIVE.label, gettext("months of sales"), gettext("the threshold")),
            (RuleKind.MAX_OPEN_APPLICATIONS.label, gettext("other applications in progress"), gettext("the threshold")),
            (RuleKind.AMOUNT_WITHIN_LINE.label, gettext("the amount asked for"), gettext("the credit line")),
            (RuleKind.INDUSTRY_NOT_EXCLUDED.label, gettext("the merchant's industry code"), gettext("excluded codes")),
            (RuleKind.NO_FRAUD_FLAG.label, gettext("open or confirmed alerts"), "0"),
        ]
        return format_html(
            "<p>{}</p>{}",
            gettext("A message may use {value} and {threshold}; they are filled in when the rule fails:"),
            _table([gettext("Rule"), "{value}", "{threshold}"], rows),
        )


@admin.register(Decision)
class DecisionAdmin(ExactSearchAdminMixin, admin.ModelAdmin):
    list_display = [
        "decided_at",
        "merchant",
        "application_id",
        "outcome_badge",
        "grade",
        "score",
        "probability_of_default",
        "requested_amount",
        "credit_line",
        "scorecard_version",
        "duration_ms",
    ]
    list_filter = ["outcome", "grade", "scorecard"]
    list_select_related = ["merchant", "scorecard"]
    search_fields = ["=application_id", "=merchant__credit_code", "=merchant__legal_name"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["merchant", "decided_by"]
    ordering = ["-decided_at", "-id"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "merchant",
                    "application_id",
                    "outcome_badge",
                    ("grade", "score", "probability_of_default"),
                    ("requested_amount", "credit_line", "price_rate"),
                    "reasons_list",
                ]
            },
        ),
        (_("Rules"), {"fields": ["rules_table"]}),
        (_("Score"), {"fields": ["scorecard", "points_table"]}),
        (_("Features"), {"fields": ["features_table"]}),
        (_("Credit line"), {"fields": ["credit_line_table"]}),
        (_("Fraud signals"), {"fields": ["fraud_table"]}),
        (_("Request and exposures"), {"fields": ["request_table", "exposures_table"]}),
        (_("Timing"), {"fields": ["decided_at", "duration_ms", "decided_by"]}),
    ]
    readonly_fields = [
        "outcome_badge",
        "reasons_list",
        "rules_table",
        "points_table",
        "features_table",
        "credit_line_table",
        "fraud_table",
        "request_table",
        "exposures_table",
    ]

    # A decision is evidence: nobody adds, edits or deletes one here.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Decision | None = None) -> bool:
        return False

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_badge(self, decision: Decision) -> str:
        css = {Outcome.APPROVE: "verified", Outcome.REFER: "submitted", Outcome.DECLINE: "rejected"}
        return format_html(
            '<span class="status status-{}">{}</span>', css.get(decision.outcome, ""), decision.get_outcome_display()
        )

    @admin.display(description=_("scorecard"), ordering="scorecard__version")
    def scorecard_version(self, decision: Decision) -> str:
        return f"v{decision.scorecard.version}" if decision.scorecard_id else "—"

    @admin.display(description=_("reasons"))
    def reasons_list(self, decision: Decision) -> str:
        if not decision.reasons:
            return "—"
        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{}</li>", ((_in_language(reason),) for reason in decision.reasons)),
        )

    @admin.display(description=_("every rule"))
    def rules_table(self, decision: Decision) -> str:
        rows = [
            (
                result.get("code"),
                gettext("passed") if result.get("passed") else gettext("failed"),
                result.get("outcome"),
                _shown(result.get("value")),
                _shown(result.get("threshold")),
                "" if result.get("passed") else _in_language(result),
            )
            for result in decision.snapshot.get("rules", [])
        ]
        return _table(
            [
                gettext("Rule"),
                gettext("Result"),
                gettext("When it fails"),
                gettext("Value"),
                gettext("Threshold"),
                gettext("Message"),
            ],
            rows,
        )

    @admin.display(description=_("points by feature"))
    def points_table(self, decision: Decision) -> str:
        score = decision.snapshot.get("score", {})
        rows = [
            (_feature_label(line["feature"]), _shown(line.get("value")), line["bin"], line["points"], line["best"])
            for line in (dict(row, best=row.get("best_points")) for row in score.get("points", []))
        ]
        intercept = decision.snapshot.get("scorecard", {}).get("intercept_points")
        if intercept is not None:
            rows.insert(0, (gettext("Starting points"), "—", "—", intercept, intercept))
        return _table(
            [gettext("Feature"), gettext("Value"), gettext("Bin"), gettext("Points"), gettext("Best possible")], rows
        )

    @admin.display(description=_("features"))
    def features_table(self, decision: Decision) -> str:
        features = decision.snapshot.get("features", {})
        rows = [(_feature_label(name), _shown(value)) for name, value in features.items()]
        return _table([gettext("Feature"), gettext("Value")], rows)

    @admin.display(description=_("credit line"))
    def credit_line_table(self, decision: Decision) -> str:
        line = decision.snapshot.get("credit_line", {})
        if not line:
            return "—"
        rows = [(gettext("From sales"), line.get("from_sales"))]
        rows += [(gettext("Cap: %(name)s") % {"name": name}, value) for name, value in line.get("caps", {}).items()]
        rows += [(gettext("Line (set by %(binding)s)") % {"binding": line.get("binding")}, line.get("amount"))]
        return _table([gettext("Step"), gettext("Amount")], rows)

    @admin.display(description=_("fraud signals"))
    def fraud_table(self, decision: Decision) -> str:
        rows = [(hit.get("signal"), _in_language(hit)) for hit in decision.snapshot.get("fraud_signals", [])]
        return _table([gettext("Signal"), gettext("What fired")], rows) if rows else gettext("None fired.")

    @admin.display(description=_("request"))
    def request_table(self, decision: Decision) -> str:
        request = decision.snapshot.get("request", {})
        return _table([gettext("Field"), gettext("Value")], [(name, _shown(value)) for name, value in request.items()])

    @admin.display(description=_("exposure headroom"))
    def exposures_table(self, decision: Decision) -> str:
        exposures = decision.snapshot.get("exposures", {})
        no_limit = gettext("no limit")
        rows = [(name, no_limit if value is None else _shown(value)) for name, value in exposures.items()]
        return _table([gettext("Limit"), gettext("Headroom")], rows)


@admin.register(PreApprovedLimit)
class PreApprovedLimitAdmin(ExactSearchAdminMixin, admin.ModelAdmin):
    list_display = ["merchant", "amount", "grade", "scorecard", "computed_at"]
    list_filter = ["grade"]
    list_select_related = ["merchant", "scorecard"]
    search_fields = ["=merchant__credit_code", "=merchant__legal_name"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["merchant"]

    # Recomputed every night by the engine; nobody edits a limit by hand.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PreApprovedLimit | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PreApprovedLimit | None = None) -> bool:
        return False
