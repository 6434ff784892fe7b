"""Money in, in the back office: bank transfers officers record (and a second officer approves above the
four-eyes amount), and the merchants' collection requests with what the rail said of each.

Recording a transfer runs ``bank_transfer_record`` when the form is validated, so a refusal (a reference already
booked, a date in the future or before the loan's last serviced day, no permission) is shown on the form's field
and nothing is saved; the admin's own save then only logs the addition.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import (
    REFUSALS,
    AuditTrailAdminMixin,
    EstimatedCountPaginator,
    ReadOnlyAdminMixin,
    refusal_message,
)
from lending.servicing.models import BankTransfer, CollectionRequest
from lending.servicing.services.bank_transfers import (
    APPROVE_PERMISSION,
    RECORD_PERMISSION,
    bank_transfer_approve,
    bank_transfer_record,
    bank_transfer_reject,
)


class BankTransferForm(forms.ModelForm):
    class Meta:
        model = BankTransfer
        fields = ["loan", "amount", "received_on", "bank_reference", "note"]

    request: HttpRequest | None = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.instance = bank_transfer_record(
                loan=cleaned["loan"],
                amount=cleaned["amount"],
                received_on=cleaned["received_on"],
                bank_reference=cleaned["bank_reference"],
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
        """The service checks the reference under its lock; the form's own query would only race it."""


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(BankTransfer)
class BankTransferAdmin(AuditTrailAdminMixin, admin.ModelAdmin):
    form = BankTransferForm
    list_display = ["bank_reference", "loan", "amount", "received_on", "status", "recorded_by", "decided_by"]
    list_filter = ["status"]
    search_fields = ["=bank_reference", "=loan__id"]
    raw_id_fields = ["loan"]
    actions = ["approve_selected", "reject_selected"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return []
        return [*(field.name for field in BankTransfer._meta.fields), "audit_trail_table"]

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return BankTransferForm.Meta.fields
        return [
            "loan",
            "amount",
            "received_on",
            "bank_reference",
            "note",
            "status",
            "recorded_by",
            "recorded_at",
            "decided_by",
            "decided_at",
            "rejection_reason",
            "payment",
            "audit_trail_table",
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RECORD_PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE_PERMISSION)

    def save_model(self, request: HttpRequest, obj: BankTransfer, form, change: bool) -> None:
        if obj.pk is None:
            # The form's validation ran the service and left its transfer as the instance; nothing else saves.
            raise PermissionDenied(gettext("The transfer was not recorded."))

    def save_related(self, request, form, formsets, change) -> None:
        """Nothing related: the service saved everything."""

    def _decide(self, request: HttpRequest, queryset: QuerySet, decide, done: str) -> None:
        decided = 0
        for transfer in queryset.order_by("pk"):
            try:
                decide(transfer)
            except REFUSALS as error:
                self.message_user(request, f"{transfer.bank_reference}: {refusal_message(error)}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(request, done % {"count": decided}, messages.SUCCESS)

    @admin.action(description=_("Approve (book) the selected transfers…"), permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        note = confirmed_note(
            self,
            request,
            queryset.select_related("loan"),
            action="approve_selected",
            title=gettext("Book bank transfers"),
            what=gettext("Each transfer below is booked on its loan as a payment, through the waterfall."),
            submit_label=gettext("Book"),
        )
        if not isinstance(note, str):
            return note
        self._decide(
            request,
            queryset,
            lambda transfer: bank_transfer_approve(transfer=transfer, by=request.user, note=note),
            gettext("%(count)d transfer(s) booked."),
        )
        return None

    @admin.action(description=_("Reject the selected transfers"), permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide(
                request,
                queryset,
                lambda transfer: bank_transfer_reject(transfer=transfer, by=request.user, reason=reason),
                gettext("%(count)d transfer(s) rejected."),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject bank transfers"),
            "opts": self.model._meta,
            "rows": queryset,
            "form": form,
            "action": "reject_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "submit_label": gettext("Reject"),
        }
        return TemplateResponse(request, "admin/lending/reason_action.html", context)


@admin.register(CollectionRequest)
class CollectionRequestAdmin(AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "loan", "purpose", "amount", "status", "requested_on", "settled_at", "rail_reference"]
    list_filter = ["status", "purpose"]
    search_fields = ["=loan__id", "=rail_reference", "=idempotency_key"]
    readonly_fields = [*(field.name for field in CollectionRequest._meta.fields), "audit_trail_table"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator


__all__ = ["BankTransferAdmin", "CollectionRequestAdmin"]
