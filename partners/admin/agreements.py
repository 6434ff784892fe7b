"""Partner banks, their agreements (a change is a new version, made by the service) and the offers made to them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import AuditTrailAdminMixin, ReadOnlyAdminMixin
from partners.models import CoLendingAgreement, FundingPartner, PartnerOffer
from partners.services.agreements import agreement_terms_clean, agreement_version_create

AGREEMENT_TERMS = (
    "products",
    "grades",
    "share",
    "interest_rate",
    "tier1_capital",
    "daily_quota",
    "min_amount",
    "max_amount",
    "service_fee_rate",
    "fee_rule",
    "answer_window_hours",
)


@admin.register(FundingPartner)
class FundingPartnerAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    list_display = ["code", "legal_name_zh", "legal_name_en", "priority", "is_active", "current_agreement"]
    list_filter = ["is_active"]
    search_fields = ["=code"]
    readonly_fields = ["webhook_secret_rotated_at", "created_at", "audit_trail_table"]
    fields = [
        "code",
        "legal_name_zh",
        "legal_name_en",
        "licence_number",
        "funding_account_number",
        "funding_account_name",
        "funding_bank_name",
        "api_user",
        "webhook_url",
        "priority",
        "is_active",
        "webhook_secret_rotated_at",
        "created_at",
        "audit_trail_table",
    ]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a partner with offers or shares is history; deactivate it instead

    @admin.display(description=_("current agreement"))
    def current_agreement(self, partner: FundingPartner) -> str:
        current = partner.agreements.filter(is_active=True).order_by("-version").first()
        if current is None:
            return format_html(
                '<a href="{}?partner={}">{}</a>',
                reverse("admin:partners_colendingagreement_add"),
                partner.pk,
                _("Set an agreement"),
            )
        return format_html(
            '<a href="{}">v{}</a>',
            reverse("admin:partners_colendingagreement_change", args=[current.pk]),
            current.version,
        )


class AgreementForm(forms.ModelForm):
    grades = forms.MultipleChoiceField(
        label=_("risk grades"),
        choices=[(grade, grade) for grade in ("A", "B", "C", "D", "E")],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = CoLendingAgreement
        fields = ["partner", *AGREEMENT_TERMS, "note"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            # The service's own rules, so that the form names each field that breaks one.
            try:
                agreement_terms_clean(**{name: cleaned.get(name) for name in AGREEMENT_TERMS})
            except ValidationError as refused:
                for field, messages in refused.message_dict.items():
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(CoLendingAgreement)
class CoLendingAgreementAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    """Agreements are never edited: saving the form makes the partner's next version, active from now."""

    form = AgreementForm
    list_display = [
        "partner",
        "version",
        "is_active",
        "share",
        "interest_rate",
        "exposure_cap_display",
        "daily_quota",
        "created_by",
        "created_at",
    ]
    list_filter = ["is_active", "partner"]
    filter_horizontal = ["products"]
    readonly_fields = [
        "version",
        "exposure_cap_display",
        "created_by",
        "created_at",
        "new_version_link",
        "audit_trail_table",
    ]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["partner", *AGREEMENT_TERMS, "note"]
        return [
            "partner",
            "version",
            "is_active",
            *AGREEMENT_TERMS,
            "exposure_cap_display",
            "note",
            "created_by",
            "created_at",
            "new_version_link",
            "audit_trail_table",
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        source = CoLendingAgreement.objects.filter(pk=request.GET.get("from") or 0).first()
        if source is not None:
            initial.update({name: getattr(source, name) for name in AGREEMENT_TERMS if name != "products"})
            initial["products"] = list(source.products.values_list("pk", flat=True))
            initial["partner"] = source.partner_id
        return initial

    def save_model(self, request: HttpRequest, obj: CoLendingAgreement, form, change: bool) -> None:
        data = form.cleaned_data
        created = agreement_version_create(
            partner=data["partner"],
            by=request.user,
            note=data.get("note", ""),
            **{name: data[name] for name in AGREEMENT_TERMS},
        )
        obj.pk = created.pk
        obj.version = created.version

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass  # the service set the products with the version

    # xgettext:no-python-format
    @admin.display(description=_("cap on outstanding (25 % of tier-1 capital)"))
    def exposure_cap_display(self, agreement: CoLendingAgreement) -> str:
        return f"{agreement.exposure_cap:,.2f}"

    @admin.display(description=_("change"))
    def new_version_link(self, agreement: CoLendingAgreement) -> str:
        return format_html(
            '<a class="button" href="{}?from={}">{}</a>',
            reverse("admin:partners_colendingagreement_add"),
            agreement.pk,
            _("Make a new version from this one"),
        )


@admin.register(PartnerOffer)
class PartnerOfferAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["application", "partner", "state", "share", "principal", "offered_at", "answer_by", "answered_at"]
    list_filter = ["state", "partner"]
    search_fields = ["=application__id", "=partner_reference"]
    list_select_related = ["application__merchant", "partner"]
    readonly_fields = [
        "application",
        "partner",
        "agreement",
        "state",
        "share",
        "principal",
        "offered_at",
        "answer_by",
        "answered_at",
        "partner_reference",
        "reason",
        "audit_trail_table",
    ]
    fields = readonly_fields
