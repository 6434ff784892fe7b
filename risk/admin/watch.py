"""The back office of the fraud watch after payout and of model drift.

Officers read the alerts here and answer each through ``risk.services.watch`` (dismiss with a reason, freeze the
merchant's further borrowing, confirm as fraud); risk managers read the daily stability readings and acknowledge
drift alerts through ``risk.services.watch_drift``. Every action asks for a note on the confirmation page first;
nothing here sets a state field. The list pages state the thresholds in force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, AuditTrailAdminMixin, ReadOnlyAdminMixin, html_table, refusal_message
from core.admin.pages import BackOfficePage, back_office_page_register
from core.formatting import money
from risk.models.watch import DriftAlert, DriftAlertStatus, StabilityReading, WatchAlert, WatchAlertStatus
from risk.selectors.watch_settings import drift_psi_threshold, drift_window_days, watch_thresholds_described
from risk.services.watch import (
    RESOLVE_PERMISSION,
    watch_alert_confirm_fraud,
    watch_alert_dismiss,
    watch_alert_freeze_borrowing,
)
from risk.services.watch_drift import ACKNOWLEDGE_PERMISSION, drift_alert_acknowledge

FREEZE_PERMISSION = "merchants.freeze_borrowing"
FRAUD_PERMISSION = "lending.mark_loan_fraud"

# What each key of an alert's evidence means, in the order an officer reads them.
EVIDENCE_LABELS = {
    "paid_out_on": _("Paid out on"),
    "principal": _("Principal (CNY)"),
    "before": _("Before the payout (compared with)"),
    "after": _("Since the payout"),
    "before_sales": _("Platform sales before (CNY)"),
    "before_daily_average": _("Daily average before (CNY, per reported day)"),
    "after_sales": _("Platform sales since (CNY)"),
    "after_daily_average": _("Daily average since (CNY, per calendar day)"),
    "ratio": _("Since ÷ before"),
    "before_refunds": _("Refunds before (CNY)"),
    "before_refund_ratio": _("Refunds ÷ sales before"),
    "after_refunds": _("Refunds since (CNY)"),
    "after_refund_ratio": _("Refunds ÷ sales since"),
    "quiet": _("Days checked for sales"),
    "last_day_with_sales": _("Last day with sales"),
    "days_without_sales": _("Days without sales since"),
    "paid_to_account": _("Paid to account"),
    "account_now": _("Settlement account now"),
    "changes": _("Changes recorded after the payout"),
}
MONEY_KEYS = {"principal", "before_sales", "before_daily_average", "after_sales", "after_daily_average"}
MONEY_KEYS |= {"before_refunds", "after_refunds"}


def _window(value: dict) -> str:
    return gettext("%(from)s to %(to)s (%(days)s days, %(reported)s reported by the platform)") % {
        "from": value.get("from"),
        "to": value.get("to"),
        "days": value.get("days"),
        "reported": value.get("days_reported", "—"),
    }


def evidence_rows(evidence: dict) -> list[tuple[str, Any]]:
    """The evidence as (what, value) rows: the figures, their windows, then each threshold in force."""
    rows = []
    for key in [key for key in EVIDENCE_LABELS if key in evidence] + sorted(
        set(evidence) - set(EVIDENCE_LABELS) - {"thresholds"}
    ):
        value = evidence[key]
        if key in MONEY_KEYS and value is not None:
            shown = money(value)
        elif isinstance(value, dict):
            shown = _window(value)
        elif key == "changes":
            shown = "; ".join(
                f"{change['at']} {change['by']}: {', '.join(change['fields'])}" for change in value
            ) or gettext("none recorded: the account differs from the one paid")
        else:
            shown = "—" if value in (None, "") else str(value)
        rows.append((str(EVIDENCE_LABELS.get(key, key)), shown))
    for name, value in (evidence.get("thresholds") or {}).items():
        rows.append((gettext("Threshold %(setting)s") % {"setting": name}, value))
    return rows


def _rules() -> list[str]:
    return watch_thresholds_described()


class NoteActionsMixin:
    """An action on the selected rows and a button on one row's page, both through the confirmation page."""

    def _run(
        self,
        request: HttpRequest,
        rows: list,
        service: Callable[..., Any],
        *,
        action: str | None,
        title: str,
        what: str,
        submit_label: str,
        done: str,
    ) -> HttpResponse | None:
        note = confirmed_note(self, request, rows, action=action, title=title, what=what, submit_label=submit_label)
        if not isinstance(note, str):
            return note
        count = 0
        for row in rows:
            try:
                service(row, request.user, note)
            except REFUSALS as exc:
                self.message_user(request, f"{row}: {refusal_message(exc)}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)
        return None


@admin.register(WatchAlert)
class WatchAlertAdmin(NoteActionsMixin, AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["raised_on", "kind", "merchant", "loan_link", "status_badge", "headline", "resolved_by"]
    list_filter = ["status", "kind"]
    search_fields = ["merchant__legal_name", "merchant__credit_code", "=loan__id"]
    list_select_related = ["merchant", "resolved_by"]
    date_hierarchy = "raised_on"
    show_full_result_count = False
    actions = ["dismiss_alerts", "freeze_borrowing", "confirm_fraud"]
    fieldsets = [
        (None, {"fields": ["kind", "status_badge", "merchant", "loan_link", "raised_on", "raised_at"]}),
        (_("Evidence"), {"fields": ["evidence_table"]}),
        (_("The merchant's borrowing"), {"fields": ["borrowing"]}),
        (_("Resolution"), {"fields": ["resolved_at", "resolved_by", "resolution_note"]}),
        (_("History"), {"fields": ["audit_trail_table"]}),
    ]
    readonly_fields = [
        "kind",
        "status_badge",
        "merchant",
        "loan_link",
        "raised_on",
        "raised_at",
        "evidence_table",
        "borrowing",
        "resolved_at",
        "resolved_by",
        "resolution_note",
        "audit_trail_table",
    ]
    change_form_template = "admin/risk/watchalert/change_form.html"
    change_list_template = "admin/risk/watch_change_list.html"

    def has_resolve_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(RESOLVE_PERMISSION)

    def has_freeze_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(FREEZE_PERMISSION) and request.user.has_perm(RESOLVE_PERMISSION)

    def has_fraud_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(FRAUD_PERMISSION) and request.user.has_perm(RESOLVE_PERMISSION)

    def audit_related(self, alert: WatchAlert):
        return [alert.merchant, alert.loan]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, alert: WatchAlert) -> str:
        return format_html('<span class="status status-{}">{}</span>', alert.status, alert.get_status_display())

    @admin.display(description=_("loan"), ordering="loan")
    def loan_link(self, alert: WatchAlert) -> str:
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:lending_loan_change", args=[alert.loan_id]), alert.loan_id
        )

    @admin.display(description=_("what the figures say"))
    def headline(self, alert: WatchAlert) -> str:
        evidence = alert.evidence or {}
        if "ratio" in evidence and "after_refund_ratio" not in evidence:
            return gettext("daily sales %(before)s before, %(after)s since (× %(ratio)s)") % {
                "before": money(evidence["before_daily_average"]),
                "after": money(evidence["after_daily_average"]),
                "ratio": evidence["ratio"],
            }
        if "after_refund_ratio" in evidence:
            return gettext("refunds %(before)s of sales before, %(after)s since") % {
                "before": evidence["before_refund_ratio"],
                "after": evidence["after_refund_ratio"],
            }
        if "last_day_with_sales" in evidence:
            return gettext("no sales since %(day)s") % {"day": evidence["last_day_with_sales"] or "—"}
        if "account_now" in evidence:
            return gettext("paid to %(paid)s, account now %(now)s") % {
                "paid": evidence["paid_to_account"],
                "now": evidence["account_now"],
            }
        return "—"

    @admin.display(description=_("evidence"))
    def evidence_table(self, alert: WatchAlert) -> str:
        return html_table(
            [gettext("Evidence"), gettext("Value")], evidence_rows(alert.evidence or {}), empty=gettext("None.")
        )

    @admin.display(description=_("borrowing"))
    def borrowing(self, alert: WatchAlert) -> str:
        merchant = alert.merchant
        if merchant.borrowing_frozen_at is None:
            return gettext("Open: the merchant may apply for new loans.")
        return gettext("Frozen since %(at)s by %(by)s: %(reason)s") % {
            "at": timezone.localtime(merchant.borrowing_frozen_at).strftime("%Y-%m-%d %H:%M"),
            "by": merchant.borrowing_frozen_by or gettext("system"),
            "reason": merchant.borrowing_frozen_reason,
        }

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "watch_rules": _rules()})

    # The three answers, as list actions and as buttons on an alert's page.

    def _dismiss(self, request, rows, action):
        return self._run(
            request,
            rows,
            lambda alert, by, note: watch_alert_dismiss(alert=alert, by=by, note=note),
            action=action,
            title=gettext("Dismiss"),
            what=gettext("These alerts will be closed as false positives; your reason is kept with each."),
            submit_label=gettext("Dismiss"),
            done=gettext("%(count)d alert(s) dismissed."),
        )

    def _freeze(self, request, rows, action):
        return self._run(
            request,
            rows,
            lambda alert, by, note: watch_alert_freeze_borrowing(alert=alert, by=by, note=note),
            action=action,
            title=gettext("Freeze the merchant's further borrowing"),
            what=gettext(
                "These merchants will not be able to make or submit a new application until a senior officer "
                "lifts the freeze; their loans are serviced as before. The alerts stay open."
            ),
            submit_label=gettext("Freeze borrowing"),
            done=gettext("Borrowing frozen for %(count)d merchant(s)."),
        )

    def _fraud(self, request, rows, action):
        return self._run(
            request,
            rows,
            lambda alert, by, note: watch_alert_confirm_fraud(alert=alert, by=by, note=note),
            action=action,
            title=gettext("Mark the loan as fraud"),
            what=gettext(
                "These alerts will be closed as fraud: each loan is marked as fraud (its loss is reported apart from "
                "credit losses) and its merchant's further borrowing frozen."
            ),
            submit_label=gettext("Mark as fraud"),
            done=gettext("%(count)d loan(s) marked as fraud."),
        )

    @admin.action(description=_("Dismiss (false positive)…"), permissions=["resolve"])
    def dismiss_alerts(self, request: HttpRequest, queryset: QuerySet[WatchAlert]):
        return self._dismiss(request, list(queryset.select_related("merchant")), "dismiss_alerts")

    @admin.action(description=_("Freeze the merchant's further borrowing…"), permissions=["freeze"])
    def freeze_borrowing(self, request: HttpRequest, queryset: QuerySet[WatchAlert]):
        return self._freeze(request, list(queryset.select_related("merchant")), "freeze_borrowing")

    @admin.action(description=_("Mark the loan as fraud…"), permissions=["fraud"])
    def confirm_fraud(self, request: HttpRequest, queryset: QuerySet[WatchAlert]):
        return self._fraud(request, list(queryset.select_related("merchant")), "confirm_fraud")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/dismiss/", wrap(self.dismiss_view), name="risk_watchalert_dismiss"),
            path("<int:pk>/freeze/", wrap(self.freeze_view), name="risk_watchalert_freeze"),
            path("<int:pk>/fraud/", wrap(self.fraud_view), name="risk_watchalert_fraud"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_dismiss": self.has_resolve_permission(request),
            "can_freeze": self.has_freeze_permission(request),
            "can_fraud": self.has_fraud_permission(request),
            "open_status": WatchAlertStatus.OPEN,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _button(self, request: HttpRequest, pk: int, allowed: bool, run) -> HttpResponse:
        if not allowed:
            raise PermissionDenied
        alert = get_object_or_404(WatchAlert.objects.select_related("merchant"), pk=pk)
        response = run(request, [alert], None)
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:risk_watchalert_change", args=[alert.pk]))

    def dismiss_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._button(request, pk, self.has_resolve_permission(request), self._dismiss)

    def freeze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._button(request, pk, self.has_freeze_permission(request), self._freeze)

    def fraud_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._button(request, pk, self.has_fraud_permission(request), self._fraud)


def _drift_subtitle() -> str:
    return gettext(
        "Every day the active scorecard's score and each feature are compared over the last %(days)d days of "
        "decisions with the training population (or the first decisions after activation). A PSI above "
        "%(threshold)s is drift: the risk managers get an alert. Below 0.1 is stable."
    ) % {"days": drift_window_days(), "threshold": drift_psi_threshold()}


@admin.register(StabilityReading)
class StabilityReadingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["computed_on", "scorecard", "subject", "psi", "drifted", "decisions", "baseline", "window_days"]
    list_filter = ["scorecard", "subject"]
    list_select_related = ["scorecard"]
    date_hierarchy = "computed_on"
    show_full_result_count = False
    change_list_template = "admin/risk/watch_change_list.html"

    @admin.display(description=_("above the threshold"), boolean=True)
    def drifted(self, reading: StabilityReading) -> bool | None:
        return None if reading.psi is None else reading.psi > reading.threshold

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "watch_rules": [_drift_subtitle()]})


@admin.register(DriftAlert)
class DriftAlertAdmin(NoteActionsMixin, AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["raised_on", "scorecard", "subject", "psi", "threshold", "status", "acknowledged_by"]
    list_filter = ["status", "scorecard"]
    list_select_related = ["scorecard", "acknowledged_by"]
    actions = ["acknowledge_alerts"]
    change_list_template = "admin/risk/watch_change_list.html"
    fields = [
        "scorecard",
        "subject",
        "raised_on",
        "psi",
        "threshold",
        "status",
        "acknowledged_at",
        "acknowledged_by",
        "acknowledgement_note",
        "audit_trail_table",
    ]
    readonly_fields = fields

    def has_acknowledge_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(ACKNOWLEDGE_PERMISSION)

    @admin.action(description=_("Acknowledge (say what is being done)…"), permissions=["acknowledge"])
    def acknowledge_alerts(self, request: HttpRequest, queryset: QuerySet[DriftAlert]):
        return self._run(
            request,
            list(queryset.select_related("scorecard")),
            lambda alert, by, note: drift_alert_acknowledge(alert=alert, by=by, note=note),
            action="acknowledge_alerts",
            title=gettext("Acknowledge drift"),
            what=gettext("These drift alerts will be closed with your note on what is being done."),
            submit_label=gettext("Acknowledge"),
            done=gettext("%(count)d drift alert(s) acknowledged."),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "watch_rules": [_drift_subtitle()]})


back_office_page_register(
    BackOfficePage(
        key="watch-alerts",
        title=_("Fraud after payout"),
        description=_(
            "Funded merchants whose sales, refunds or settlement account turned after the payout: dismiss, freeze "
            "borrowing or mark the loan as fraud."
        ),
        url_name="admin:risk_watchalert_changelist",
        query=f"status__exact={WatchAlertStatus.OPEN}",
        permission="risk.view_watchalert",
        waiting=lambda: WatchAlert.objects.filter(status=WatchAlertStatus.OPEN).count(),
        position=72,
    )
)
back_office_page_register(
    BackOfficePage(
        key="drift-alerts",
        title=_("Model drift"),
        description=_("The active scorecard's daily population stability, and the drift alerts above the threshold."),
        url_name="admin:risk_driftalert_changelist",
        query=f"status__exact={DriftAlertStatus.OPEN}",
        permission="risk.view_driftalert",
        waiting=lambda: DriftAlert.objects.filter(status=DriftAlertStatus.OPEN).count(),
        position=82,
    )
)
