"""The merchant's loans: each with its status, the amount paid out and the repayment schedule.

Only the owner of the loan's merchant sees it; anyone else gets the same 404 as for a loan that does not exist.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import DetailView, ListView

from core.formatting import masked_account
from lending.servicing.models import Disbursement, Instalment, Loan
from lending.servicing.selectors.loans import loan_paid_out, loan_with_schedule, loans_list
from lending.servicing.selectors.overview import Prepayment, deferrals_pending, loan_cards, loan_prepayments
from lending.servicing.services.collections import instalments_deferrable
from merchants.models import Merchant
from merchants.selectors.merchants import merchant_for_owner


class _MerchantOnlyMixin(LoginRequiredMixin):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not Merchant.objects.filter(owner=request.user).exists():
            if request.user.is_staff:
                # Officers see loans in the back office.
                return redirect("admin:lending_loan_changelist")
            raise PermissionDenied(_("This account does not belong to a merchant."))
        return super().dispatch(request, *args, **kwargs)


class LoanListView(_MerchantOnlyMixin, ListView):
    template_name = "lending/loan_list.html"
    context_object_name = "loans"
    paginate_by = 50

    def get_queryset(self):
        return loans_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        merchant = merchant_for_owner(owner=self.request.user)
        context["loan_cards"] = loan_cards(merchant=merchant, on=timezone.localdate()) if merchant else []
        return context


class LoanDetailView(_MerchantOnlyMixin, DetailView):
    template_name = "lending/loan_detail.html"
    context_object_name = "loan"

    def get_object(self, queryset=None) -> Loan:
        loan = loan_with_schedule(user=self.request.user, pk=self.kwargs["pk"])
        if loan is None:
            raise Http404
        return loan

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        loan: Loan = self.object
        instalments = list(loan.instalments.all())
        disbursement = loan_paid_out(loan)
        zero = Decimal("0.00")
        prepayments = loan_prepayments(loan=loan)
        context.update(
            instalments=instalments,
            next_instalment=next((line for line in instalments if line.status != Instalment.Status.PAID), None),
            disbursement=disbursement,
            payout_status=payout_status(disbursement),
            masked_account=masked_account(disbursement.account_number) if disbursement else "",
            total_principal=sum((line.principal_due for line in instalments), zero),
            total_interest=sum((line.interest_due for line in instalments), zero),
            total_fees=sum((line.fee_due for line in instalments), zero),
            total_payments=sum((line.payment_due for line in instalments), zero),
            prepayments=prepayments,
            schedule=_schedule(
                instalments,
                deferrable=instalments_deferrable(loan=loan, on=timezone.localdate()),
                deferrals=deferrals_pending(loan=loan),
                prepayments=prepayments,
            ),
        )
        return context


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    line: Instalment
    is_next: bool  # the first line not paid yet: what the merchant pays next
    deferrable: bool
    deferral_to: date | None  # a deferral asked for and not decided yet: the date asked for
    repaid_early: bool  # the line of a partial prepayment's day
    recomputed: bool  # re-computed by the latest partial prepayment


def _schedule(
    instalments: list[Instalment], *, deferrable: set[int], deferrals: dict[int, date], prepayments: list[Prepayment]
) -> list[ScheduleRow]:
    next_number = next((line.number for line in instalments if line.status != Instalment.Status.PAID), None)
    settled = {prepayment.settled_number for prepayment in prepayments}
    latest = prepayments[-1] if prepayments else None
    return [
        ScheduleRow(
            line=line,
            is_next=line.number == next_number,
            deferrable=line.number in deferrable,
            deferral_to=deferrals.get(line.number),
            repaid_early=line.number in settled,
            recomputed=latest is not None and latest.first_number <= line.number <= latest.last_number,
        )
        for line in instalments
    ]


def payout_status(disbursement: Disbursement | None) -> str:
    """One word for the template: paid, failed (delayed, being looked at), or on its way."""
    if disbursement is None:
        return "preparing"
    if disbursement.status == Disbursement.Status.SUCCEEDED:
        return "paid"
    if disbursement.status == Disbursement.Status.FAILED:
        return "delayed"
    return "sending"


urlpatterns = [
    path("loans/", LoanListView.as_view(), name="loan-list"),
    path("loans/<int:pk>/", LoanDetailView.as_view(), name="loan-detail"),
]
