"""The officers' back office for merchants: KYC review, documents and sales history.

Nothing here edits a merchant directly. The profile is the merchant's to change; the KYC state
changes only through the services, from the actions and the buttons on a merchant's page.
"""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import AuditTrailAdminMixin, EstimatedCountPaginator, ExactSearchAdminMixin, ReadOnlyAdminMixin
from merchants.choices import KycState, SalesSource
from merchants.models import KycDocument, Merchant, SalesDay
from merchants.services.kyc import KycError, kyc_reject, kyc_verify
from merchants.web.forms import KycRejectForm

FULL_IDENTITY_PERMISSION = "merchants.view_full_identity"
REVIEW_PERMISSION = "merchants.review_kyc"


def document_preview(document: KycDocument) -> str:
    """An image preview, or a download link for a PDF, served through the authorised download view."""
    url = reverse("merchants:document", kwargs={"pk": document.pk})
    if document.content_type.startswith("image/"):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">'
            '<img src="{}" alt="{}" style="max-height:160px;max-width:240px"></a>'
            ' <a href="{}?download=1">{}</a>',
            url,
            url,
            document.get_kind_display(),
            url,
            gettext("Download"),
        )
    # A PDF is always a download (see DocumentDownloadView): it is never opened on the portal's origin.
    return format_html('<a href="{}?download=1">{}</a>', url, gettext("Download PDF"))


class KycDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = KycDocument
    extra = 0
    can_delete = False
    fields = ["kind", "preview", "original_name", "content_type", "size", "sha256", "uploaded_at"]
    readonly_fields = fields

    @admin.display(description=_("preview"))
    def preview(self, document: KycDocument) -> str:
        return document_preview(document)


@admin.register(Merchant)
class MerchantAdmin(ExactSearchAdminMixin, AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["legal_name", "credit_code", "industry", "province", "kyc_status", "kyc_submitted_at", "owner"]
    list_filter = ["kyc_state", "industry", "province"]
    search_fields = ["=credit_code", "=legal_name"]
    list_select_related = ["owner"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The review queue first: the most recently submitted on top, merchants that never submitted last.
    ordering = [F("kyc_submitted_at").desc(nulls_last=True), "-id"]
    raw_id_fields = ["owner", "kyc_reviewed_by"]
    inlines = [KycDocumentInline]
    actions = ["verify_kyc", "reject_kyc"]
    readonly_fields = [
        "kyc_status",
        "kyc_rejection_reason",
        "kyc_submitted_at",
        "kyc_reviewed_at",
        "kyc_reviewed_by",
        "masked_legal_rep_id",
        "audit_trail_table",
        "created_at",
        "updated_at",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Merchant | None = None):
        # The legal representative's ID is shown in full only to officers allowed to see identities.
        id_field = "legal_rep_id_number" if request.user.has_perm(FULL_IDENTITY_PERMISSION) else "masked_legal_rep_id"
        return [
            (None, {"fields": ["owner", "legal_name", "credit_code", "industry", "province", "city", "founded_on"]}),
            (_("Legal representative"), {"fields": ["legal_rep_name", id_field, "mobile"]}),
            (
                _("Settlement account"),
                {"fields": ["settlement_bank_name", "settlement_account_name", "settlement_account_number"]},
            ),
            (
                _("KYC review"),
                {
                    "fields": [
                        "kyc_status",
                        "kyc_rejection_reason",
                        "kyc_submitted_at",
                        "kyc_reviewed_at",
                        "kyc_reviewed_by",
                    ]
                },
            ),
            (_("History"), {"fields": ["audit_trail_table", "created_at", "updated_at"]}),
        ]

    @admin.display(description=_("KYC status"), ordering="kyc_state")
    def kyc_status(self, merchant: Merchant) -> str:
        return format_html(
            '<span class="status status-{}">{}</span>', merchant.kyc_state, merchant.get_kyc_state_display()
        )

    @admin.display(description=_("legal representative's resident ID number"))
    def masked_legal_rep_id(self, merchant: Merchant) -> str:
        return merchant.masked_id_number

    # Review permission, used by the actions (``allowed_permissions``) and by the buttons.

    def has_review_kyc_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.action(description=_("Verify KYC…"), permissions=["review_kyc"])
    def verify_kyc(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse | None:
        merchants = list(queryset)
        note = confirmed_note(
            self,
            request,
            merchants,
            action="verify_kyc",
            title=gettext("Verify KYC"),
            what=gettext("These merchants will be verified and may borrow; each owner is told."),
            submit_label=gettext("Verify"),
        )
        if not isinstance(note, str):
            return note
        verified = 0
        for merchant in merchants:
            try:
                kyc_verify(merchant=merchant, by=request.user, note=note)
            except (KycError, PermissionDenied) as exc:
                self._refused(request, merchant, exc)
            else:
                verified += 1
        if verified:
            self.message_user(
                request, gettext("KYC verified for %(count)d merchant(s).") % {"count": verified}, messages.SUCCESS
            )

    @admin.action(description=_("Reject KYC"), permissions=["review_kyc"])
    def reject_kyc(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse | None:
        form = KycRejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._reject_all(request, list(queryset), form.cleaned_data["reason"])
            return None
        return self._reject_page(request, list(queryset), form, action_mode=True)

    def _reject_all(self, request: HttpRequest, merchants: list[Merchant], reason: str) -> None:
        rejected = 0
        for merchant in merchants:
            try:
                kyc_reject(merchant=merchant, by=request.user, reason=reason)
            except (KycError, PermissionDenied) as exc:
                self._refused(request, merchant, exc)
            else:
                rejected += 1
        if rejected:
            self.message_user(
                request, gettext("KYC rejected for %(count)d merchant(s).") % {"count": rejected}, messages.SUCCESS
            )

    def _refused(self, request: HttpRequest, merchant: Merchant, exc: Exception) -> None:
        reason = " ".join(exc.messages) if isinstance(exc, KycError) else (str(exc) or gettext("Permission denied."))
        self.message_user(request, f"{merchant}: {reason}", messages.ERROR)

    def _reject_page(
        self, request: HttpRequest, merchants: list[Merchant], form: KycRejectForm, *, action_mode: bool
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject KYC"),
            "opts": self.model._meta,
            "merchants": merchants,
            "form": form,
            "action_mode": action_mode,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/merchants/merchant/reject_kyc.html", context)

    # Buttons on one merchant's page.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/kyc/verify/", wrap(self.verify_view), name="merchants_merchant_kyc_verify"),
            path("<int:pk>/kyc/reject/", wrap(self.reject_view), name="merchants_merchant_kyc_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "can_review_kyc": self.has_review_kyc_permission(request)}
        extra_context["kyc_submitted"] = KycState.SUBMITTED
        return super().change_view(request, object_id, form_url, extra_context)

    def _change_url(self, merchant: Merchant) -> str:
        return reverse("admin:merchants_merchant_change", args=[merchant.pk])

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:merchants_merchant_change", args=[pk]))
        if not self.has_review_kyc_permission(request):
            raise PermissionDenied
        merchant = get_object_or_404(Merchant, pk=pk)
        page = self.verify_kyc(request, Merchant.objects.filter(pk=merchant.pk))
        return page or HttpResponseRedirect(self._change_url(merchant))

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_review_kyc_permission(request):
            raise PermissionDenied
        merchant = get_object_or_404(Merchant, pk=pk)
        form = KycRejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._reject_all(request, [merchant], form.cleaned_data["reason"])
            return HttpResponseRedirect(self._change_url(merchant))
        return self._reject_page(request, [merchant], form, action_mode=False)


@admin.register(KycDocument)
class KycDocumentAdmin(ExactSearchAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["merchant", "kind", "original_name", "content_type", "size", "uploaded_at", "preview"]
    list_filter = ["kind", "content_type"]
    search_fields = ["=merchant__credit_code", "=merchant__legal_name"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["merchant", "uploaded_by"]
    fields = [
        "merchant",
        "kind",
        "preview",
        "original_name",
        "content_type",
        "extension",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    ]
    readonly_fields = ["preview", "uploaded_at"]

    @admin.display(description=_("preview"))
    def preview(self, document: KycDocument) -> str:
        return document_preview(document)


@admin.register(SalesDay)
class SalesDayAdmin(ExactSearchAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every row of both sources and every version, read-only for everyone: sales are written by the platform's
    feed, operators' ``import_sales`` and merchants' declarations, never typed in here."""

    list_display = [
        "merchant",
        "date",
        "source_label",
        "gross_sales",
        "refunds",
        "transaction_count",
        "distinct_customers",
        "version",
        "batch_id",
        "imported_at",
        "superseded_at",
    ]
    list_filter = ["source", ("superseded_at", admin.EmptyFieldListFilter)]
    date_hierarchy = "date"
    raw_id_fields = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=merchant__credit_code", "=merchant__legal_name"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    ordering = ["-date", "source", "-version"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SalesDay]:
        return SalesDay.all_rows.all()

    @admin.display(description=_("source"), ordering="source")
    def source_label(self, day: SalesDay) -> str:
        return sales_source_badge(day.source)


def sales_source_badge(source: str) -> str:
    """The source as a badge; declared rows stand out, because no automated decision reads them."""
    label = SalesSource(source).label
    if source == SalesSource.DECLARED:
        return format_html('<strong class="sales-declared">{} ({})</strong>', label, gettext("declared"))
    return format_html("<span>{}</span>", label)
