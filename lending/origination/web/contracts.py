"""The merchant reads its loan contract in the browser, confirms it is them, ticks the consent and signs (web); and,
once the loan is paid out, downloads the final repayment schedule that completes the contract.

Re-authentication: the password typed on the sign page (``signer_password_check``, throttled), or a passkey through
allauth's own WebAuthn re-authentication page, which records the re-authentication in the session and sends the
merchant back here; a re-authentication younger than ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` then counts.
"""

import logging
import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin

from lending.origination.models import ApplicationState, Contract, FinalSchedule, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.contracts import (
    consent_text,
    contract_for_viewer,
    contract_newest,
    contract_pdf_bytes,
    contract_sign,
    signer_password_check,
)
from lending.origination.services.final_schedule import final_schedule_for_owner, final_schedule_pdf_bytes

logger = logging.getLogger(__name__)

# How often the "being prepared" page reloads itself, in seconds.
PREPARING_REFRESH_SECONDS = 3


def recent_reauthentication(request: HttpRequest) -> str | None:
    """ "passkey" or "password" if the user re-authenticated through allauth within its timeout, else None.

    allauth records each (re-)authentication in the session; a passkey (WebAuthn) re-authentication is recorded as
    method "mfa" of type "webauthn". Other methods (an emailed code, an authenticator app) do not count for signing.
    """
    now = time.time()
    for record in reversed(get_authentication_records(request, request.user)):
        if not record.get("reauthenticated"):
            continue
        if now - record.get("at", 0) >= account_settings.REAUTHENTICATION_TIMEOUT:
            return None  # older records are older still
        if record.get("method") == "mfa" and record.get("type") == Authenticator.Type.WEBAUTHN:
            return "passkey"
        if record.get("method") == "password":
            return "password"
    return None


class ContractSignForm(forms.Form):
    document_id = forms.UUIDField(widget=forms.HiddenInput)
    consent = forms.BooleanField(
        required=True, error_messages={"required": gettext_lazy("You must agree to the contract terms")}
    )
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _owned_application(request: HttpRequest, pk: int) -> LoanApplication:
    """The application if it belongs to the signed-in merchant owner; 404 otherwise, never revealing it exists."""
    return get_object_or_404(
        LoanApplication.objects.select_related("merchant", "product"), pk=pk, merchant__owner=request.user
    )


class ContractSignView(LoginRequiredMixin, View):
    template_name = "lending/contract_sign.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = _owned_application(request, pk)
        contract = contract_newest(application=application)
        form = None
        if contract is not None and contract.status == Contract.Status.READY:
            form = ContractSignForm(initial={"document_id": contract.document_id})
        return self._render(application, contract, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = _owned_application(request, pk)
        form = ContractSignForm(request.POST)
        if not form.is_valid():
            return self._render(application, contract_newest(application=application), form)
        contract = Contract.objects.filter(
            application=application, document_id=form.cleaned_data["document_id"]
        ).first()
        if contract is None:
            raise Http404

        method = recent_reauthentication(request)
        if method is None:
            try:
                signer_password_check(user=request.user, password=form.cleaned_data["password"])
            except ValidationError as exc:
                form.add_error(None, exc)
                return self._render(application, contract, form)
            method = "password"

        try:
            contract_sign(
                contract=contract,
                by=request.user,
                ip=get_account_adapter(request).get_client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
                consent=form.cleaned_data["consent"],
                reauthenticated_with=method,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self._render(application, contract, form)
        except ApplicationConflict as exc:
            messages.error(request, exc.message)
            return redirect("lending:contract-sign", pk=application.pk)
        # Only what was done: what follows (paid out at once, or a second officer's check first) is decided by the
        # funding task, and the application's page says where it stands.
        messages.success(request, _("You have signed your loan contract."))
        # The application's page shows what happens next: the payout, then the loan and its first due date.
        return redirect("lending:application-detail", pk=application.pk)

    def _render(self, application: LoanApplication, contract: Contract | None, form) -> HttpResponse:
        request = self.request
        if contract is None:
            # A task makes the contract a moment after the offer is accepted; before that there is nothing to show.
            if application.state != ApplicationState.ACCEPTED:
                raise Http404
            preparing = True
        else:
            preparing = contract.status == Contract.Status.RENDERING
        sign_url = reverse("lending:contract-sign", kwargs={"pk": application.pk})
        has_passkey = Authenticator.objects.filter(user=request.user, type=Authenticator.Type.WEBAUTHN).exists()
        context = {
            "application": application,
            "contract": contract,
            "form": form,
            "preparing": preparing,
            "refresh_seconds": PREPARING_REFRESH_SECONDS,
            "consent_text": consent_text(),
            "reauthenticated_with": recent_reauthentication(request),
            "passkey_url": (
                f"{reverse('mfa_reauthenticate_webauthn')}?{urlencode({'next': sign_url})}" if has_passkey else ""
            ),
            "pdf_url": reverse("lending:contract-pdf", kwargs={"pk": application.pk}),
        }
        return render(request, self.template_name, context)


@method_decorator(xframe_options_sameorigin, name="dispatch")  # the sign page embeds it; other sites may not
class ContractPdfView(LoginRequiredMixin, View):
    """The contract's PDF, shown inline, to its merchant's owner and to staff allowed to view contracts; 404 to
    anyone else. The newest version by default; ``?version=N`` for an earlier one."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = request.GET.get("version", "")
        contract = contract_for_viewer(
            application_id=pk, user=request.user, version=int(version) if version.isdigit() else None
        )
        if contract is None:
            raise Http404
        try:
            pdf = contract_pdf_bytes(contract=contract)
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="contract-{pk}-v{contract.version}.pdf"'
        # Browsers must take the content type we set, never guess one; and no shared cache may keep a contract.
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class FinalSchedulePdfView(LoginRequiredMixin, View):
    """The loan's final repayment schedule as a PDF, to the owner of the loan's merchant only; 404 to anyone else.

    While the PDF is still being rendered (a moment after the payout), a page says so and reloads itself.
    """

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        final_schedule = final_schedule_for_owner(loan_id=pk, user=request.user)
        if final_schedule is None:
            raise Http404
        if final_schedule.status == FinalSchedule.Status.RENDERING:
            context = {"loan_id": pk, "refresh_seconds": PREPARING_REFRESH_SECONDS}
            return render(request, "lending/final_schedule_preparing.html", context)
        try:
            pdf = final_schedule_pdf_bytes(final_schedule=final_schedule)
        except FileNotFoundError as exc:
            raise Http404 from exc
        except ValueError as exc:
            # The stored file is not the one rendered and recorded: never serve it as the merchant's schedule.
            logger.error("Final schedule %s failed its integrity check: %s", final_schedule.pk, exc)
            raise Http404 from exc
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="loan-{pk}-final-schedule.pdf"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


urlpatterns = [
    path("applications/<int:pk>/sign/", ContractSignView.as_view(), name="contract-sign"),
    path("applications/<int:pk>/contract.pdf", ContractPdfView.as_view(), name="contract-pdf"),
    path("loans/<int:pk>/final-schedule.pdf", FinalSchedulePdfView.as_view(), name="loan-final-schedule"),
]
