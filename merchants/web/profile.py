"""The merchant's business profile, KYC documents and KYC submission (web)."""

import datetime

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views import View

from accounts.roles import Role
from merchants.choices import DocumentKind, KycState, OcrStatus
from merchants.models import PROFILE_FIELDS, KycDocument, Merchant
from merchants.selectors.merchants import document_for_viewer, merchant_documents_by_kind, merchant_kyc_checklist
from merchants.services.documents import document_upload
from merchants.services.kyc import (
    EDITABLE_STATES,
    KycError,
    kyc_submit,
    merchant_get_or_create,
    merchant_update_profile,
)
from merchants.web.forms import DocumentUploadForm, MerchantProfileForm

# OCR's reading waits on the licence document; once the merchant has saved the profile form with it, the session
# remembers that this licence's suggestions are spent.
LICENCE_READING_SPENT_SESSION_KEY = "merchants.licence_reading_spent"
# While OCR is still reading, the documents page reloads itself after this many seconds (no script needed).
OCR_REFRESH_SECONDS = 3
# A reading still pending after this long was lost (a worker or the broker was down): stop waiting for it and let
# the merchant type the name and code, rather than refresh the page forever.
OCR_GIVE_UP_AFTER = datetime.timedelta(minutes=5)


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


def _licence_reading(request: HttpRequest, licence: KycDocument | None) -> dict:
    """What to show about OCR of the merchant's licence: nothing, still reading, unavailable, or the reading."""
    if licence is None or licence.pk == request.session.get(LICENCE_READING_SPENT_SESSION_KEY):
        return {}
    if licence.ocr_status == OcrStatus.PENDING:
        if licence.uploaded_at > timezone.now() - OCR_GIVE_UP_AFTER:
            return {"pending": True}
        return {"unavailable": True}
    if licence.ocr_status == OcrStatus.UNAVAILABLE:
        return {"unavailable": True}
    if licence.ocr_status == OcrStatus.DONE:
        return {**licence.ocr_reading, "document_id": licence.pk}
    return {}


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
        licence = merchant_documents_by_kind(merchant=self.merchant).get(DocumentKind.BUSINESS_LICENCE)
        reading = _licence_reading(request, licence)
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
                licence = merchant_documents_by_kind(merchant=self.merchant).get(DocumentKind.BUSINESS_LICENCE)
                if licence is not None:
                    request.session[LICENCE_READING_SPENT_SESSION_KEY] = licence.pk
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
        return redirect("merchants:documents")

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
            "reading": _licence_reading(self.request, documents.get(DocumentKind.BUSINESS_LICENCE)),
            "refresh_seconds": OCR_REFRESH_SECONDS,
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
    """A KYC document, to its merchant's owner and to officers allowed to view documents; 404 to anyone else.

    A PDF is always a download, never opened by the browser's viewer on the portal's origin; a photo may be shown
    inline (the previews), and every answer carries a sandboxing Content-Security-Policy, so even a file that got
    past the checks cannot run anything in the portal's name.
    """

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
            as_attachment=document.content_type == "application/pdf" or request.GET.get("download") == "1",
            filename=filename,
        )
        # Browsers must take the content type we checked, never guess one from the bytes.
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response
