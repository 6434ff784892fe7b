from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import (
    REFUSALS,
    AuditTrailAdminMixin,
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    refusal_message,
)
from core.formatting import masked_account
from lending.origination.services.funding import (
    RETRY_PAYOUT_PERMISSION,
    disbursement_retry,
)
from lending.servicing.models import Disbursement


def retry_payouts(model_admin: admin.ModelAdmin, request: HttpRequest, disbursements: Iterable[Disbursement]) -> None:
    queued = 0
    for disbursement in disbursements:
        try:
            disbursement_retry(disbursement=disbursement, by=request.user)
        except REFUSALS as exc:
            model_admin.message_user(request, f"{disbursement}: {refusal_message(exc)}", messages.ERROR)
        else:
            queued += 1
    if queued:
        model_admin.message_user(
            request, gettext("%(count)d payout(s) queued again.") % {"count": queued}, messages.SUCCESS
        )


@admin.register(Disbursement)
class DisbursementAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "loan",
        "merchant",
        "amount",
        "status",
        "attempts",
        "last_attempt_at",
        "completed_at",
        "rail_reference",
        "short_error",
    ]
    list_filter = ["status"]
    list_select_related = ["loan__merchant"]
    search_fields = ["=id", "=loan__id", "=rail_reference", "=idempotency_key"]
    raw_id_fields = ["loan"]
    show_full_result_count = False
    # Facet counts are one COUNT per filter choice over the whole table: never at this size.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    ordering = ["-created_at", "-id"]
    actions = ["retry_payout"]
    readonly_fields = ["idempotency_key", "masked_account", "audit_trail_table", "created_at"]
    fields = [
        "loan",
        "amount",
        "status",
        "attempts",
        "last_attempt_at",
        "last_error",
        "bank_name",
        "account_name",
        "masked_account",
        "idempotency_key",
        "rail_reference",
        "created_at",
        "completed_at",
        "audit_trail_table",
    ]

    @admin.display(description=_("merchant"), ordering="loan__merchant__legal_name")
    def merchant(self, disbursement: Disbursement) -> str:
        return str(disbursement.loan.merchant)

    @admin.display(description=_("last error"))
    def short_error(self, disbursement: Disbursement) -> str:
        error = disbursement.last_error
        return error if len(error) <= 80 else f"{error[:79]}…"

    @admin.display(description=_("account number"))
    def masked_account(self, disbursement: Disbursement) -> str:
        return masked_account(disbursement.account_number)

    def has_retry_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(RETRY_PAYOUT_PERMISSION)

    @admin.action(description=_("Retry payout"), permissions=["retry"])
    def retry_payout(self, request: HttpRequest, queryset: QuerySet[Disbursement]) -> None:
        retry_payouts(self, request, queryset)

    def get_urls(self):
        return [
            path(
                "<int:pk>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="lending_disbursement_retry",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_retry_payout": self.has_retry_permission(request),
            "failed": Disbursement.Status.FAILED,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_retry_permission(request):
            raise PermissionDenied
        disbursement = get_object_or_404(Disbursement, pk=pk)
        if request.method == "POST":
            retry_payouts(self, request, [disbursement])
        return HttpResponseRedirect(reverse("admin:lending_disbursement_change", args=[pk]))
