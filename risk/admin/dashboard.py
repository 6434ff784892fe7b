"""The portfolio at a glance, for officers and risk managers: one back-office page of panels.

Each panel is a chart drawn in the browser by Chart.js (vendored in ``static/vendor/chartjs/``, loaded from the
portal's own static files: the CSP allows no inline script and nothing from another site), its numbers in a table
beside it, and a CSV download of the same table (``?csv=<panel>``). The chart's data travels in a ``json_script``
element that ``static/risk/charts.js`` reads; the table, not the chart, is the record.

``config/urls.py`` mounts ``dashboard_urls()`` under ``admin/risk/dashboard/``, ahead of the admin's own URLs.
The figures come from ``risk.selectors.portfolio``; this module only lays them out.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.pages import BackOfficePage, back_office_page_register
from core.formatting import EMPTY, amount
from merchants.choices import Industry, Province
from risk.models.stress import StressRun
from risk.selectors.limits import LimitUse
from risk.selectors.portfolio import PortfolioDashboard, portfolio_dashboard

VIEW_PERMISSION = "risk.view_portfolio_dashboard"
URL_NAME = "risk_dashboard"


@dataclass
class Panel:
    """One chart with its table: ``columns`` head the table, ``rows`` are its cells as shown, ``csv_rows`` the same
    cells as machines read them (plain numbers, codes)."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    csv_rows: list[list[Any]]
    chart: dict | None = None
    description: str = ""
    note: str = ""
    link: tuple[str, str] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def chart_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def data_id(self) -> str:
        return f"chart-data-{self.key}"


def chart(kind: str, labels: Sequence[str], datasets: dict[str, Sequence[Any]], *, unit: str = "") -> dict:
    """A Chart.js chart's data: numbers travel as strings (exact), the script turns them into pixels."""
    return {
        "type": kind,
        "unit": unit,
        "labels": [str(label) for label in labels],
        "datasets": [
            {"label": str(label), "data": [None if value is None else str(value) for value in values]}
            for label, values in datasets.items()
        ],
    }


def csv_response(panel: Panel, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{panel.key}.csv"'
    writer = csv.writer(response)
    writer.writerow(panel.columns)
    writer.writerows(panel.csv_rows)
    return response


TENTH = Decimal("0.1")


def _plain_percent(share: Decimal | None) -> str:
    """A share as a percentage to a tenth, half-up (0.948837 -> "94.9"); "" for none."""
    return "" if share is None else str((share * 100).quantize(TENTH, rounding=ROUND_HALF_UP))


def _percent(share: Decimal | None) -> str:
    return EMPTY if share is None else f"{_plain_percent(share)} %"


def _shown(value: Decimal | None) -> str:
    return EMPTY if value is None else str(value)


def _seconds(delta: datetime.timedelta | None) -> Decimal | None:
    if delta is None:
        return None
    return (Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)).quantize(
        Decimal("0.001")
    )


def dimension_label(dimension: str, key: str) -> str:
    """A code as people read it: an industry's or a province's name; a product's code and a grade as they are."""
    choices = {"industry": Industry, "region": Province}.get(dimension)
    if choices is not None and key in choices.values:
        return str(choices(key).label)
    return key or EMPTY


DIMENSION_TITLES = {
    "product": _("Outstanding by product"),
    "grade": _("Outstanding by grade"),
    "industry": _("Outstanding by industry"),
    "region": _("Outstanding by region"),
}
STAGE_TITLES = {
    "applied": _("applied"),
    "decided": _("decided"),
    "approved": _("approved"),
    "signed": _("signed"),
    "funded": _("funded"),
}


def dashboard_panels(figures: PortfolioDashboard) -> list[Panel]:
    """Every panel of the dashboard, in the order it shows them."""
    panels = [_funnel_panel(figures), _decisions_panel(figures)]
    panels += [_dimension_panel(dimension, slices) for dimension, slices in figures.outstanding.items()]
    panels += [
        _partner_panel(figures),
        _dpd_panel(figures),
        _roll_panel(figures),
        _vintage_panel(figures),
        limits_panel(figures.limits),
        _stress_panel(figures.latest_run),
    ]
    return panels


def _funnel_panel(figures: PortfolioDashboard) -> Panel:
    weeks = list(figures.funnel)
    stages = list(STAGE_TITLES)
    return Panel(
        key="funnel",
        title=gettext("Applications by week"),
        description=gettext(
            "Each stage counted in the week it happened: applied (submitted), decided (approved or declined; still "
            "referred is not decided), approved (an offer made), signed, funded."
        ),
        columns=[gettext("week from"), *(str(STAGE_TITLES[stage]) for stage in stages)],
        rows=[[week.isoformat(), *(str(figures.funnel[week][stage]) for stage in stages)] for week in weeks],
        csv_rows=[[week.isoformat(), *(figures.funnel[week][stage] for stage in stages)] for week in weeks],
        chart=chart(
            "bar",
            [week.isoformat() for week in weeks],
            {STAGE_TITLES[stage]: [figures.funnel[week][stage] for week in weeks] for stage in stages},
        ),
    )


def _decisions_panel(figures: PortfolioDashboard) -> Panel:
    rates, times = figures.rates, figures.times
    median, p95 = _seconds(times.median), _seconds(times.p95)
    rows = [
        (gettext("applications decided"), str(rates.decided), rates.decided),
        (gettext("approval rate"), _percent(rates.approval_rate), _plain_percent(rates.approval_rate)),
        (
            gettext("straight-through rate"),
            _percent(rates.straight_through_rate),
            _plain_percent(rates.straight_through_rate),
        ),
        (
            gettext("median decision time (s)"),
            EMPTY if median is None else str(median),
            "" if median is None else median,
        ),
        (gettext("95th percentile decision time (s)"), EMPTY if p95 is None else str(p95), "" if p95 is None else p95),
    ]
    return Panel(
        key="decisions",
        title=gettext("Decisions since %(since)s") % {"since": figures.since.isoformat()},
        description=gettext(
            "Approval rate: decided with an offer. Straight-through: decided by the engine, never referred to an "
            "officer. Decision time: from submission to the final decision (nearest rank)."
        ),
        columns=[gettext("figure"), gettext("value")],
        rows=[[label, shown] for label, shown, _raw in rows],
        csv_rows=[[label, raw] for label, _shown, raw in rows],
        chart=chart(
            "bar",
            [gettext("approval rate"), gettext("straight-through rate")],
            {
                # xgettext:no-python-format
                gettext("% of decided"): [
                    _plain_percent(rates.approval_rate) or None,
                    _plain_percent(rates.straight_through_rate) or None,
                ]
            },
            unit="%",
        ),
    )


def _dimension_panel(dimension: str, slices) -> Panel:
    labels = [dimension_label(dimension, item.key) for item in slices]
    return Panel(
        key=f"outstanding-{dimension}",
        title=str(DIMENSION_TITLES[dimension]),
        columns=[gettext("code"), gettext("name"), gettext("loans"), gettext("outstanding principal")],
        rows=[
            [item.key or EMPTY, label, str(item.loans), amount(item.outstanding)]
            for item, label in zip(slices, labels, strict=True)
        ],
        csv_rows=[[item.key, label, item.loans, item.outstanding] for item, label in zip(slices, labels, strict=True)],
        chart=chart("bar", labels, {gettext("outstanding principal"): [item.outstanding for item in slices]}),
    )


def _partner_panel(figures: PortfolioDashboard) -> Panel:
    items = sorted(figures.outstanding_by_partner.items(), key=lambda item: (-item[1], item[0]))
    return Panel(
        key="outstanding-partner",
        title=gettext("Outstanding by lender"),
        description=gettext(
            "Committed exposure per lender: its share of the principal outstanding on loans awaiting payout or on the "
            "book, and of applications whose lenders are settled but not yet paid out."
        ),
        columns=[gettext("lender"), gettext("committed exposure")],
        rows=[[code, amount(value)] for code, value in items],
        csv_rows=[[code, value] for code, value in items],
        chart=chart("bar", [code for code, _value in items], {gettext("committed exposure"): [v for _c, v in items]}),
    )


def _dpd_panel(figures: PortfolioDashboard) -> Panel:
    buckets = figures.dpd_buckets
    return Panel(
        key="dpd",
        title=gettext("Days past due"),
        description=gettext("Loans on the book by days past due today, with their outstanding principal."),
        columns=[gettext("days past due"), gettext("loans"), gettext("outstanding principal")],
        rows=[[item.key, str(item.loans), amount(item.outstanding)] for item in buckets],
        csv_rows=[[item.key, item.loans, item.outstanding] for item in buckets],
        chart=chart(
            "bar", [item.key for item in buckets], {gettext("outstanding principal"): [i.outstanding for i in buckets]}
        ),
    )


def _roll_panel(figures: PortfolioDashboard) -> Panel:
    rows = figures.roll_rates
    if not rows:
        return Panel(key="roll-rates", title=gettext("Roll rates"), columns=[], rows=[], csv_rows=[])
    rolls = [f"{source} → {target}" for source, target, _b, _r in rows[0].rolls]
    columns = [gettext("from"), gettext("to")]
    for roll in rolls:
        columns += [roll, gettext("%(roll)s (loans)") % {"roll": roll}]
    table, csv_rows = [], []
    for row in rows:
        cells, raw = [row.start.isoformat(), row.end.isoformat()], [row.start.isoformat(), row.end.isoformat()]
        for position, (_source, _target, base, rolled) in enumerate(row.rolls):
            cells += [_percent(row.rate(position)), f"{rolled} / {base}"]
            raw += [_plain_percent(row.rate(position)), f"{rolled}/{base}"]
        table.append(cells)
        csv_rows.append(raw)
    return Panel(
        key="roll-rates",
        title=gettext("Roll rates, month-end to month-end"),
        description=gettext(
            "Of the loans in a bucket of days past due at the start, the share in the next worse bucket at the end "
            "(days past due from the instalments unpaid on each date)."
        ),
        columns=columns,
        rows=table,
        csv_rows=csv_rows,
        chart=chart(
            "line",
            [row.end.isoformat() for row in rows],
            {roll: [_plain_percent(row.rate(position)) or None for row in rows] for position, roll in enumerate(rolls)},
            unit="%",
        ),
    )


def _vintage_panel(figures: PortfolioDashboard) -> Panel:
    curves = figures.vintages
    longest = max((len(curve.cumulative) for curve in curves), default=0)
    months_on_book = list(range(longest))
    columns = [gettext("originated"), gettext("loans"), gettext("principal")]
    columns += [gettext("month %(n)d") % {"n": month} for month in months_on_book]
    return Panel(
        key="vintages",
        title=gettext("Vintage curves: cumulative default by month of origination"),
        description=gettext(
            "For the loans that started in each month, the share that had defaulted by each month on book "
            "(month 0 is the month they started)."
        ),
        columns=columns,
        rows=[
            [f"{curve.month:%Y-%m}", str(curve.loans), amount(curve.principal)]
            + [_percent(value) for value in curve.cumulative]
            + [""] * (longest - len(curve.cumulative))
            for curve in curves
        ],
        csv_rows=[
            [f"{curve.month:%Y-%m}", curve.loans, curve.principal]
            + [_plain_percent(value) for value in curve.cumulative]
            + [""] * (longest - len(curve.cumulative))
            for curve in curves
        ],
        chart=chart(
            "line",
            [str(month) for month in months_on_book],
            {f"{curve.month:%Y-%m}": [_plain_percent(value) for value in curve.cumulative] for curve in curves},
            unit="%",
        ),
    )


def limits_panel(limits: list[LimitUse]) -> Panel:
    """The limits in force and how full each is (at least 90 % is near, above 100 % a breach)."""
    return Panel(
        key="limits",
        title=gettext("Limit utilisation"),
        columns=[gettext("limit"), gettext("used"), gettext("limit amount"), gettext("utilisation")],
        rows=[
            [
                f"{use.kind_label}: {use.label}",
                amount(use.exposure),
                amount(use.limit_amount),
                f"{_percent(use.utilisation)} ({use.status})",
            ]
            for use in limits
        ],
        csv_rows=[
            [use.kind, use.key, use.exposure, use.limit_amount, _plain_percent(use.utilisation), use.status]
            for use in limits
        ],
        chart=chart(
            "bar",
            [f"{use.kind_label}: {use.label}" for use in limits],
            {gettext("utilisation"): [_plain_percent(use.utilisation) for use in limits]},
            unit="%",
        ),
        note="" if limits else gettext("No exposure limits are in force."),
    )


def _stress_panel(run: StressRun | None) -> Panel:
    if run is None:
        return Panel(
            key="stress",
            title=gettext("Latest stress run"),
            columns=[],
            rows=[],
            csv_rows=[],
            note=gettext("No stress run has finished yet: run a scenario under Stress scenarios."),
        )
    results = run.results
    figures = [
        (gettext("expected loss before the scenario"), results["el_before_scenario"]),
        (gettext("expected loss before insurance"), results["el_before_insurance"]),
        (gettext("expected loss after insurance"), results["el_after_insurance"]),
        (gettext("the platform's loss"), results["losses"]["platform"]),
        (gettext("capital the platform would need"), results["capital"]["required"]),
    ]
    return Panel(
        key="stress",
        title=gettext("Latest stress run: %(scenario)s v%(version)s, %(finished)s")
        % {
            "scenario": run.scenario.name,
            "version": run.scenario_version,
            "finished": f"{run.finished_at:%Y-%m-%d %H:%M}",
        },
        columns=[gettext("figure"), gettext("amount")],
        rows=[[label, amount(value)] for label, value in figures],
        csv_rows=[[label, value] for label, value in figures],
        chart=chart("bar", [label for label, _value in figures], {gettext("amount"): [v for _l, v in figures]}),
        link=(reverse("admin:risk_stressrun_change", args=[run.pk]), gettext("Open the run")),
    )


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    figures = portfolio_dashboard()
    panels = dashboard_panels(figures)
    wanted = request.GET.get("csv")
    if wanted:
        for panel in panels:
            if panel.key == wanted:
                return csv_response(panel, filename=f"portfolio-{figures.today.isoformat()}")
        raise Http404(gettext("There is no panel %(key)s.") % {"key": wanted})
    context = {
        **admin.site.each_context(request),
        "title": gettext("The portfolio at a glance"),
        "figures": figures,
        "panels": panels,
        "opts": StressRun._meta,
    }
    return TemplateResponse(request, "admin/risk/dashboard.html", context)


def dashboard_urls() -> list[URLPattern]:
    return [path("", admin.site.admin_view(dashboard_view), name=URL_NAME)]


back_office_page_register(
    BackOfficePage(
        key="portfolio-dashboard",
        title=_("The portfolio at a glance"),
        description=_(
            "Funnel, approval and decision times, the book by product, grade, industry, region and days past due, "
            "roll rates, vintages and the latest stress run."
        ),
        url_name=URL_NAME,
        permission=VIEW_PERMISSION,
        position=90,
    )
)
