"""The merchant's flexible-repayment request (defer one instalment) and the loan statement as a PDF.

Both for the owner of the loan's merchant only: anyone else gets the same 404 as for a loan that does not exist.
The statement is rendered on request (a read, no database write) in Chinese with English beside, like the contract.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from core.exceptions import StateConflict
from core.formatting import amount as amount_grouped
from core.pdf import DOCUMENT_LANGUAGE, FONT_FAMILY, html_to_pdf
from lending.servicing.models import Instalment, Loan
from lending.servicing.selectors.daily import loan_amount_owed
from lending.servicing.selectors.repayments import loan_for_owner, payments_of_loan
from lending.servicing.services.collections import deferral_refusal, deferral_request, deferral_rule, deferral_window

STATEMENT_TEMPLATE = "lending/statement.html"
ZERO = Decimal("0.00")


class _OwnLoanMixin(LoginRequiredMixin):
    def own_loan(self) -> Loan:
        loan = loan_for_owner(user=self.request.user, pk=self.kwargs["pk"])
        if loan is None:
            raise Http404
        return loan


# Deferral.


class DeferralForm(forms.Form):
    new_due_date = forms.DateField(
        label=gettext_lazy("New due date"), widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"]
    )
    reason = forms.CharField(
        label=gettext_lazy("Why you need more time"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )


class DeferralRequestView(_OwnLoanMixin, View):
    template_name = "lending/deferral_request.html"

    def _instalment(self, loan: Loan) -> Instalment:
        instalment = loan.instalments.filter(number=self.kwargs["number"]).first()
        if instalment is None:
            raise Http404
        return instalment

    def _render(self, request, loan, instalment, form, status=200) -> HttpResponse:
        refusal = deferral_refusal(loan=loan, instalment=instalment, on=timezone.localdate())
        window = deferral_window(instalment=instalment)
        context = {
            "loan": loan,
            "instalment": instalment,
            "form": form,
            "refusal": refusal,
            "window": window,
            "rule": deferral_rule(loan=loan),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int, number: int) -> HttpResponse:
        loan = self.own_loan()
        instalment = self._instalment(loan)
        return self._render(request, loan, instalment, DeferralForm())

    def post(self, request: HttpRequest, pk: int, number: int) -> HttpResponse:
        loan = self.own_loan()
        instalment = self._instalment(loan)
        form = DeferralForm(request.POST)
        if not form.is_valid():
            return self._render(request, loan, instalment, form, status=400)
        try:
            deferral_request(
                loan=loan,
                instalment=instalment,
                new_due_date=form.cleaned_data["new_due_date"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            for field, errors in (
                error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
            ).items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
            return self._render(request, loan, instalment, form, status=400)
        except PermissionDenied:
            raise Http404 from None
        except StateConflict as error:
            form.add_error(None, error.message)
            return self._render(request, loan, instalment, form, status=409)
        messages.success(
            request,
            _("Your request to defer instalment %(number)s was sent. An officer will decide, and we will tell you.")
            % {"number": instalment.number},
        )
        return redirect("lending:loan-detail", pk=loan.pk)


# Statement.


def _line(row: Instalment, on: date) -> dict:
    due = row.principal_due + row.interest_due + row.fee_due + row.penalty_due
    paid = row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
    outstanding = due - paid
    overdue = outstanding if outstanding > 0 and row.due_date < on else ZERO
    return {
        "number": row.number,
        "due_date": row.due_date.isoformat(),
        "status": row.status,
        "status_display": row.get_status_display(),
        "due": amount_grouped(due),
        "paid": amount_grouped(paid),
        "outstanding": amount_grouped(outstanding),
        "overdue": amount_grouped(overdue),
        "_due": due,
        "_paid": paid,
        "_outstanding": outstanding,
        "_overdue": overdue,
    }


def statement_context(*, loan: Loan, on: date) -> dict:
    """What the statement prints on ``on``: the loan, every schedule line, every payment and where it went."""
    lines = [_line(row, on) for row in loan.instalments.order_by("number")]
    payments = [
        {
            "received_on": payment.received_on.isoformat(),
            "amount": amount_grouped(payment.amount),
            "source_display": payment.get_source_display(),
            "kind_display": payment.get_kind_display(),
            "reference": payment.external_reference,
            "allocations": [
                {
                    "instalment": allocation.instalment.number if allocation.instalment else None,
                    "component_display": allocation.get_component_display(),
                    "amount": amount_grouped(allocation.amount),
                }
                for allocation in payment.allocations.all()
            ],
        }
        for payment in payments_of_loan(loan=loan).order_by("received_on", "id")
    ]
    principal_outstanding = sum(
        (row.owed("principal") for row in loan.instalments.all()),
        ZERO,
    )
    totals = {key: amount_grouped(sum((line[f"_{key}"] for line in lines), ZERO)) for key in ("due", "paid", "overdue")}
    return {
        "loan": loan,
        "on": on.isoformat(),
        "font_family": FONT_FAMILY,
        "lines": lines,
        "payments": payments,
        "totals": totals,
        "principal": amount_grouped(loan.principal),
        "principal_outstanding": amount_grouped(principal_outstanding),
        "credit": amount_grouped(loan.credit_balance),
        "balance": amount_grouped(loan_amount_owed(loan=loan)),
    }


def statement_html(*, loan: Loan, on: date) -> str:
    """Always in Chinese with English beside it, whatever language the merchant browses in."""
    with translation.override(DOCUMENT_LANGUAGE):
        return render_to_string(STATEMENT_TEMPLATE, statement_context(loan=loan, on=on))


class StatementPdfView(_OwnLoanMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = self.own_loan()
        on = timezone.localdate()
        rendered = html_to_pdf(statement_html(loan=loan, on=on))
        response = HttpResponse(rendered.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="loan-{loan.pk}-statement-{on.isoformat()}.pdf"'
        # A statement holds the merchant's figures: no shared cache may keep it.
        response["Cache-Control"] = "private, no-store"
        return response


urlpatterns = [
    path("loans/<int:pk>/defer/<int:number>/", DeferralRequestView.as_view(), name="deferral-request"),
    path("loans/<int:pk>/statement.pdf", StatementPdfView.as_view(), name="loan-statement"),
]
