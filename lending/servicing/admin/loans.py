from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import AuditTrailAdminMixin, EstimatedCountPaginator, ReadOnlyAdminMixin, html_table
from lending.servicing.models import Instalment, Loan
from lending.servicing.selectors.loans import loan_paid_out
from lending.servicing.selectors.portfolio import loan_write_off_figures


def concessions_table(concessions) -> str:
    """Concessions as a table with a link to each (the loan's and the application's pages show theirs)."""
    return html_table(
        [gettext("Concession"), gettext("Status"), gettext("Asked by"), gettext("Decided by"), gettext("Note")],
        (
            (
                format_html(
                    '<a href="{}">#{} {}</a>',
                    reverse("admin:lending_concession_change", args=[concession.pk]),
                    concession.pk,
                    concession.get_kind_display(),
                ),
                concession.get_status_display(),
                concession.requested_by,
                concession.decided_by or "—",
                concession.decision_note or "—",
            )
            for concession in concessions
        ),
        empty=gettext("None."),
    )


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
        "penalty_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "penalty_paid",
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
    readonly_fields = ["payout", "write_off_figures", "concessions_list", "audit_trail_table"]
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
        (_("Written off and recovered"), {"fields": ["write_off_figures"]}),
        # Set only by lending.servicing.services.fraud (from the risk firewall's alerts): its loss is reported apart.
        (_("Fraud"), {"fields": [("fraud_marked_at", "fraud_marked_by"), "fraud_reason"]}),
        (_("Concessions"), {"fields": ["concessions_list"]}),
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

    @admin.display(description=_("written off and recovered"))
    def write_off_figures(self, loan: Loan) -> str:
        figures = loan_write_off_figures(loan=loan)
        if figures is None:
            return gettext("Not written off.")
        return render_to_string(
            "admin/lending/write_off_figures.html", {"figures": figures, "written_off_at": loan.written_off_at}
        )

    @admin.display(description=_("concessions"))
    def concessions_list(self, loan: Loan) -> str:
        return concessions_table(loan.concessions.select_related("requested_by", "decided_by"))

    def audit_related(self, loan: Loan) -> list:
        disbursement = loan_paid_out(loan)
        return [] if disbursement is None else [disbursement]
