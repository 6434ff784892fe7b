"""Stress tests in the back office: risk managers keep scenarios and run them; a run's page shows its figures as
charts with their tables and CSV downloads; runs are compared side by side.

Running is an admin action on scenarios: it calls ``stress_run_start``, which queues the run's Celery tasks on commit
(the page never computes a run itself). A run's page reads what the run saved; runs are never edited.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import ReadOnlyAdminMixin
from core.formatting import EMPTY, amount
from risk.admin.dashboard import Panel, chart, csv_response, dimension_label
from risk.models.stress import StressRun, StressRunStatus, StressScenario
from risk.selectors.stress import DEFAULT_FROM_DPD, DELINQUENCY_PD_FACTORS, DIMENSIONS, PLATFORM
from risk.services.stress import RUN_PERMISSION, stress_run_start, stress_scenario_save

DIMENSION_TITLES = {
    "industry": _("Loss by industry"),
    "region": _("Loss by region"),
    "product": _("Loss by product"),
    "grade": _("Loss by grade"),
}


def delinquency_rule_text() -> str:
    """The delinquency adjustment in words, as the scenario and run pages state it."""
    factors = ", ".join(f"{bucket} × {factor}" for bucket, _first, factor in DELINQUENCY_PD_FACTORS)
    return gettext(
        "PD per loan: its decision's PD adjusted by days past due today (%(factors)s); %(days)d days or more past "
        "due, or defaulted: PD = 1. Then the scenario: a sales fall of s multiplies the PD of the loans it hits by "
        "1 + sensitivity × s, every PD by the multiplier, never above 1. Expected loss = PD × LGD × EAD, with EAD "
        "the outstanding principal."
    ) % {"factors": factors, "days": DEFAULT_FROM_DPD}


@admin.register(StressScenario)
class StressScenarioAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "sales_shock_percent",
        "sales_shock_scope",
        "pd_multiplier",
        "lgd_percent",
        "funding_rate_shock_bp",
        "updated_at",
    )
    readonly_fields = ("version", "rule")
    fields = (
        "name",
        "description",
        "version",
        ("sales_shock_percent", "sales_shock_scope"),
        ("sales_shock_industry", "sales_shock_region"),
        "sales_pd_elasticity",
        "pd_multiplier",
        "lgd_percent",
        "fallback_pd_percent",
        "funding_rate_shock_bp",
        "capital_ratio_percent",
        "rule",
    )
    actions = ["run_scenarios"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A scenario's runs refer to it: it stays, and a change makes a new version instead.
        return False

    @admin.display(description=_("how a run uses it"))
    def rule(self, scenario: StressScenario) -> str:
        return delinquency_rule_text()

    def save_model(self, request: HttpRequest, obj: StressScenario, form, change: bool) -> None:
        stress_scenario_save(scenario=obj, by=request.user)

    @admin.action(description=_("Run the selected scenarios over the portfolio"), permissions=["run"])
    def run_scenarios(self, request: HttpRequest, queryset: QuerySet[StressScenario]) -> None:
        runs = [stress_run_start(scenario=scenario, by=request.user) for scenario in queryset.order_by("name")]
        self.message_user(
            request,
            ngettext(
                "%(count)d run started; it is computed in the background: see Stress runs.",
                "%(count)d runs started; they are computed in the background: see Stress runs.",
                len(runs),
            )
            % {"count": len(runs)},
            messages.SUCCESS,
        )

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_PERMISSION)


def run_panels(run: StressRun) -> list[Panel]:
    """The run's figures as panels: the summary, the loss by party, the loss by dimension, the limits."""
    results = run.results
    summary = [
        (gettext("exposure (outstanding principal)"), results["exposure"]),
        (gettext("expected loss before the scenario"), results["el_before_scenario"]),
        (gettext("expected loss before insurance"), results["el_before_insurance"]),
        (gettext("borne by insurers"), results["insured_loss"]),
        (gettext("expected loss after insurance"), results["el_after_insurance"]),
        (gettext("funding cost of the rate shock"), results["funding_cost"]),
        (gettext("the platform's loss"), results["losses"][PLATFORM]),
        (gettext("capital the platform would need"), results["capital"]["required"]),
    ]
    panels = [
        Panel(
            key="summary",
            title=gettext("Expected loss and capital"),
            description=gettext(
                "Capital: the platform's loss plus %(ratio)s of the platform's exposure left after its credit loss."
            )
            % {"ratio": f"{float(results['capital']['ratio']) * 100:g} %"},
            columns=[gettext("figure"), gettext("amount")],
            rows=[[label, amount(value)] for label, value in summary],
            csv_rows=[[label, value] for label, value in summary],
            chart=chart("bar", [label for label, _v in summary], {gettext("amount"): [v for _l, v in summary]}),
        )
    ]
    parties = [(gettext("platform"), results["losses"][PLATFORM])]
    parties += [(code, value) for code, value in results["losses"].items() if code != PLATFORM]
    parties += [(gettext("insurer %(code)s") % {"code": code}, value) for code, value in results["insurers"].items()]
    panels.append(
        Panel(
            key="parties",
            title=gettext("Who bears the loss"),
            description=gettext(
                "Each lender's share of the loss after insurance (the platform's with the funding "
                "cost), and each insurer's cover."
            ),
            columns=[gettext("party"), gettext("expected loss")],
            rows=[[party, amount(value)] for party, value in parties],
            csv_rows=[[party, value] for party, value in parties],
            chart=chart("bar", [p for p, _v in parties], {gettext("expected loss"): [v for _p, v in parties]}),
        )
    )
    for dimension in DIMENSIONS:
        rows = results["by"][dimension]
        labels = [dimension_label(dimension, row[0]) for row in rows]
        panels.append(
            Panel(
                key=f"loss-{dimension}",
                title=str(DIMENSION_TITLES[dimension]),
                columns=[
                    gettext("code"),
                    gettext("name"),
                    gettext("loans"),
                    gettext("exposure"),
                    gettext("expected loss before the scenario"),
                    gettext("expected loss under the scenario"),
                ],
                rows=[
                    [row[0] or EMPTY, label, str(row[1]), amount(row[2]), amount(row[3]), amount(row[4])]
                    for row, label in zip(rows, labels, strict=True)
                ],
                csv_rows=[[row[0], label, *row[1:]] for row, label in zip(rows, labels, strict=True)],
                chart=chart(
                    "bar",
                    labels,
                    {
                        gettext("before the scenario"): [row[3] for row in rows],
                        gettext("under the scenario"): [row[4] for row in rows],
                    },
                ),
            )
        )
    breaches = results.get("limit_breaches")
    panels.append(
        Panel(
            key="limits",
            title=gettext("Limits the stressed portfolio would breach"),
            columns=[gettext("limit"), gettext("stressed figure"), gettext("limit amount")],
            rows=[[b["limit"], amount(b["value"]), amount(b["limit_amount"])] for b in breaches or []],
            csv_rows=[[b["limit"], b["value"], b["limit_amount"]] for b in breaches or []],
            note=(
                gettext("Not checked: this run was made before the limits were checked under stress.")
                if breaches is None
                else ("" if breaches else gettext("None: the stressed portfolio stays within every limit."))
            ),
        )
    )
    return panels


@admin.register(StressRun)
class StressRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "pk",
        "scenario",
        "scenario_version",
        "as_of",
        "status",
        "progress",
        "el_before_insurance",
        "el_after_insurance",
        "platform_loss",
        "capital_required",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "scenario")
    actions = ["compare_runs"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StressRun]:
        return super().get_queryset(request).select_related("scenario")

    @admin.display(description=_("chunks done"))
    def progress(self, run: StressRun) -> str:
        return f"{run.chunks_done} / {run.chunks_total}"

    def _result(self, run: StressRun, *path: str) -> str:
        value = run.results
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return EMPTY
            value = value[key]
        return amount(value)

    @admin.display(description=_("expected loss before insurance"))
    def el_before_insurance(self, run: StressRun) -> str:
        return self._result(run, "el_before_insurance")

    @admin.display(description=_("expected loss after insurance"))
    def el_after_insurance(self, run: StressRun) -> str:
        return self._result(run, "el_after_insurance")

    @admin.display(description=_("the platform's loss"))
    def platform_loss(self, run: StressRun) -> str:
        return self._result(run, "losses", PLATFORM)

    @admin.display(description=_("capital needed"))
    def capital_required(self, run: StressRun) -> str:
        return self._result(run, "capital", "required")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(gettext("There is no such stress run."))
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        panels = run_panels(run) if run.status == StressRunStatus.FINISHED else []
        wanted = request.GET.get("csv")
        if wanted:
            for panel in panels:
                if panel.key == wanted:
                    return csv_response(panel, filename=f"stress-run-{run.pk}")
            raise Http404(gettext("There is no panel %(key)s.") % {"key": wanted})
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "run": run,
            "panels": panels,
            "inputs": sorted(run.inputs.items()),
            "rule": delinquency_rule_text(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/risk/stressrun.html", context)

    @admin.action(description=_("Compare the selected runs"))
    def compare_runs(self, request: HttpRequest, queryset: QuerySet[StressRun]) -> HttpResponse:
        runs = list(queryset.filter(status=StressRunStatus.FINISHED).select_related("scenario").order_by("pk"))
        if len(runs) < 2:
            self.message_user(request, gettext("Select at least two finished runs to compare."), messages.ERROR)
            return None
        rows = [
            (gettext("scenario"), [f"{run.scenario.name} v{run.scenario_version}" for run in runs]),
            (gettext("portfolio as of"), [run.as_of.isoformat() for run in runs]),
            (gettext("finished at"), [f"{run.finished_at:%Y-%m-%d %H:%M}" for run in runs]),
            (gettext("loans"), [str(run.results["loans"]) for run in runs]),
        ]
        for label, path in (
            (gettext("exposure"), ("exposure",)),
            (gettext("expected loss before the scenario"), ("el_before_scenario",)),
            (gettext("expected loss before insurance"), ("el_before_insurance",)),
            (gettext("expected loss after insurance"), ("el_after_insurance",)),
            (gettext("funding cost of the rate shock"), ("funding_cost",)),
            (gettext("the platform's loss"), ("losses", PLATFORM)),
            (gettext("capital the platform would need"), ("capital", "required")),
        ):
            rows.append((label, [self._result(run, *path) for run in runs]))
        inputs = sorted({key for run in runs for key in run.inputs})
        input_rows = [(key, [str(run.inputs.get(key, EMPTY)) for run in runs]) for key in inputs]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Stress runs compared"),
            "runs": runs,
            "rows": rows,
            "input_rows": input_rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/risk/stressrun_compare.html", context)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("risk.view_stressrun")
