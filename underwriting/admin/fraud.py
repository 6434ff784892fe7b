"""The officers' fraud-alert queue in Django admin.

An alert is read here and resolved only through ``underwriting.services.fraud``: the list actions and
the buttons on an alert's page both ask for a note first, then call the service. Nothing here edits
an alert's status.

``underwriting.admin.engine`` imports this module so that the registration happens with the rest of the
underwriting admin.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import EstimatedCountPaginator, ExactSearchAdminMixin
from merchants.models import Merchant
from underwriting.models import FraudAlert
from underwriting.services.fraud import (
    RESOLVE_PERMISSION,
    FraudAlertError,
    fraud_alert_clear,
    fraud_alert_confirm,
)

# What each key of an alert's details means, in the order an officer reads them.
DETAIL_LABELS = {
    "account_last4": _("Settlement account ending"),
    "id_number_masked": _("Legal representative's ID number"),
    "other_merchant_count": _("Other merchants sharing it"),
    "other_merchant_ids": _("Other merchants"),
    "month": _("Month"),
    "month_sales": _("Sales that month (CNY)"),
    "baseline_months": _("Months compared with"),
    "baseline_median": _("Median month (CNY)"),
    "ratio": _("Times the median"),
    "factor": _("Alert above (times)"),
    "applications_last_30_days": _("Applications in the last 30 days"),
    "threshold": _("Alert at or above"),
    "months_active": _("Months active"),
    "monthly_sales_avg": _("Average monthly sales (CNY)"),
    "requested_amount": _("Requested amount (CNY)"),
    "sales_multiple": _("Alert above (times monthly sales)"),
    "max_amount": _("Alert above (CNY)"),
    "exceeds": _("Limits exceeded"),
}
MESSAGE_KEYS = ("message_en", "message_zh")


class FraudAlertResolveForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text=_("Why you are closing the alert: what you checked and what you found."),
    )


def alert_message(alert: FraudAlert) -> str:
    """The alert's message in the reader's language (the details carry both)."""
    details = alert.details or {}
    preferred = "message_zh" if (get_language() or "").startswith("zh") else "message_en"
    return details.get(preferred) or details.get("message_en") or alert.get_signal_display()


def merchant_links(ids: list[int]) -> str:
    """Links to other merchants' admin pages, named, for officers only (this is the back office)."""
    names = dict(Merchant.objects.filter(pk__in=ids).values_list("pk", "legal_name"))
    return format_html_join(
        ", ",
        '<a href="{}">{}</a>',
        (
            (reverse("admin:merchants_merchant_change", args=[pk]), f"#{pk} {names.get(pk, gettext('(deleted)'))}")
            for pk in ids
        ),
    )


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "—" if value in (None, "") else str(value)


class FraudAlertAdmin(ExactSearchAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "merchant", "signal", "status_badge", "summary", "resolved_by", "resolved_at"]
    list_filter = ["status", "signal"]
    search_fields = ["=merchant__credit_code", "=merchant__legal_name"]
    list_select_related = ["merchant", "resolved_by"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["merchant", "decision", "resolved_by"]
    date_hierarchy = "created_at"
    actions = ["clear_alerts", "confirm_alerts"]
    fields = [
        "merchant",
        "signal",
        "status_badge",
        "summary",
        "details_table",
        "decision",
        "created_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    ]
    readonly_fields = fields
    change_form_template = "admin/underwriting/fraudalert/change_form.html"

    # Officers look here and resolve through the services; the generic forms change nothing.

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(RESOLVE_PERMISSION)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, alert: FraudAlert) -> str:
        return format_html('<span class="status status-{}">{}</span>', alert.status, alert.get_status_display())

    @admin.display(description=_("what fired"))
    def summary(self, alert: FraudAlert) -> str:
        return alert_message(alert)

    @admin.display(description=_("details"))
    def details_table(self, alert: FraudAlert) -> str:
        details = {key: value for key, value in (alert.details or {}).items() if key not in MESSAGE_KEYS}
        if not details:
            return "—"
        ordered = [key for key in DETAIL_LABELS if key in details] + sorted(set(details) - set(DETAIL_LABELS))
        rows = []
        for key in ordered:
            value = details[key]
            if key == "other_merchant_ids" and isinstance(value, list):
                shown = merchant_links([int(pk) for pk in value])
            else:
                shown = _value(value)
            rows.append((DETAIL_LABELS.get(key, key), shown))
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    # The actions: a page asking for the note, then the service for each alert.

    @admin.action(description=_("Clear (false positive)"), permissions=["resolve"])
    def clear_alerts(self, request: HttpRequest, queryset: QuerySet[FraudAlert]) -> HttpResponse | None:
        return self._resolve_action(request, queryset, action="clear_alerts")

    @admin.action(description=_("Confirm fraud"), permissions=["resolve"])
    def confirm_alerts(self, request: HttpRequest, queryset: QuerySet[FraudAlert]) -> HttpResponse | None:
        return self._resolve_action(request, queryset, action="confirm_alerts")

    def _resolve_action(self, request: HttpRequest, queryset: QuerySet[FraudAlert], *, action: str):
        alerts = list(queryset.select_related("merchant"))
        form = FraudAlertResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._resolve_all(request, alerts, action=action, note=form.cleaned_data["note"])
            return None
        return self._resolve_page(request, alerts, form, action=action, action_mode=True)

    def _resolve_all(self, request: HttpRequest, alerts: list[FraudAlert], *, action: str, note: str) -> None:
        service = fraud_alert_clear if action == "clear_alerts" else fraud_alert_confirm
        done = 0
        for alert in alerts:
            try:
                service(alert=alert, by=request.user, note=note)
            except FraudAlertError as exc:
                self.message_user(request, f"{alert}: {' '.join(exc.messages)}", messages.ERROR)
            except PermissionDenied as exc:
                self.message_user(request, f"{alert}: {exc or gettext('Permission denied.')}", messages.ERROR)
            else:
                done += 1
        if done:
            template = (
                gettext("%(count)d alert(s) cleared as false positives.")
                if action == "clear_alerts"
                else gettext("%(count)d alert(s) confirmed as fraud.")
            )
            self.message_user(request, template % {"count": done}, messages.SUCCESS)

    def _resolve_page(
        self,
        request: HttpRequest,
        alerts: list[FraudAlert],
        form: FraudAlertResolveForm,
        *,
        action: str,
        action_mode: bool,
    ) -> TemplateResponse:
        title = gettext("Clear (false positive)") if action == "clear_alerts" else gettext("Confirm fraud")
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "alerts": [(alert, alert_message(alert)) for alert in alerts],
            "form": form,
            "action": action,
            "action_mode": action_mode,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "cancel_url": (
                reverse("admin:underwriting_fraudalert_changelist")
                if action_mode
                else reverse("admin:underwriting_fraudalert_change", args=[alerts[0].pk])
            ),
        }
        return TemplateResponse(request, "admin/underwriting/fraudalert/resolve.html", context)

    # Buttons on one alert's page, for the officer who has just read it.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/clear/", wrap(self.clear_view), name="underwriting_fraudalert_clear"),
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="underwriting_fraudalert_confirm"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_resolve": self.has_resolve_permission(request),
            "open_status": FraudAlert.Status.OPEN,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def clear_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._single_view(request, pk, action="clear_alerts")

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._single_view(request, pk, action="confirm_alerts")

    def _single_view(self, request: HttpRequest, pk: int, *, action: str) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        alert = get_object_or_404(FraudAlert.objects.select_related("merchant"), pk=pk)
        form = FraudAlertResolveForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._resolve_all(request, [alert], action=action, note=form.cleaned_data["note"])
            return HttpResponseRedirect(reverse("admin:underwriting_fraudalert_change", args=[alert.pk]))
        return self._resolve_page(request, [alert], form, action=action, action_mode=False)


if not admin.site.is_registered(FraudAlert):
    admin.site.register(FraudAlert, FraudAlertAdmin)
