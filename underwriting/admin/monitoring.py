"""The risk managers' monitoring page in the back office: approval rate, grades and drift of a scorecard.

A plain view inside the admin's frame (``admin_view``: staff only, the admin's login), shown to
officers allowed to view scorecards. ``config/urls.py`` mounts ``monitoring_urls()`` under
``admin/underwriting/monitoring/``, ahead of the admin's own URLs. The numbers come from
``underwriting.selectors.monitoring``; this module only reads the query string and renders.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.pages import BackOfficePage, back_office_page_register
from underwriting.models import Scorecard
from underwriting.selectors.monitoring import monitoring_report, monitoring_scorecard, monitoring_scorecards

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
