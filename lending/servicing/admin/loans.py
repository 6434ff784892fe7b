from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import AuditTrailAdminMixin, EstimatedCountPaginator, ReadOnlyAdminMixin
from lending.servicing.models import Instalment, Loan
from lending.servicing.selectors.loans import loan_paid_out


class InstalmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Instalment
    extra = 0
    can_delete = False
    fields = [
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "status",
    ]
    readonly_fields = fields
    ordering = ["number"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # The schedule is part of the loan: whoever may see the loan sees its instalments.
        return request.user.has_perm("lending.view_loan")


@admin.register(Loan)
class LoanAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "merchant",
        "product",
        "principal",
        "net_disbursement",
        "apr",
        "state",
        "payout",
        "start_date",
        "maturity_date",
    ]
    list_display_links = ["id", "merchant"]
    list_filter = ["state", "product", "repayment_method"]
    list_select_related = ["merchant", "product", "disbursement"]
    search_fields = ["=id", "=application__id", "=merchant__credit_code", "merchant__legal_name"]
    raw_id_fields = ["application", "merchant", "product"]
    show_full_result_count = False
    # Facet counts are one COUNT per filter choice over the whole table: never at this size.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    ordering = ["-created_at", "-id"]
    inlines = [InstalmentInline]
    readonly_fields = ["payout", "audit_trail_table"]
    fieldsets = [
        (None, {"fields": ["application", "merchant", "product", "state", "payout"]}),
        (
            _("Terms"),
            {
                "fields": [
                    ("principal", "net_disbursement"),
                    ("term", "term_unit", "repayment_method"),
                    ("grade", "price", "apr"),
                    ("start_date", "maturity_date"),
                ]
            },
        ),
        (_("Dates"), {"fields": [("created_at", "activated_at", "closed_at"), "days_past_due"]}),
        (_("History"), {"fields": ["audit_trail_table"]}),
    ]

    @admin.display(description=_("payout"))
    def payout(self, loan: Loan) -> str:
        disbursement = loan_paid_out(loan)
        if disbursement is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:lending_disbursement_change", args=[disbursement.pk]),
            disbursement.get_status_display(),
        )

    def audit_related(self, loan: Loan) -> list:
        disbursement = loan_paid_out(loan)
        return [] if disbursement is None else [disbursement]
