"""Money between lenders in the back office, read-only: loan shares (also on each loan's page), distributions and
daily settlements with their statements (CSV and PDF).

Share rule: each partner's share principal is its share of the loan rounded down to the fen; the platform takes
the rest, so the shares sum exactly to the loan's principal.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, EstimatedCountPaginator, ReadOnlyAdminMixin, refusal_message
from core.money import to_fen
from lending.servicing.models import Loan
from partners.models import Distribution, LoanShare, PartnerSettlement
from partners.selectors.money import shares_with_outstanding
from partners.services.settlements import (
    partner_settlement_pay,
    settlement_statement_csv,
    settlement_statement_pdf,
)

SHARES_RULE = _(
    "Each partner's share principal is its share of the loan rounded down to the fen; the platform takes the rest, "
    "so the shares sum exactly to the loan's principal."
)
DISTRIBUTION_RULES = _(
    "Principal: pro rata to each lender's outstanding share principal (largest remainder to the fen). Interest: each "
    "partner earns its own rate on its outstanding share principal by the day (actual/365) up to the due date of the "
    "line paid or the day of payment if earlier, never more than its pro rata part of the payment; the margin is the "
    "platform's. Fees and late fees: "
    "by the agreement (the platform keeps them, or pro rata by share). Credit held: the platform's, as custodian."
)
SETTLEMENT_RULE = _(
    "Net payable = the partner's distributions of the day less the service fee (the agreement's rate / 365 x its "
    "outstanding principal at the end of the day, to the fen)."
)


@admin.register(LoanShare)
class LoanShareAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "lender", "share", "principal", "outstanding", "interest_rate", "agreement", "created_at"]
    list_filter = ["partner"]
    search_fields = ["=loan__id"]
    list_select_related = ["partner", "agreement__partner"]
    readonly_fields = ["loan", "partner", "agreement", "share", "principal", "interest_rate", "created_at"]

    def get_queryset(self, request: HttpRequest):
        return shares_with_outstanding(super().get_queryset(request))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": SHARES_RULE}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("lender"))
    def lender(self, share: LoanShare) -> str:
        return share.lender_code

    @admin.display(description=_("outstanding principal"))
    def outstanding(self, share: LoanShare):
        return to_fen(share.outstanding)


class LoanShareInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The loan's lenders on its own page: each share (partners rounded down to the fen, the platform the rest)."""

    model = LoanShare
    extra = 0
    can_delete = False
    fields = ["partner", "agreement", "share", "principal", "interest_rate"]
    readonly_fields = fields
    verbose_name_plural = _("lenders' shares (partners rounded down to the fen; the platform takes the rest)")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("partners.view_loanshare")


@admin.register(Distribution)
class DistributionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "payment", "lender", "component", "amount", "value_date", "business_date", "settlement"]
    list_filter = ["partner", "component", "business_date"]
    search_fields = ["=loan__id", "=payment__id"]
    list_select_related = ["partner", "settlement__partner"]
    date_hierarchy = "business_date"
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [
        "allocation",
        "share",
        "loan",
        "payment",
        "partner",
        "component",
        "amount",
        "value_date",
        "business_date",
        "settlement",
        "created_at",
    ]

    @admin.display(description=_("lender"))
    def lender(self, row: Distribution) -> str:
        return row.lender_code

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": DISTRIBUTION_RULES}
        return super().changelist_view(request, extra_context)


@admin.register(PartnerSettlement)
class PartnerSettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "business_date",
        "partner",
        "collected",
        "service_fee",
        "net_payable",
        "distribution_count",
        "status",
        "statement",
    ]
    list_filter = ["partner", "status"]
    date_hierarchy = "business_date"
    list_select_related = ["partner"]
    readonly_fields = [
        "partner",
        "business_date",
        "principal",
        "interest",
        "fees",
        "penalties",
        "collected",
        "distribution_count",
        "outstanding_principal",
        "service_fee",
        "net_payable",
        "status",
        "created_at",
        "paid_at",
        "paid_by",
        "statement",
    ]
    actions = ["pay_selected"]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": SETTLEMENT_RULE}
        return super().changelist_view(request, extra_context)

    def has_pay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("partners.pay_settlement")

    @admin.action(description=_("Record the selected settlements as paid…"), permissions=["pay"])
    def pay_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        note = confirmed_note(
            self,
            request,
            queryset.select_related("partner"),
            action="pay_selected",
            title=gettext("Record settlements as paid"),
            what=gettext(
                "Each settlement below is recorded as paid into the partner's funding account; its figures stay."
            ),
            submit_label=gettext("Record as paid"),
        )
        if not isinstance(note, str):
            return note
        paid = 0
        for settlement in queryset.order_by("pk"):
            try:
                partner_settlement_pay(settlement=settlement, by=request.user, note=note)
            except REFUSALS as error:
                self.message_user(request, f"{settlement}: {refusal_message(error)}", messages.ERROR)
            else:
                paid += 1
        if paid:
            self.message_user(request, gettext("%(count)d settlement(s) recorded as paid.") % {"count": paid})
        return None

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = "partners_partnersettlement"
        return [
            path("<int:pk>/statement.csv", wrap(self.statement_csv_view), name=f"{name}_csv"),
            path("<int:pk>/statement.pdf", wrap(self.statement_pdf_view), name=f"{name}_pdf"),
            *super().get_urls(),
        ]

    @admin.display(description=_("statement"))
    def statement(self, settlement: PartnerSettlement) -> str:
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}">PDF</a>',
            reverse("admin:partners_partnersettlement_csv", args=[settlement.pk]),
            reverse("admin:partners_partnersettlement_pdf", args=[settlement.pk]),
        )

    def _settlement(self, request: HttpRequest, pk: int) -> PartnerSettlement:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(PartnerSettlement.objects.select_related("partner"), pk=pk)

    @staticmethod
    def _filename(settlement: PartnerSettlement, extension: str) -> str:
        return f"settlement-{settlement.partner.code}-{settlement.business_date:%Y%m%d}.{extension}"

    def statement_csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        settlement = self._settlement(request, pk)
        # With a byte-order mark, so spreadsheet programs read the Chinese labels as UTF-8.
        response = HttpResponse("\ufeff" + settlement_statement_csv(settlement=settlement), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{self._filename(settlement, "csv")}"'
        return response

    def statement_pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        settlement = self._settlement(request, pk)
        response = HttpResponse(settlement_statement_pdf(settlement=settlement).pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{self._filename(settlement, "pdf")}"'
        return response


def _add_shares_to_the_loan_page() -> None:
    # Lending's admin cannot name a higher layer's inline, so the partners app adds it to the loan's page itself.
    loan_admin = admin.site._registry.get(Loan)
    if loan_admin is not None and LoanShareInline not in loan_admin.inlines:
        loan_admin.inlines = [*loan_admin.inlines, LoanShareInline]


_add_shares_to_the_loan_page()
