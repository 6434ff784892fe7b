"""The merchant's application journey in three screens, and the application's own page.

1. ``/loans/apply/``: choose a product (its bounds and indicative APR);
2. ``/loans/apply/<code>/``: amount, term and method, with the quote (``static/js/apply.js`` refreshes it live from
   ``POST /api/v1/quotes/``; without JavaScript the form submits by GET and the server renders the quote);
3. ``/loans/apply/<code>/confirm/``: the summary, schedule and APR; "Submit application" makes and submits the
   application in one POST and the next page shows the decision.

Every page is for a merchant's owner; another merchant's application answers 404, like a missing one.
"""

import datetime
import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from core.formatting import money
from core.i18n import in_current_language
from core.services.notices import notices_mark_read
from lending.catalogue.models import INDICATIVE_GRADE, LoanProduct, RepaymentMethodChoice, TermUnitChoice
from lending.catalogue.selectors.products import product_active_get, products_active
from lending.catalogue.services.products import product_sample_request, quote_for_product
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.selectors.applications import (
    application_for_owner,
    application_in_progress_for_merchant,
    applications_for_merchant,
    applications_in_progress_count,
    loan_for_application,
    merchant_average_daily_sales,
    notices_for_user,
)
from lending.origination.services.applications import (
    ApplicationConflict,
    ApplicationError,
    application_accept,
    application_apply,
    application_withdraw,
    max_open_applications,
)
from lending.origination.web.credit_line import above_line_message
from lending.origination.web.forms import ApplicationConfirmForm, ApplicationTermsForm, ApplicationWithdrawForm
from lending.servicing.selectors.loans import loan_paid_out
from lending.servicing.selectors.overview import CreditLine, merchant_credit_line
from lending.servicing.web.loans import payout_status
from merchants.choices import KycState
from merchants.services.sales import merchant_for_user

S = ApplicationState


class MerchantOwnerMixin(LoginRequiredMixin):
    """The signed-in user's merchant as ``self.merchant``; officers are sent to the back office, others refused."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.merchant = merchant_for_user(user=request.user)
        if self.merchant is None:
            if request.user.is_staff:
                return redirect("admin:index")
            raise PermissionDenied(_("This account does not belong to a merchant."))
        return super().dispatch(request, *args, **kwargs)


class ApplyGateMixin(MerchantOwnerMixin):
    """What may stop a merchant from applying at all: KYC not verified, or an application already in progress."""

    def gate(self) -> dict:
        in_progress = None
        if applications_in_progress_count(merchant=self.merchant) >= max_open_applications():
            in_progress = application_in_progress_for_merchant(merchant=self.merchant)
        verified = self.merchant.kyc_state == KycState.VERIFIED
        return {
            "merchant": self.merchant,
            "is_verified": verified,
            "kyc_state_label": self.merchant.get_kyc_state_display(),
            "in_progress": in_progress,
            "credit_line": self.credit_line() if verified else None,
        }

    def credit_line(self) -> CreditLine:
        """The merchant's line as the dashboard states it (worked out once per request)."""
        if not hasattr(self, "_credit_line"):
            self._credit_line = merchant_credit_line(merchant=self.merchant, on=timezone.localdate())
        return self._credit_line


def _product_or_404(code: str) -> LoanProduct:
    product = product_active_get(code=code)
    if product is None:
        raise Http404(_("No such product on offer."))
    return product


def _quote_or_errors(*, form, merchant, product):
    """The indicative quote for the form's terms, or None with the service's messages put on the form."""
    if not form.is_valid():
        return None
    sales = merchant_average_daily_sales(merchant=merchant) if product.is_sales_share else None
    if product.is_sales_share and sales is None:
        form.add_error(
            None, _("A sales-share advance is repaid from your daily sales, and there are no sales on file yet.")
        )
        return None
    try:
        return quote_for_product(product=product, **form.terms(), average_daily_sales=sales)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None


class ApplyProductView(ApplyGateMixin, TemplateView):
    """Screen 1: the products on offer, each with its bounds and the APR of a typical loan at the standard grade."""

    template_name = "lending/apply_products.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cards = []
        for product in products_active():
            sample = product_sample_request(product)
            try:
                priced = quote_for_product(product=product, **sample)
            except ValidationError:
                priced = None
            cards.append({"product": product, "sample": sample, "quote": priced})
        context.update(self.gate(), cards=cards, indicative_grade=INDICATIVE_GRADE)
        return context


class ApplyTermsView(ApplyGateMixin, TemplateView):
    """Screen 2: amount, term and method, with the quote for them."""

    template_name = "lending/apply_terms.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        product = _product_or_404(self.kwargs["code"])
        asked = any(name in self.request.GET for name in ApplicationTermsForm.base_fields)
        form = ApplicationTermsForm(data=self.request.GET if asked else _opening(product), product=product)
        priced = _quote_or_errors(form=form, merchant=self.merchant, product=product)
        sales = merchant_average_daily_sales(merchant=self.merchant) if product.is_sales_share else None
        gate = self.gate()
        line = gate["credit_line"]
        context.update(
            gate,
            product=product,
            form=form,
            quote=priced,
            above_line=above_line_message(line=line, amount=form.data.get("amount", "")),
            # For the page's script, which says the same as the amount is typed.
            above_line_text=above_line_message(line=line, amount="{amount}"),
            money_pattern=money(0).replace("0.00", "{}"),
            average_daily_sales=sales,
            indicative_grade=INDICATIVE_GRADE,
            term_unit_label=TermUnitChoice(product.term_unit).label,
        )
        return context


def _opening(product: LoanProduct) -> dict:
    sample = product_sample_request(product)
    return {
        "amount": f"{sample['amount']:.2f}",
        "term": "" if sample["term"] is None else str(sample["term"]),
        "repayment_method": sample["repayment_method"],
    }


class ApplyConfirmView(ApplyGateMixin, TemplateView):
    """Screen 3: what will be applied for; the POST makes and submits the application and shows the decision."""

    template_name = "lending/apply_confirm.html"

    def get(self, request, *args, **kwargs):
        product = _product_or_404(kwargs["code"])
        form = ApplicationTermsForm(data=request.GET, product=product)
        priced = _quote_or_errors(form=form, merchant=self.merchant, product=product)
        if priced is None:
            # Back to screen 2, where the same terms show each problem under its field.
            return HttpResponseRedirect(
                f"{reverse('lending:apply-terms', args=[product.code])}?{urlencode(request.GET)}"
            )
        # The terms as the quote read them (the standard method filled in), so screen 3 shows what is submitted; and
        # a new token for each rendering of it: the POSTs it makes (a double click, a resubmitted page) name one
        # application.
        resolved = {**form.as_query(), "amount": f"{priced.amount:.2f}", "repayment_method": priced.method.value}
        confirm = ApplicationConfirmForm(initial={**resolved, "token": uuid.uuid4()}, product=product)
        return self.render_to_response(self._context(product=product, form=confirm, quote=priced, terms=form))

    def post(self, request, *args, **kwargs):
        product = _product_or_404(kwargs["code"])
        form = ApplicationConfirmForm(data=request.POST, product=product)
        if form.is_valid():
            try:
                application = application_apply(
                    merchant=self.merchant,
                    product=product,
                    by=request.user,
                    submission_token=form.cleaned_data["token"],
                    **form.terms(),
                )
            except ApplicationError as exc:
                _add_errors(form, exc)
            except ApplicationConflict as exc:
                # Another request moved things on meanwhile (a second tab); the list shows where they stand.
                messages.error(request, exc.message)
                return redirect("lending:application-list")
            else:
                return redirect("lending:application-detail", pk=application.pk)
        elif "token" in form.errors:
            # A tampered or missing token: a fresh screen 3 gives a new one.
            messages.error(request, _("This page was out of date; check the terms and submit again."))
            terms = {name: request.POST.get(name, "") for name in ("amount", "term", "repayment_method")}
            return redirect(f"{reverse('lending:apply-confirm', args=[product.code])}?{urlencode(terms)}")
        terms = ApplicationTermsForm(data=request.POST, product=product)
        priced = _quote_or_errors(form=terms, merchant=self.merchant, product=product)
        return self.render_to_response(self._context(product=product, form=form, quote=priced, terms=terms))

    def _context(self, *, product, form, quote, terms: ApplicationTermsForm) -> dict:
        query = terms.as_query() if terms.is_valid() else {}
        gate = self.gate()
        return {
            **gate,
            "above_line": above_line_message(line=gate["credit_line"], amount=quote.amount) if quote else "",
            "view": self,
            "product": product,
            "form": form,
            "quote": quote,
            "terms": query,
            "back_url": f"{reverse('lending:apply-terms', args=[product.code])}?{urlencode(query)}",
            "term_unit_label": TermUnitChoice(product.term_unit).label,
            "method_label": RepaymentMethodChoice(quote.method.value).label if quote else "",
            "indicative_grade": INDICATIVE_GRADE,
        }


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            # The fields are hidden on this screen: every message is shown at the top, with its field's label.
            label = form.fields[field].label if field in form.fields else None
            for error in errors:
                form.add_error(None, f"{label}: {error}" if label else error)
    else:
        form.add_error(None, exc.messages)


class ApplicationListView(MerchantOwnerMixin, TemplateView):
    template_name = "lending/application_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["applications"] = applications_for_merchant(merchant=self.merchant)[:100]
        return context


def _localised(reasons: list[dict]) -> list[dict]:
    chinese = (translation.get_language() or "").startswith("zh")
    return [
        {**reason, "message": (reason.get("message_zh") if chinese else None) or reason.get("message_en", "")}
        for reason in reasons or []
    ]


class ApplicationDetailView(MerchantOwnerMixin, TemplateView):
    """The application's page: the decision and what the merchant can do next, whatever its state."""

    template_name = "lending/application_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = _owned_or_404(self.request.user, self.kwargs["pk"])
        reasons = _localised(application.decline_reasons)
        decision = application.decision
        loan, first_due = loan_for_application(application=application)
        disbursement = loan_paid_out(loan) if loan is not None else None
        context.update(
            application=application,
            S=S,
            offer=application.offer_quote or None,
            offer_lines=_schedule_lines(application.offer_quote),
            offer_open=application.state == S.APPROVED
            and application.offer_expires_at is not None
            and application.offer_expires_at > timezone.now(),
            reasons=[reason for reason in reasons if reason.get("kind") != "hint"],
            hints=[reason for reason in reasons if reason.get("kind") == "hint"],
            # Fraud signals stay with the officers: telling a fraudster which signal fired teaches it to hide.
            referral_reasons=_localised([r for r in decision.reasons if r.get("kind") != "fraud"])
            if decision and application.state == S.REFERRED
            else [],
            can_withdraw=application.state in (S.DRAFT, S.SUBMITTED, S.APPROVED, S.ACCEPTED),
            withdraw_form=ApplicationWithdrawForm(),
            loan=loan,
            first_due_date=first_due,
            payout_status=payout_status(disbursement),
            disbursement=disbursement,
            term_unit_label=TermUnitChoice(application.product.term_unit).label,
            **_decision_line(application),
        )
        return context


def _decision_line(application: LoanApplication) -> dict:
    """The decision's credit line beside the line the dashboard states, and why they differ, if they do."""
    decision = application.decision
    if decision is None or application.state not in (S.APPROVED, S.REFERRED, S.DECLINED):
        return {"decision_line": None}
    line = merchant_credit_line(merchant=application.merchant, on=timezone.localdate(), explain=False)
    snapshot = decision.snapshot or {}
    return {
        "decision_line": decision.credit_line,
        "line_available": line.available,
        "line_multiple": (snapshot.get("request") or {}).get("line_multiple", ""),
        "line_capped_by_product": (snapshot.get("credit_line") or {}).get("binding") == "product",
    }


def _schedule_lines(stored_quote: dict | None) -> list[dict]:
    """A stored schedule (strings, as ``Quote.as_dict`` keeps it) as dates and Decimals for the page to format."""
    lines = []
    for line in (stored_quote or {}).get("schedule", []):
        row = {name: Decimal(line[name]) for name in ("principal", "interest", "fee", "payment", "balance")}
        lines.append({**row, "number": line["number"], "due_date": datetime.date.fromisoformat(line["due_date"])})
    return lines


def _owned_or_404(user, pk) -> LoanApplication:
    application = application_for_owner(user=user, pk=pk)
    if application is None:
        raise Http404(_("No such application."))
    return application


class ApplicationAcceptView(MerchantOwnerMixin, View):
    def post(self, request, pk: int):
        application = _owned_or_404(request.user, pk)
        try:
            application_accept(application=application, by=request.user)
        except ApplicationConflict as exc:
            messages.error(request, exc.message)
        else:
            # Only what was done: the contract is prepared by a task that may run before or after the next page
            # loads, and that page says where it stands (being prepared, or ready to sign), so nothing contradicts it.
            messages.success(request, _("Offer accepted."))
        return redirect("lending:application-detail", pk=application.pk)


class ApplicationWithdrawView(MerchantOwnerMixin, View):
    def post(self, request, pk: int):
        application = _owned_or_404(request.user, pk)
        form = ApplicationWithdrawForm(data=request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        try:
            application_withdraw(application=application, by=request.user, reason=reason)
        except ApplicationConflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Application #%(id)s is withdrawn.") % {"id": application.pk})
        return redirect("lending:application-detail", pk=application.pk)


class NoticeListView(LoginRequiredMixin, TemplateView):
    """The portal's inbox: every notice of the signed-in user, newest first; opening it marks them read."""

    template_name = "lending/notices.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        notices = list(notices_for_user(user=self.request.user)[:100])
        # Each notice is stored as it was written; it is read in the language the reader has now.
        context["notices"] = [
            {"notice": notice, "title": in_current_language(notice.title), "body": in_current_language(notice.body)}
            for notice in notices
        ]
        return context

    def post(self, request):
        notices_mark_read(user=request.user)
        return redirect("lending:notices")


urlpatterns = [
    path("apply/", ApplyProductView.as_view(), name="apply"),
    path("apply/<slug:code>/", ApplyTermsView.as_view(), name="apply-terms"),
    path("apply/<slug:code>/confirm/", ApplyConfirmView.as_view(), name="apply-confirm"),
    path("applications/", ApplicationListView.as_view(), name="application-list"),
    path("applications/<int:pk>/", ApplicationDetailView.as_view(), name="application-detail"),
    path("applications/<int:pk>/accept/", ApplicationAcceptView.as_view(), name="application-accept"),
    path("applications/<int:pk>/withdraw/", ApplicationWithdrawView.as_view(), name="application-withdraw"),
    path("notices/", NoticeListView.as_view(), name="notices"),
]
