"""The exposure limits in the back office: how full each is, changing one (two risk managers), payouts a limit holds.

- *Exposure limits*: atop the list, every limit in force with its committed exposure, what it allows today and how
  full it is (near at 90 %, breach above the limit); *Propose a change* (risk managers) makes a new version.
- *Exposure limit versions*: the history of every limit; a proposal is activated or rejected by a second risk
  manager, with a note for the record.
- *Payouts held by a limit*: the signed loans whose payout a limit holds, with the limits named; *Release payout*
  checks the limits again and, with room, makes the loan and pays it out.

Every action calls ``risk.services.limits``; its refusals are shown as messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, AuditTrailAdminMixin, ReadOnlyAdminMixin, html_table, refusal_message
from core.admin.pages import BackOfficePage, back_office_page_register
from core.formatting import amount as amount_grouped
from lending.origination.services.funding import FUND_PERMISSION
from risk.models import ExposureLimit, LimitKind, LimitVersion, PayoutHold
from risk.selectors.limits import LimitUse, limit_label, limits_utilisation, payout_holds_open_count
from risk.services.limits import (
    ACTIVATE_PERMISSION,
    PROPOSE_PERMISSION,
    limit_propose,
    limit_version_activate,
    limit_version_reject,
    payout_hold_release,
)

V = LimitVersion.Status


def _percent(value) -> str:
    return "—" if value is None else f"{number_format(value, 2)} %"


def _money(value) -> str:
    return "—" if value is None else amount_grouped(value)


def utilisation_table(uses: Iterable[LimitUse]) -> str:
    """The limits in force, fullest first: what each allows, what is committed, and its status."""
    labels = {
        "ok": gettext("OK"),
        # xgettext:no-python-format
        "near": gettext("Near (90 % or more)"),
        "breach": gettext("Breach"),
    }
    rows = [
        (
            use.kind_label,
            use.label,
            use.version,
            _money(use.amount),
            _percent(use.share_percent),
            _money(use.limit_amount),
            _money(use.exposure),
            _percent(use.utilisation * 100),
            format_html('<span class="status status-{}">{}</span>', use.status, labels[use.status]),
        )
        for use in sorted(uses, key=lambda use: use.utilisation, reverse=True)
    ]
    return html_table(
        [
            gettext("Kind"),
            gettext("On"),
            gettext("Version"),
            gettext("Amount"),
            gettext("Share of the portfolio"),
            gettext("Allows today"),
            gettext("Committed"),
            gettext("Used"),
            gettext("Status"),
        ],
        rows,
        empty=gettext("No limit is in force."),
    )


class ProposeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=LimitKind.choices)
    key = forms.CharField(
        label=_("What is limited"),
        required=False,
        max_length=80,
        help_text=ExposureLimit._meta.get_field("key").help_text,
    )
    amount = forms.CharField(label=_("Limit amount (yuan)"), required=False, max_length=20)
    share_percent = forms.CharField(
        label=_("Limit as a share of the portfolio (%)"),
        required=False,
        max_length=8,
        help_text=_("The lower of the amount and the share binds; leave both empty to lift a limit in force."),
    )
    note = forms.CharField(
        label=_("Why"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The second risk manager reads it; it is kept in the audit trail with your name."),
    )


@admin.register(ExposureLimit)
class ExposureLimitAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "label", "in_force", "pending"]
    list_filter = ["kind"]
    search_fields = ["key"]
    fields = ["kind", "key", "label", "versions_table", "audit_trail_table"]
    readonly_fields = ["label", "versions_table", "audit_trail_table"]
    change_list_template = "admin/risk/exposurelimit/change_list.html"

    @admin.display(description=_("on"))
    def label(self, limit: ExposureLimit) -> str:
        return limit_label(limit.kind, limit.key)

    @admin.display(description=_("in force"))
    def in_force(self, limit: ExposureLimit) -> str:
        version = limit.versions.filter(status=V.ACTIVE).first()
        if version is None or version.lifts:
            return "—"
        return f"v{version.version}: {_money(version.amount)} · {_percent(version.share_percent)}"

    @admin.display(description=_("awaiting a second risk manager"))
    def pending(self, limit: ExposureLimit) -> str:
        version = limit.versions.filter(status=V.PROPOSED).first()
        if version is None:
            return "—"
        url = reverse("admin:risk_limitversion_change", args=[version.pk])
        return format_html(
            '<a href="{}">v{}: {} · {}</a>',
            url,
            version.version,
            _money(version.amount),
            _percent(version.share_percent),
        )

    @admin.display(description=_("versions"))
    def versions_table(self, limit: ExposureLimit) -> str:
        return html_table(
            [
                gettext("Version"),
                gettext("Status"),
                gettext("Amount"),
                gettext("Share"),
                gettext("Why"),
                gettext("Proposed by"),
                gettext("Decided by"),
            ],
            (
                (
                    version.version,
                    version.get_status_display(),
                    _money(version.amount),
                    _percent(version.share_percent),
                    version.reason,
                    version.proposed_by,
                    version.decided_by or "—",
                )
                for version in limit.versions.select_related("proposed_by", "decided_by").order_by("-version")
            ),
            empty="—",
        )

    def has_propose_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(PROPOSE_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "utilisation_table": utilisation_table(limits_utilisation()),
            "can_propose": self.has_propose_permission(request),
            "propose_url": reverse("admin:risk_exposurelimit_propose"),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("propose/", wrap(self.propose_view), name="risk_exposurelimit_propose"), *super().get_urls()]

    def propose_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_propose_permission(request):
            raise PermissionDenied
        form = ProposeForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                version = limit_propose(
                    kind=data["kind"],
                    key=data["key"],
                    amount=data["amount"],
                    share_percent=data["share_percent"],
                    reason=data["note"],
                    by=request.user,
                )
            except REFUSALS as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, refusal_message(exc))
            else:
                self.message_user(
                    request,
                    gettext("Version %(version)s of %(limit)s awaits a second risk manager.")
                    % {"version": version.version, "limit": limit_label(version.limit.kind, version.limit.key)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:risk_limitversion_change", args=[version.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Propose a change to an exposure limit"),
            "opts": self.model._meta,
            "rows": [],
            "what": gettext(
                "The change is a new version of the limit. Nothing changes until a second risk manager activates it."
            ),
            "form": form,
            "action": None,
            "submit_label": gettext("Propose"),
        }
        return TemplateResponse(request, "admin/confirm_action.html", context, status=400 if form.is_bound else 200)


class VersionStatusFilter(admin.SimpleListFilter):
    """The list opens on the proposals waiting; the history is a click away."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [*V.choices, ("all", _("All"))]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or V.PROPOSED) == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or V.PROPOSED
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(LimitVersion)
class LimitVersionAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "on", "status", "amount", "share_percent", "reason", "proposed_by", "proposed_at"]
    list_filter = [VersionStatusFilter, "limit__kind"]
    list_select_related = ["limit", "proposed_by"]
    ordering = ["-proposed_at", "-id"]
    actions = ["activate_selected", "reject_selected"]
    fields = [
        "limit",
        "version",
        "status",
        ("amount", "share_percent"),
        "reason",
        ("proposed_by", "proposed_at"),
        ("decided_by", "decided_at"),
        "decision_note",
        "superseded_at",
        "audit_trail_table",
    ]
    readonly_fields = ["audit_trail_table"]

    @admin.display(description=_("on"))
    def on(self, version: LimitVersion) -> str:
        return limit_label(version.limit.kind, version.limit.key)

    def audit_related(self, version: LimitVersion) -> Iterable:
        return [version.limit]

    def has_decide_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    def _decide(self, request: HttpRequest, versions: list[LimitVersion], call: Callable, *, done: str) -> None:
        count = 0
        for version in versions:
            try:
                call(version)
            except REFUSALS as exc:
                self.message_user(request, f"{version}: {refusal_message(exc)}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Activate (second risk manager)…"), permissions=["decide"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[LimitVersion]) -> HttpResponse | None:
        versions = list(queryset.select_related("limit").order_by("pk"))
        note = confirmed_note(
            self,
            request,
            versions,
            action="activate_selected",
            title=gettext("Activate limit changes"),
            what=gettext("Each version below is put in force at once; the version it replaces is kept, superseded."),
            submit_label=gettext("Activate"),
        )
        if not isinstance(note, str):
            return note
        self._decide(
            request,
            versions,
            lambda version: limit_version_activate(version=version, by=request.user, note=note),
            done=gettext("%(count)d limit change(s) activated."),
        )
        return None

    @admin.action(description=_("Reject…"), permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[LimitVersion]) -> HttpResponse | None:
        versions = list(queryset.select_related("limit").order_by("pk"))
        note = confirmed_note(
            self,
            request,
            versions,
            action="reject_selected",
            title=gettext("Reject limit changes"),
            what=gettext("Each version below is rejected; the version in force stays."),
            submit_label=gettext("Reject"),
        )
        if not isinstance(note, str):
            return note
        self._decide(
            request,
            versions,
            lambda version: limit_version_reject(version=version, by=request.user, note=note),
            done=gettext("%(count)d limit change(s) rejected."),
        )
        return None


@admin.register(PayoutHold)
class PayoutHoldAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "application_link", "merchant", "amount", "reason", "held_at", "status"]
    list_filter = ["status"]
    list_select_related = ["application__merchant"]
    ordering = ["-held_at", "-id"]
    actions = ["release_selected"]
    fields = [
        "application_link",
        "merchant",
        "amount",
        "status",
        "reason",
        "limits_table",
        ("held_at", "checked_at"),
        ("released_at", "released_by"),
        "audit_trail_table",
    ]
    readonly_fields = ["application_link", "merchant", "amount", "reason", "limits_table", "audit_trail_table"]

    @admin.display(description=_("application"))
    def application_link(self, hold: PayoutHold) -> str:
        url = reverse("admin:lending_loanapplication_change", args=[hold.application_id])
        return format_html('<a href="{}">#{}</a>', url, hold.application_id)

    @admin.display(description=_("merchant"))
    def merchant(self, hold: PayoutHold) -> str:
        return str(hold.application.merchant)

    @admin.display(description=_("amount"))
    def amount(self, hold: PayoutHold) -> str:
        return _money(hold.application.offer_amount)

    @admin.display(description=_("why it is held"))
    def reason(self, hold: PayoutHold) -> str:
        return hold.reason_zh if (get_language() or "").startswith("zh") else hold.reason_en

    @admin.display(description=_("limits hit"))
    def limits_table(self, hold: PayoutHold) -> str:
        return html_table(
            [gettext("Limit"), gettext("Allows"), gettext("Committed with this loan")],
            ((row.get("code"), _money(row.get("limit")), _money(row.get("exposure"))) for row in hold.limits),
            empty="—",
        )

    def has_release_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(FUND_PERMISSION)

    @admin.action(description=_("Release payout (checks the limits again)"), permissions=["release"])
    def release_selected(self, request: HttpRequest, queryset: QuerySet[PayoutHold]) -> None:
        released = 0
        for hold in queryset.order_by("pk"):
            try:
                payout_hold_release(hold=hold, by=request.user)
            except REFUSALS as exc:
                self.message_user(request, f"#{hold.pk}: {refusal_message(exc)}", messages.ERROR)
            else:
                released += 1
        if released:
            self.message_user(
                request,
                gettext("%(count)d payout(s) released: the loans are made and on their way.") % {"count": released},
                messages.SUCCESS,
            )


back_office_page_register(
    BackOfficePage(
        key="payout-holds",
        title=_("Payouts held by a limit"),
        description=_("Signed loans an exposure limit holds: release each when there is room."),
        url_name="admin:risk_payouthold_changelist",
        query=f"status__exact={PayoutHold.Status.HELD}",
        permission="risk.view_payouthold",
        waiting=payout_holds_open_count,
        position=35,
    )
)
back_office_page_register(
    BackOfficePage(
        key="exposure-limits",
        title=_("Exposure limits"),
        description=_("How full each limit is, near and in breach; risk managers change them, two by two."),
        url_name="admin:risk_exposurelimit_changelist",
        permission="risk.view_exposurelimit",
        position=85,
    )
)

__all__ = ["ExposureLimitAdmin", "LimitVersionAdmin", "PayoutHoldAdmin", "utilisation_table"]
