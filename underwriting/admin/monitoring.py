"""The risk managers' monitoring page in the back office: approval rate, grades and drift of a scorecard, with
charts of the outcomes and the drift month by month and of the window's scores (inline SVG drawn on the server,
``core.admin.charts``; the same numbers are in the tables beside them).

A plain view inside the admin's frame (``admin_view``: staff only, the admin's login), shown to
officers allowed to view scorecards. ``config/urls.py`` mounts ``monitoring_urls()`` under
``admin/underwriting/monitoring/``, ahead of the admin's own URLs. The numbers come from
``underwriting.selectors.monitoring``; this module only reads the query string and renders.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin.charts import Bin, Guide, Line, histogram_chart, line_chart
from core.admin.pages import BackOfficePage, back_office_page_register
from underwriting.models import Scorecard
from underwriting.selectors.monitoring import (
    SHIFTED_ABOVE,
    STABLE_BELOW,
    MonitoringReport,
    monitoring_report,
    monitoring_scorecard,
    monitoring_scorecards,
    psi_min_decisions,
)

VIEW_PERMISSION = "underwriting.view_scorecard"
URL_NAME = "underwriting_monitoring"
MAX_DAYS = 365


class MonitoringForm(forms.Form):
    version = forms.TypedChoiceField(label=_("Scorecard version"), coerce=int, required=False, empty_value=None)
    days = forms.IntegerField(
        label=_("Days"),
        min_value=1,
        max_value=MAX_DAYS,
        required=False,
        help_text=_("Decisions of the last so many days, from 1 to 365 (30 if empty)."),
    )

    def __init__(self, *args, scorecards: list[Scorecard], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [
            ("", gettext("The active version")),
            *((card.version, str(card)) for card in scorecards),
        ]


def monitoring_url(scorecard: Scorecard | None = None) -> str:
    """The page's address, for a link from the scorecard admin (a given version, or the active one)."""
    url = reverse(URL_NAME)
    return f"{url}?version={scorecard.version}" if scorecard is not None else url


def _points(score: Decimal) -> str:
    return f"{Decimal(score).normalize():f}"


def _percent(share: Decimal | None) -> Decimal | None:
    return None if share is None else share * 100


def monitoring_charts(report: MonitoringReport) -> dict[str, str]:
    """The report's figures as charts (inline SVG); the page shows the same numbers in tables beside them."""
    charts = {}
    history = report.history
    months = [f"{row.month:%Y-%m}" for row in history]
    if history:
        charts["approval"] = line_chart(
            chart_id="approval-chart",
            title=gettext("Outcomes by month"),
            description=gettext(
                "Share of the month's decisions approved, referred and declined, %(first)s to %(last)s."
            )
            % {"first": months[0], "last": months[-1]},
            x_labels=months,
            lines=[
                Line(gettext("approved"), [_percent(row.approval_rate) for row in history]),
                Line(gettext("referred"), [_percent(row.refer_rate) for row in history]),
                Line(gettext("declined"), [_percent(row.decline_rate) for row in history]),
            ],
            y_max=100,
            y_format=lambda value: f"{value:g}%",
            point_format=lambda value: f"{value:.1f}%",
        )
    psi = [row.psi for row in history]
    if any(value is not None for value in psi):
        charts["psi"] = line_chart(
            chart_id="psi-chart",
            title=gettext("Score drift (PSI) by month"),
            description=gettext(
                "Each month's scores against the baseline; below 0.1 stable, above 0.25 the applicants have shifted. "
                "A month with fewer than %(fewest)s scored decisions has no PSI: on so few, chance looks like drift."
            )
            % {"fewest": psi_min_decisions()},
            x_labels=months,
            lines=[
                Line(
                    "PSI",
                    psi,
                    notes=[
                        ngettext("(%(count)d decision)", "(%(count)d decisions)", row.scored) % {"count": row.scored}
                        for row in history
                    ],
                )
            ],
            y_max=max([SHIFTED_ABOVE + Decimal("0.05"), *(value for value in psi if value is not None)]),
            guides=[
                Guide(STABLE_BELOW, gettext("0.1: worth watching")),
                Guide(SHIFTED_ABOVE, gettext("0.25: shifted")),
            ],
            point_format=lambda value: f"{value:.4f}",
        )
    if report.histogram:
        card = report.scorecard
        charts["histogram"] = histogram_chart(
            chart_id="score-histogram",
            title=gettext("Scores of the window's decisions"),
            description=gettext(
                "How many decisions scored in each band; the dashed lines are the referral and approval cut-offs."
            ),
            bins=[Bin(row.lower, row.upper, row.count) for row in report.histogram],
            markers=[
                Guide(card.refer_min_score, gettext("refer from %(score)s") % {"score": _points(card.refer_min_score)}),
                Guide(
                    card.approve_min_score,
                    gettext("approve from %(score)s") % {"score": _points(card.approve_min_score)},
                ),
            ],
        )
    return charts


def monitoring_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    scorecards = list(monitoring_scorecards())
    form = MonitoringForm(request.GET or None, scorecards=scorecards)
    version = days = None
    if form.is_bound and form.is_valid():
        version = form.cleaned_data["version"]
        days = form.cleaned_data["days"]
    scorecard = monitoring_scorecard(version=version)
    report = monitoring_report(scorecard=scorecard, days=days) if scorecard is not None else None
    context = {
        **admin.site.each_context(request),
        "title": gettext("Scorecard monitoring"),
        "form": form,
        "scorecard": scorecard,
        "report": report,
        "charts": monitoring_charts(report) if report is not None else {},
        "scorecard_opts": Scorecard._meta,
    }
    return TemplateResponse(request, "admin/underwriting/monitoring.html", context)


def monitoring_urls() -> list[URLPattern]:
    return [path("", admin.site.admin_view(monitoring_view), name=URL_NAME)]


back_office_page_register(
    BackOfficePage(
        key="monitoring",
        title=_("Scorecard monitoring"),
        description=_("Approval rate, score distribution and drift (PSI) of the active scorecard, over time."),
        url_name=URL_NAME,
        permission=VIEW_PERMISSION,
        position=80,
    )
)
