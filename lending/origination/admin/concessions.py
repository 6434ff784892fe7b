"""The second officer's queue: concessions awaiting a second approval (counter-offers below the grid, restructures
below the grid or forgiving fees, write-offs), to approve or reject with a reason.

The list opens on what is pending. Approving and rejecting, from the list's actions or the buttons on one
concession's page, call ``lending.origination.services.concessions``, which hands each kind to its own service;
the services' refusals (the maker approving their own, a missing permission, a concession gone stale) are shown
as messages. Registered from origination because it is the lending context that sees the other two.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, AuditTrailAdminMixin, ReadOnlyAdminMixin, html_table, refusal_message
from lending.origination.services.concessions import concession_approve, concession_reject
from lending.servicing.models import Concession
from lending.servicing.services.concessions import SECOND_APPROVE_PERMISSION

K = Concession.Kind
PENDING = Concession.Status.PENDING
ALL = "all"


class StatusFilter(admin.SimpleListFilter):
    """The queue opens on the pending ones; the decided ones are a click away."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [*Concession.Status.choices, (ALL, _("All"))]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or PENDING) == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or PENDING
        return queryset if value == ALL else queryset.filter(status=value)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is rejected"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The officer who asked for it is told this."),
    )


@admin.register(Concession)
class ConcessionAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "subject", "merchant", "summary", "requested_by", "requested_at", "status"]
    list_display_links = ["id", "kind"]
    list_filter = [StatusFilter, "kind"]
    list_select_related = ["application__merchant", "loan__merchant", "requested_by"]
    search_fields = ["=id", "=loan__id", "=application__id"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ["requested_at", "id"]
    actions = ["approve_selected", "reject_selected"]
    fields = [
        "kind",
        "status",
        "subject",
        "merchant",
        "summary",
        "terms_table",
        "reason",
        ("requested_by", "requested_at"),
        ("decided_by", "decided_at"),
        "decision_note",
        "audit_trail_table",
    ]
    readonly_fields = ["subject", "merchant", "summary", "terms_table", "audit_trail_table"]
    change_form_template = "admin/lending/concession/change_form.html"

    # What it is about.

    @admin.display(description=_("changes"))
    def subject(self, concession: Concession) -> str:
        if concession.kind == K.COUNTER_OFFER:
            url = reverse("admin:lending_loanapplication_change", args=[concession.application_id])
            return format_html('<a href="{}">{} #{}</a>', url, gettext("Application"), concession.application_id)
        url = reverse("lending_collections_loan", args=[concession.loan_id])
        return format_html('<a href="{}">{} #{}</a>', url, gettext("Loan"), concession.loan_id)

    @admin.display(description=_("merchant"))
    def merchant(self, concession: Concession) -> str:
        owner = concession.application if concession.kind == K.COUNTER_OFFER else concession.loan
        return str(owner.merchant)

    @admin.display(description=_("what is conceded"))
    def summary(self, concession: Concession) -> str:
        terms = concession.terms
        if concession.kind == K.COUNTER_OFFER:
            return gettext(
                "%(amount)s yuan at %(price)s; grade %(grade)s's grid price is %(grid)s (APR %(apr)s %%)"
            ) % {
                "amount": terms.get("amount"),
                "price": terms.get("price"),
                "grade": terms.get("grade"),
                "grid": terms.get("grid_price"),
                "apr": terms.get("apr"),
            }
        if concession.kind == K.RESTRUCTURE:
            grid = terms.get("grid") or {}
            return gettext(
                "%(rate)s a year (APR %(apr)s %%), grid %(grid)s for grade %(grade)s; forgives %(forgiven)s yuan"
            ) % {
                "rate": terms.get("annual_rate"),
                "apr": terms.get("apr"),
                "grid": grid.get("annual_rate") or grid.get("apr") or grid.get("price") or "—",
                "grade": grid.get("grade"),
                "forgiven": (terms.get("forgiven") or {}).get("total", "0.00"),
            }
        amounts = terms.get("amounts") or {}
        return gettext(
            "%(total)s yuan: principal %(principal)s, interest %(interest)s, fees %(fees)s, late fees %(penalties)s"
        ) % {name: amounts.get(name, "—") for name in ("total", "principal", "interest", "fees", "penalties")}

    @admin.display(description=_("what is asked for"))
    def terms_table(self, concession: Concession) -> str:
        rows = [
            (key, value)
            for key, value in sorted(concession.terms.items())
            if key not in ("snapshot",) and not isinstance(value, dict | list)
        ]
        nested = [
            (f"{key}.{inner}", inner_value)
            for key, value in sorted(concession.terms.items())
            if isinstance(value, dict) and key != "snapshot"
            for inner, inner_value in value.items()
            if not isinstance(inner_value, dict | list)
        ]
        return html_table([gettext("Term"), gettext("Value")], [*rows, *nested], empty="—")

    def audit_related(self, concession: Concession) -> Iterable:
        # The audit rows live on what the concession changes.
        if concession.kind == K.COUNTER_OFFER:
            return [concession.application]
        if concession.kind == K.RESTRUCTURE:
            return [concession.loan, concession.restructure]
        return [concession.loan]

    # Who may decide.

    def has_decide_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(SECOND_APPROVE_PERMISSION)

    # Actions.

    def _apply(self, request: HttpRequest, concessions: Iterable[Concession], call, *, done: str) -> int:
        count = 0
        for concession in concessions:
            try:
                call(concession)
            except REFUSALS as exc:
                self.message_user(request, f"#{concession.pk} {concession}: {refusal_message(exc)}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)
        return count

    @admin.action(description=_("Approve (second approval)…"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Concession]) -> HttpResponse | None:
        # The services refuse the officer who asked for a concession; a bulk action cannot get around it.
        concessions = list(queryset.order_by("pk"))
        note = confirmed_note(
            self,
            request,
            concessions,
            action="approve_selected",
            title=gettext("Approve concessions"),
            what=gettext(
                "Each concession below takes effect: a counter-offer or restructure reaches the merchant, a write-off "
                "books its amounts on the loan."
            ),
            submit_label=gettext("Approve"),
        )
        if not isinstance(note, str):
            return note
        self._apply(
            request,
            concessions,
            lambda concession: concession_approve(concession=concession, by=request.user, note=note),
            done=gettext("%(count)d concession(s) approved and applied."),
        )
        return None

    @admin.action(description=_("Reject…"), permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Concession]) -> HttpResponse | None:
        concessions = list(queryset.order_by("pk"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._apply(
                request,
                concessions,
                lambda concession: concession_reject(concession=concession, by=request.user, reason=reason),
                done=gettext("%(count)d concession(s) rejected."),
            )
            return None
        return self._reject_page(request, concessions, form, action="reject_selected")

    def _reject_page(
        self, request: HttpRequest, concessions: list[Concession], form: RejectForm, *, action: str | None
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject concessions"),
            "opts": self.model._meta,
            "concessions": concessions,
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/lending/concession/reject.html", context)

    # Buttons on one concession's page.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = "lending_concession"
        return [
            path("<int:pk>/approve/", wrap(self.approve_view), name=f"{name}_approve"),
            path("<int:pk>/reject/", wrap(self.reject_view), name=f"{name}_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "can_decide": self.has_decide_permission(request), "pending": PENDING}
        return super().change_view(request, object_id, form_url, extra_context)

    def _concession(self, request: HttpRequest, pk: int) -> Concession:
        if not self.has_decide_permission(request):
            raise PermissionDenied
        return get_object_or_404(Concession, pk=pk)

    def _back(self, concession: Concession) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:lending_concession_change", args=[concession.pk]))

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        concession = self._concession(request, pk)
        if request.method == "POST":
            page = self.approve_selected(request, Concession.objects.filter(pk=concession.pk))
            if page is not None:
                return page
        return self._back(concession)

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        concession = self._concession(request, pk)
        form = RejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._apply(
                request,
                [concession],
                lambda row: concession_reject(concession=row, by=request.user, reason=form.cleaned_data["reason"]),
                done=gettext("%(count)d concession(s) rejected."),
            )
            return self._back(concession)
        return self._reject_page(request, [concession], form, action=None)


__all__ = ["ConcessionAdmin"]
