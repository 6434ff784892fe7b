"""The merchant's business profile, KYC documents and KYC submission (web)."""

import logging

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views import View

from accounts.roles import Role
from merchants.choices import DocumentKind, KycState
from merchants.models import PROFILE_FIELDS, KycDocument, Merchant
from merchants.selectors.merchants import (
    document_for_viewer,
    merchant_documents_by_kind,
    merchant_kyc_checklist,
)
from merchants.services.documents import document_read_licence, document_upload
from merchants.services.kyc import (
    EDITABLE_STATES,
    KycError,
    kyc_submit,
    merchant_get_or_create,
    merchant_update_profile,
)
from merchants.services.ocr import OcrUnavailableError
from merchants.web.forms import DocumentUploadForm, MerchantProfileForm

logger = logging.getLogger(__name__)

# What OCR read off the licence waits in the session until the merchant confirms it in the profile form.
LICENCE_READING_SESSION_KEY = "merchants.licence_reading"


class MerchantOwnerMixin(LoginRequiredMixin):
    """Signed-in merchant owners only; ``self.merchant`` is theirs, created on the first visit."""

    merchant: Merchant

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_role(Role.MERCHANT_OWNER):
            raise PermissionDenied(_("This page is for merchant owners."))
        self.merchant = merchant_get_or_create(owner=request.user)
        return super().dispatch(request, *args, **kwargs)


def _kyc_context(merchant: Merchant) -> dict:
    return {
        "merchant": merchant,
        "editable": merchant.kyc_state in EDITABLE_STATES,
        "checklist": merchant_kyc_checklist(merchant=merchant),
        "KycState": KycState,
    }


def _profile_summary(merchant: Merchant) -> list[tuple[str, object]]:
    """Label and display value of each profile field, for the read-only view while KYC is under review."""
    rows = []
    for name in PROFILE_FIELDS:
        field = Merchant._meta.get_field(name)
        if name == "legal_rep_id_number":
            value = merchant.masked_id_number
        elif field.choices:
            value = getattr(merchant, f"get_{name}_display")()
        else:
            value = getattr(merchant, name)
        rows.append((capfirst(field.verbose_name), value))
    return rows


class ProfileEditView(MerchantOwnerMixin, View):
    template_name = "merchants/profile.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        reading = request.session.get(LICENCE_READING_SESSION_KEY) or {}
        initial = model_to_dict(self.merchant, fields=PROFILE_FIELDS)
        suggested = {}
        if reading.get("legal_name"):
            suggested["legal_name"] = reading["legal_name"]
        # A code whose check character fails was misread; it is shown for comparison, never prefilled.
        if reading.get("credit_code") and reading.get("credit_code_checks"):
            suggested["credit_code"] = reading["credit_code"]
        if self.merchant.kyc_state in EDITABLE_STATES:
            initial.update(suggested)
        form = MerchantProfileForm(initial=initial)
        return self._render(form, reading=reading, suggested=suggested)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MerchantProfileForm(request.POST)
        if form.is_valid():
            try:
                self.merchant = merchant_update_profile(merchant=self.merchant, by=request.user, data=form.cleaned_data)
            except KycError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("merchants:profile")
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                request.session.pop(LICENCE_READING_SESSION_KEY, None)
                messages.success(request, _("Your business profile is saved."))
                return redirect("merchants:profile")
        return self._render(form, reading={}, suggested={})

    def _render(self, form: MerchantProfileForm, *, reading: dict, suggested: dict) -> HttpResponse:
        context = {
            **_kyc_context(self.merchant),
            "form": form,
            "reading": reading,
            "suggested": suggested,
            "summary": _profile_summary(self.merchant),
        }
        return render(self.request, self.template_name, context)


class DocumentUploadView(MerchantOwnerMixin, View):
    template_name = "merchants/documents.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(forms={})

    def post(self, request: HttpRequest) -> HttpResponse:
        kind = request.POST.get("kind", "")
        if kind not in DocumentKind.values:
            messages.error(request, _("Choose the business licence, the ID card front or the ID card back."))
            return redirect("merchants:documents")
        form = DocumentUploadForm(request.POST, request.FILES, auto_id=f"id_%s_{kind}")
        if not form.is_valid():
            return self._render(forms={kind: form})
        try:
            document = document_upload(
                merchant=self.merchant, kind=kind, uploaded_file=form.cleaned_data["file"], by=request.user
            )
        except KycError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("merchants:documents")
        except ValidationError as exc:
            form.add_error("file", exc)
            return self._render(forms={kind: form})

        messages.success(request, _("%(kind)s uploaded.") % {"kind": document.get_kind_display()})
        if kind == DocumentKind.BUSINESS_LICENCE:
            self._read_licence(document)
        return redirect("merchants:documents")

    def _read_licence(self, document: KycDocument) -> None:
        session = self.request.session
        session.pop(LICENCE_READING_SESSION_KEY, None)
        try:
            reading = document_read_licence(document=document)
        except OcrUnavailableError as exc:
            # The upload stands; the page tells the merchant to type the name and code instead.
            logger.warning("Licence OCR unavailable for document %s: %s", document.pk, exc)
            session[LICENCE_READING_SESSION_KEY] = {"unavailable": True}
            return
        if reading is not None:
            session[LICENCE_READING_SESSION_KEY] = {**reading.as_dict(), "document_id": document.pk}

    def _render(self, *, forms: dict[str, DocumentUploadForm]) -> HttpResponse:
        documents = merchant_documents_by_kind(merchant=self.merchant)
        slots = [
            {
                "kind": kind,
                "label": label,
                "document": documents.get(kind),
                "form": forms.get(kind) or DocumentUploadForm(initial={"kind": kind}, auto_id=f"id_%s_{kind}"),
            }
            for kind, label in DocumentKind.choices
        ]
        context = {
            **_kyc_context(self.merchant),
            "slots": slots,
            "reading": self.request.session.get(LICENCE_READING_SESSION_KEY) or {},
        }
        return render(self.request, self.template_name, context)


class KycSubmitView(MerchantOwnerMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            kyc_submit(merchant=self.merchant, by=request.user)
        except KycError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Your KYC is submitted. We will email you when it has been reviewed."))
        return redirect("merchants:profile")


class DocumentDownloadView(LoginRequiredMixin, View):
    """A KYC document, to its merchant's owner and to officers allowed to view documents; 404 to anyone else."""

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        document = document_for_viewer(pk=pk, user=request.user)
        if document is None:
            raise Http404
        filename = document.original_name or f"{document.kind}.{document.extension}"
        try:
            stored = document.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = FileResponse(
            stored,
            content_type=document.content_type,
            as_attachment=request.GET.get("download") == "1",
            filename=filename,
        )
        # Browsers must take the content type we checked, never guess one from the bytes.
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
