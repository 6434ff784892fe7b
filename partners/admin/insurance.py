"""Co-insurance in the back office: insurers, their agreements (every change a new version), covers, and claims
with their actions and the portfolio's figures above the claims list.

Risk managers set insurers and agreements; senior officers submit, settle and reject claims; officers look.
Adding an agreement runs ``insurance_agreement_create`` when the form is validated, so a refusal (a bad value, a
premium that would cross the cost ceiling) shows on the form's field and nothing is saved. A version is never
edited: its page links to a new version started from its terms.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import REFUSALS, AuditTrailAdminMixin, ReadOnlyAdminMixin, refusal_message
from partners.models import ClaimRecoveryShare, InsuranceAgreement, InsuranceClaim, InsuranceCover, Insurer
from partners.selectors.insurance import insurance_portfolio
from partners.services.insurance import (
    CLAIM_PERMISSION,
    MANAGE_PERMISSION,
    claim_reject,
    claim_settle,
    claim_submit,
    insurance_agreement_create,
    insurer_save,
)
from underwriting.choices import GRADES


class InsurerForm(forms.ModelForm):
    class Meta:
        model = Insurer
        fields = ["code", "legal_name_zh", "legal_name_en", "licence_number", "api_user", "is_active"]


@admin.register(Insurer)
class InsurerAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    form = InsurerForm
    list_display = ["code", "legal_name_zh", "legal_name_en", "licence_number", "is_active"]
    search_fields = ["code", "legal_name_zh", "legal_name_en"]
    raw_id_fields = ["api_user"]
    readonly_fields = ["audit_trail_table"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Insurer, form, change: bool) -> None:
        insurer_save(insurer=obj, by=request.user)


class InsuranceAgreementForm(forms.ModelForm):
    grades = forms.MultipleChoiceField(
        label=_("risk grades"), choices=[(grade, grade) for grade in GRADES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = InsuranceAgreement
        fields = [
            "insurer",
            "products",
            "grades",
            "cover_share",
            "premium_rate",
            "premium_payer",
            "claim_after_dpd",
            "note",
        ]

    request: HttpRequest | None = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.instance = insurance_agreement_create(
                insurer=cleaned["insurer"],
                products=list(cleaned["products"]),
                grades=list(cleaned["grades"]),
                cover_share=cleaned["cover_share"],
                premium_rate=cleaned["premium_rate"],
                premium_payer=cleaned["premium_payer"],
                claim_after_dpd=cleaned["claim_after_dpd"],
                note=cleaned.get("note", ""),
                by=self.request.user,
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, messages_ in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages_)
            else:
                self.add_error(None, error.messages)
        except REFUSALS as error:
            self.add_error(None, refusal_message(error))
        return cleaned

    def validate_unique(self) -> None:
        """The service numbers the version under the insurer's lock."""


@admin.register(InsuranceAgreement)
class InsuranceAgreementAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    form = InsuranceAgreementForm
    list_display = [
        "insurer",
        "version",
        "is_active",
        "cover_share",
        "premium_rate",
        "premium_payer",
        "claim_after_dpd",
        "created_by",
        "created_at",
    ]
    list_filter = ["is_active", "premium_payer", "insurer"]
    filter_horizontal = ["products"]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return InsuranceAgreementForm.Meta.fields
        return [
            "insurer",
            "version",
            "is_active",
            "products",
            "grades",
            "cover_share",
            "premium_rate",
            "premium_payer",
            "claim_after_dpd",
            "note",
            "created_by",
            "created_at",
            "new_version_link",
            "audit_trail_table",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return []
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE_PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("change"))
    def new_version_link(self, agreement: InsuranceAgreement) -> str:
        query = urlencode(
            {
                "insurer": agreement.insurer_id,
                "products": ",".join(str(pk) for pk in agreement.products.values_list("pk", flat=True)),
                "grades": ",".join(agreement.grades),
                "cover_share": agreement.cover_share,
                "premium_rate": agreement.premium_rate,
                "premium_payer": agreement.premium_payer,
                "claim_after_dpd": agreement.claim_after_dpd,
            }
        )
        url = reverse("admin:partners_insuranceagreement_add")
        return format_html('<a href="{}?{}">{}</a>', url, query, gettext("Start a new version from these terms"))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        if isinstance(initial.get("grades"), str):
            initial["grades"] = initial["grades"].split(",")
        return initial

    def save_model(self, request: HttpRequest, obj: InsuranceAgreement, form, change: bool) -> None:
        if obj.pk is None:
            # The form's validation ran the service and left its version as the instance; nothing else saves.
            raise PermissionDenied(gettext("The agreement was not saved."))

    def save_related(self, request, form, formsets, change) -> None:
        """Nothing related: the service saved the products."""


@admin.register(InsuranceCover)
class InsuranceCoverAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "insurer", "agreement", "cover_share", "premium", "premium_payer", "created_at"]
    list_filter = ["insurer", "premium_payer"]
    search_fields = ["=loan__id"]
    readonly_fields = [*(field.name for field in InsuranceCover._meta.fields), "audit_trail_table"]


class SettleForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount the insurer paid (yuan)"), max_digits=14, decimal_places=2)
    reference = forms.CharField(label=_("Insurer's payment reference"), max_length=64)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ClaimRecoveryShareInline(admin.TabularInline):
    model = ClaimRecoveryShare
    fields = ["payment", "recovered", "amount", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(InsuranceClaim)
class InsuranceClaimAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "loan",
        "insurer",
        "state",
        "loss_on",
        "days_past_due",
        "principal_lost",
        "interest_lost",
        "claimable",
        "settled_amount",
        "insurer_reference",
    ]
    list_filter = ["state", "cover__insurer"]
    search_fields = ["=loan__id", "=insurer_reference"]
    readonly_fields = [*(field.name for field in InsuranceClaim._meta.fields), "audit_trail_table"]
    inlines = [ClaimRecoveryShareInline]
    actions = ["submit_selected", "settle_selected", "reject_selected"]

    @admin.display(description=_("insurer"))
    def insurer(self, claim: InsuranceClaim) -> str:
        return claim.cover.insurer.code

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("cover__insurer")

    def has_act_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CLAIM_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "portfolio": insurance_portfolio()})

    def _act(self, request: HttpRequest, queryset: QuerySet, act, done: str) -> None:
        acted = 0
        for claim in queryset.order_by("pk"):
            try:
                act(claim)
            except REFUSALS as error:
                self.message_user(request, f"#{claim.pk}: {refusal_message(error)}", messages.ERROR)
            else:
                acted += 1
        if acted:
            self.message_user(request, done % {"count": acted}, messages.SUCCESS)

    def _form_page(self, request: HttpRequest, queryset: QuerySet, form, *, action: str, title: str, submit: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "rows": queryset,
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "submit_label": submit,
        }
        return TemplateResponse(request, "admin/lending/reason_action.html", context)

    @admin.action(description=_("Submit the selected claims to their insurer…"), permissions=["act"])
    def submit_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        note = confirmed_note(
            self,
            request,
            queryset,
            action="submit_selected",
            title=gettext("Submit insurance claims"),
            what=gettext("Each opened claim below is sent to its insurer for the claimable amount shown."),
            submit_label=gettext("Submit"),
        )
        if not isinstance(note, str):
            return note
        self._act(
            request,
            queryset,
            lambda claim: claim_submit(claim=claim, by=request.user, note=note),
            gettext("%(count)d claim(s) submitted."),
        )
        return None

    @admin.action(description=_("Record the insurer's payment…"), permissions=["act"])
    def settle_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = SettleForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._act(
                request,
                queryset,
                lambda claim: claim_settle(
                    claim=claim,
                    amount=form.cleaned_data["amount"],
                    reference=form.cleaned_data["reference"],
                    by=request.user,
                ),
                gettext("%(count)d claim(s) settled."),
            )
            return None
        return self._form_page(
            request,
            queryset,
            form,
            action="settle_selected",
            title=gettext("Record the insurer's payment"),
            submit=gettext("Record"),
        )

    @admin.action(description=_("Reject the selected claims…"), permissions=["act"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._act(
                request,
                queryset,
                lambda claim: claim_reject(claim=claim, reason=form.cleaned_data["reason"], by=request.user),
                gettext("%(count)d claim(s) rejected."),
            )
            return None
        return self._form_page(
            request, queryset, form, action="reject_selected", title=gettext("Reject claims"), submit=gettext("Reject")
        )


__all__ = ["InsuranceAgreementAdmin", "InsuranceClaimAdmin", "InsuranceCoverAdmin", "InsurerAdmin"]
