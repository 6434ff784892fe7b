"""The merchant's side of a restructure: see the proposed schedule beside the current one, accept or decline.

For the owner of the loan's merchant only: anyone else gets the same 404 as for a proposal that does not exist.
The view holds no rule: ``lending.servicing.services.restructure`` decides and refuses.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views import View

from core.exceptions import StateConflict
from lending.servicing.models import RestructureProposal
from lending.servicing.selectors.loans import schedule_rows
from lending.servicing.selectors.repayments import loan_for_owner
from lending.servicing.services.restructure import restructure_accept, restructure_decline

ACCEPT, DECLINE = "accept", "decline"


class RestructureProposalView(LoginRequiredMixin, View):
    template_name = "lending/restructure_proposal.html"

    def _proposal(self) -> RestructureProposal:
        loan = loan_for_owner(user=self.request.user, pk=self.kwargs["pk"])
        # A proposal no second officer has approved (yet) is not the merchant's to see: the same 404.
        proposals = (
            None
            if loan is None
            else loan.restructure_proposals.filter(status__in=RestructureProposal.SHOWN_TO_MERCHANT)
        )
        proposal = None if proposals is None else proposals.filter(pk=self.kwargs["proposal_pk"]).first()
        if proposal is None:
            raise Http404
        return proposal

    def _render(self, request: HttpRequest, proposal: RestructureProposal, error: str = "", status: int = 200):
        context = {
            "loan": proposal.loan,
            "proposal": proposal,
            "old_schedule": schedule_rows(proposal.loan.instalments.order_by("number")),
            "new_schedule": proposal.schedule,
            "error": error,
            "is_open": proposal.status == RestructureProposal.Status.PROPOSED,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int, proposal_pk: int) -> HttpResponse:
        return self._render(request, self._proposal())

    def post(self, request: HttpRequest, pk: int, proposal_pk: int) -> HttpResponse:
        proposal = self._proposal()
        decision = request.POST.get("decision")
        if decision not in (ACCEPT, DECLINE):
            return self._render(request, proposal, _("Choose to accept or to decline the proposal."), status=400)
        decide = restructure_accept if decision == ACCEPT else restructure_decline
        try:
            decide(proposal=proposal, by=request.user)
        except PermissionDenied:
            raise Http404 from None
        except StateConflict as error:
            proposal.refresh_from_db()
            return self._render(request, proposal, error.message, status=409)
        if decision == ACCEPT:
            messages.success(request, _("The new repayment plan is in place: your schedule below is updated."))
        else:
            messages.success(request, _("You declined the proposal; your schedule stays as it was."))
        return redirect("lending:loan-detail", pk=proposal.loan_id)


urlpatterns = [
    path(
        "loans/<int:pk>/restructure/<int:proposal_pk>/",
        RestructureProposalView.as_view(),
        name="restructure-proposal",
    ),
]
