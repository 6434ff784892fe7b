"""Pay now and the payment history of one loan, for the merchant's owner only (anyone else: 404).

Pay now asks the rail to collect from the settlement account; the payment history shows it pending until the
rail confirms it (then it is a payment) or fails it (and why). Nothing is asked before the merchant has seen, on a
confirmation page, the exact amount and the account it is taken from: the pay form's POST checks the amount and
shows that page; only its "Confirm" (which carries the amount confirmed) asks the rail, and only when the amount is
still the same. The pay form carries a token made when the form is shown, used as the request's reference:
submitting the same form twice (a double click, the back button) asks once.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from core.exceptions import StateConflict
from core.formatting import masked_account, money
from lending.servicing.models import Loan
from lending.servicing.selectors.repayments import (
    collection_open,
    collections_of_loan,
    loan_for_owner,
    payments_of_loan,
)
from lending.servicing.services.collection_requests import collection_request
from lending.servicing.services.repayments import (
    KEEP_INSTALMENT,
    KEEP_TERM,
    PAY_DUE,
    PAY_OFF,
    PAY_OTHER,
    PAY_PREPAY,
    PAYABLE_STATES,
    amount_due_now,
    collectable_amount,
    payoff_quote,
)


class PayForm(forms.Form):
    choice = forms.ChoiceField(
        label=gettext_lazy("What to pay"),
        widget=forms.RadioSelect,
        choices=[
            (PAY_DUE, gettext_lazy("What is due now")),
            (PAY_OTHER, gettext_lazy("Another amount")),
            (PAY_OFF, gettext_lazy("Pay off the loan in full today")),
            (PAY_PREPAY, gettext_lazy("Repay part of the loan early")),
        ],
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (yuan)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    keep = forms.ChoiceField(
        label=gettext_lazy("After repaying early, keep"),
        widget=forms.RadioSelect,
        initial=KEEP_TERM,
        required=False,
        choices=[
            (KEEP_TERM, gettext_lazy("the same term, with a lower instalment")),
            (KEEP_INSTALMENT, gettext_lazy("the same instalment, with a shorter term")),
        ],
    )
    token = forms.UUIDField(widget=forms.HiddenInput)
    # Set by the confirmation page: the amount the merchant saw and confirmed. Without it nothing is asked yet.
    confirmed_amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False, widget=forms.HiddenInput
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("choice") in (PAY_OTHER, PAY_PREPAY) and not cleaned.get("amount"):
            self.add_error("amount", _("Enter the amount you want to pay."))
        return cleaned


class _OwnLoanMixin(LoginRequiredMixin):
    def own_loan(self) -> Loan:
        loan = loan_for_owner(user=self.request.user, pk=self.kwargs["pk"])
        if loan is None:
            raise Http404
        return loan


class RepaymentPayView(_OwnLoanMixin, View):
    template_name = "lending/repayment_pay.html"

    def _render(self, request: HttpRequest, loan: Loan, form: PayForm, status: int = 200) -> HttpResponse:
        today = timezone.localdate()
        payable = loan.state in PAYABLE_STATES
        quote = quote_error = None
        if payable:
            try:
                quote = payoff_quote(loan=loan, on=today)
            except StateConflict as error:
                quote_error = error.message
        context = {
            "loan": loan,
            "form": form,
            "payable": payable,
            "due_now": amount_due_now(loan=loan, on=today) if payable else None,
            "quote": quote,
            "quote_error": quote_error,
            "today": today,
            "pending": collection_open(loan=loan),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = self.own_loan()
        due = amount_due_now(loan=loan, on=timezone.localdate()) if loan.state in PAYABLE_STATES else None
        form = PayForm(initial={"choice": PAY_DUE, "amount": due, "keep": KEEP_TERM, "token": uuid.uuid4()})
        return self._render(request, loan, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = self.own_loan()
        form = PayForm(request.POST)
        if not form.is_valid():
            return self._render(request, loan, form, status=400)
        data = form.cleaned_data
        keep = data.get("keep") or KEEP_TERM
        pending = collection_open(loan=loan)
        if pending is not None and pending.reference != f"web-{data['token']}":
            # One collection at a time: the page says which one is still pending (no confirmation to show). The same
            # form sent again (a double click) goes on, and the service answers it with the request already made.
            return self._render(request, loan, form, status=409)
        try:
            # The amount this asks for, checked against what is owed; nothing is asked yet.
            amount = collectable_amount(
                loan=loan, purpose=data["choice"], amount=data.get("amount"), on=timezone.localdate()
            )
        except ValidationError as error:
            _errors_on_form(form, error)
            return self._render(request, loan, form, status=400)
        except StateConflict as error:
            form.add_error(None, error.message)
            return self._render(request, loan, form, status=409)
        confirmed = data.get("confirmed_amount")
        if confirmed != amount:
            # First the confirmation page; again when what is owed has changed since it was shown.
            return self._confirm(request, loan, data, amount=amount, changed=confirmed is not None)
        try:
            requested = collection_request(
                loan=loan,
                purpose=data["choice"],
                amount=amount,
                keep=keep,
                reference=f"web-{data['token']}",
                by=request.user,
            )
        except ValidationError as error:
            _errors_on_form(form, error)
            return self._render(request, loan, form, status=400)
        except StateConflict as error:
            form.add_error(None, error.message)
            return self._render(request, loan, form, status=409)
        collection = requested.collection
        collection.refresh_from_db()
        if collection.status == collection.Status.CONFIRMED:
            messages.success(
                request, _("We received your payment of %(amount)s. Thank you.") % {"amount": money(collection.amount)}
            )
        elif collection.status == collection.Status.FAILED:
            messages.error(
                request,
                _("Your payment of %(amount)s could not be collected: %(reason)s")
                % {"amount": money(collection.amount), "reason": collection.failure_reason},
            )
        else:
            messages.info(
                request,
                _(
                    "We have asked for %(amount)s from your settlement account. It is pending until the "
                    "platform's settlement confirms it; this page shows when it has."
                )
                % {"amount": money(collection.amount)},
            )
        return redirect("lending:repayment-history", pk=loan.pk)

    def _confirm(self, request: HttpRequest, loan: Loan, data: dict, *, amount: Decimal, changed: bool):
        merchant = loan.merchant
        purpose = data["choice"]
        context = {
            "loan": loan,
            "amount": amount,
            "purpose_label": dict(PayForm.base_fields["choice"].choices)[purpose],
            "keep_label": dict(PayForm.base_fields["keep"].choices)[data.get("keep") or KEEP_TERM]
            if purpose == PAY_PREPAY
            else "",
            "account": masked_account(merchant.settlement_account_number),
            "account_name": merchant.settlement_account_name,
            "bank": merchant.settlement_bank_name,
            "changed": changed,
            "form": PayForm(
                initial={
                    "choice": purpose,
                    "amount": data.get("amount") if purpose != PAY_DUE else None,
                    "keep": data.get("keep") or KEEP_TERM,
                    "token": data["token"],
                    "confirmed_amount": amount,
                }
            ),
        }
        return render(request, "lending/repayment_confirm.html", context)


def _errors_on_form(form: PayForm, error: ValidationError) -> None:
    """The service's messages under the pay form's own fields (its ``purpose`` is the form's ``choice``)."""
    messages_by_field = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    renamed = {"purpose": "choice", "reference": None}
    for field, errors in messages_by_field.items():
        field = renamed.get(field, field)
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


class RepaymentHistoryView(_OwnLoanMixin, View):
    template_name = "lending/repayment_history.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = self.own_loan()
        context = {
            "loan": loan,
            "payments": payments_of_loan(loan=loan),
            "collections": collections_of_loan(loan=loan)[:20],
        }
        return render(request, self.template_name, context)


urlpatterns = [
    path("loans/<int:pk>/pay/", RepaymentPayView.as_view(), name="repayment-pay"),
    path("loans/<int:pk>/payments/", RepaymentHistoryView.as_view(), name="repayment-history"),
]
