"""The officers' back office for applications, loans and payouts.

Officers work queues (referred; signed and awaiting a second approval; signed and not yet funded) and decide from
one page per application: the decision snapshot, the merchant's sales, its KYC documents, the contracts and the
audit trail (those parts in ``application_page``, the officers' forms in ``application_forms``). Every button and
action calls a service (``lending.origination.services.applications`` for the decisions,
``lending.origination.services.funding`` for four-eyes, funding and payouts): the admin never changes a state itself,
and the services' refusals (wrong state, maker = checker, missing permission, bad terms) are shown as messages.

The changelists stay fast at millions of rows: related rows are joined (``list_select_related``), the unfiltered
total is not counted (``show_full_result_count = False``) and the paginator estimates the count of an unfiltered
PostgreSQL table from its statistics instead of running COUNT(*) over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import (
    REFUSALS,
    AuditTrailAdminMixin,
    EstimatedCountPaginator,
    ExactSearchAdminMixin,
    ReadOnlyAdminMixin,
    refusal_message,
)
from core.formatting import amount as amount_grouped
from lending.origination.admin.application_forms import (
    CounterOfferForm,
    DeclineForm,
    RequestDocumentsForm,
    partial_form,
)
from lending.origination.admin.application_page import ApplicationPageMixin
from lending.origination.admin.payouts import retry_payouts
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.selectors.applications import (
    QUEUE_REFERRED,
    QUEUE_SECOND_APPROVAL,
    QUEUE_TO_FUND,
    application_queue_filter,
    applications_in_queue,
)
from lending.origination.services import applications as application_services
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.funding import (
    FUND_PERMISSION,
    RETRY_PAYOUT_PERMISSION,
    SECOND_APPROVE_PERMISSION,
    application_fund,
    application_second_approve,
)
from lending.servicing.models import Disbursement, Loan
from lending.servicing.selectors.loans import loan_paid_out

DECIDE_PERMISSION = "lending.decide_application"
S = ApplicationState


# Queues.


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [
            (QUEUE_REFERRED, _("Referred: to decide")),
            (QUEUE_SECOND_APPROVAL, _("Awaiting a second approval")),
            (QUEUE_TO_FUND, _("Signed, not yet funded")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        condition = application_queue_filter(self.value() or "")
        return queryset.filter(condition) if condition is not None else queryset


# Applications.


@admin.register(LoanApplication)
class LoanApplicationAdmin(
    ApplicationPageMixin, ExactSearchAdminMixin, AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "id",
        "merchant",
        "product",
        "amount",
        "offered",
        "state_badge",
        "offered_by",
        "second_approver",
        "created_at",
    ]
    list_display_links = ["id", "merchant"]
    list_filter = [QueueFilter, "state", "product", "is_counter_offer"]
    list_select_related = ["merchant", "product", "offered_by", "second_approver"]
    search_fields = ["=id", "=merchant__credit_code", "=merchant__legal_name"]
    raw_id_fields = ["merchant", "product", "decision", "offered_by", "second_approver"]
    show_full_result_count = False
    # Facet counts are one COUNT per filter choice over the whole table: never at this size.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    ordering = ["-created_at", "-id"]
    actions = [
        "approve_selected",
        "decline_selected",
        "request_documents_selected",
        "second_approve_selected",
        "fund_selected",
    ]
    readonly_fields = [
        "state_badge",
        "offered",
        "decline_reasons_list",
        "decision_summary",
        "decision_features",
        "decision_rules",
        "decision_points",
        "sales_history",
        "kyc_documents",
        "contracts_list",
        "loan_link",
        "concessions_list",
        "audit_trail_table",
    ]
    fieldsets = [
        (
            _("Application"),
            {
                "fields": [
                    "merchant",
                    "product",
                    ("amount", "term", "repayment_method", "average_daily_sales"),
                    "state_badge",
                    ("created_at", "submitted_at", "decided_at"),
                ]
            },
        ),
        (
            _("Offer"),
            {
                "fields": [
                    "offered",
                    ("offer_grade", "offer_price", "offer_apr"),
                    "offer_expires_at",
                    ("offered_by", "is_counter_offer"),
                    "second_approver",
                    "concessions_list",
                    "documents_requested",
                    "decline_reasons_list",
                    ("accepted_at", "signed_at", "funded_at", "closed_at"),
                ]
            },
        ),
        (
            _("Decision"),
            {"fields": ["decision", "decision_summary", "decision_rules", "decision_points", "decision_features"]},
        ),
        (_("Merchant"), {"fields": ["sales_history", "kyc_documents"]}),
        (_("Contracts and loan"), {"fields": ["contracts_list", "loan_link"]}),
        (_("History"), {"fields": ["audit_trail_table"]}),
    ]

    # The list.

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, application: LoanApplication) -> str:
        return format_html(
            '<span class="status status-{}">{}</span>', application.state, application.get_state_display()
        )

    @admin.display(description=_("offer"))
    def offered(self, application: LoanApplication) -> str:
        if application.offer_amount is None:
            return "—"
        term = f" · {application.offer_term}" if application.offer_term else ""
        apr = f" · APR {application.offer_apr:.2f} %" if application.offer_apr is not None else ""
        return f"{amount_grouped(application.offer_amount)}{term}{apr}"

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # One indexed COUNT per queue, whatever the table's size: the links atop the list say what waits.
        changelist = reverse("admin:lending_loanapplication_changelist")
        queues = [
            (QUEUE_REFERRED, gettext("Referred")),
            (QUEUE_SECOND_APPROVAL, gettext("Awaiting second approval")),
            (QUEUE_TO_FUND, gettext("Signed, not funded")),
        ]
        extra_context = {
            **(extra_context or {}),
            "queues": [
                (f"{changelist}?queue={queue}", label, applications_in_queue(queue=queue).count())
                for queue, label in queues
            ],
        }
        return super().changelist_view(request, extra_context)

    def audit_related(self, application: LoanApplication) -> list:
        loan = Loan.objects.filter(application=application).first()
        if loan is None:
            return []
        disbursement = loan_paid_out(loan)
        return [loan] if disbursement is None else [loan, disbursement]

    # Who may do what (``allowed_permissions`` of the actions, and the buttons).

    def has_decide_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    def has_second_approve_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(SECOND_APPROVE_PERMISSION)

    def has_fund_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(FUND_PERMISSION)

    # Actions: each calls the service for every selected application and reports each refusal.

    def _apply(
        self,
        request: HttpRequest,
        applications: Iterable[LoanApplication],
        call: Callable[[LoanApplication], object],
        *,
        done: str,
    ) -> int:
        count = 0
        for application in applications:
            try:
                call(application)
            except REFUSALS as exc:
                self.message_user(
                    request, f"#{application.pk} {application.merchant}: {refusal_message(exc)}", messages.ERROR
                )
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)
        return count

    @admin.action(description=_("Approve on the terms asked"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[LoanApplication]) -> None:
        self._apply(
            request,
            queryset,
            lambda application: application_services.application_approve(application=application, by=request.user),
            done=gettext("%(count)d application(s) approved."),
        )

    @admin.action(description=_("Decline…"), permissions=["decide"])
    def decline_selected(self, request: HttpRequest, queryset: QuerySet[LoanApplication]) -> HttpResponse | None:
        return self._form_action(
            request,
            list(queryset),
            DeclineForm,
            action="decline_selected",
            title=gettext("Decline applications"),
            submit=gettext("Decline"),
            call=lambda application, data: application_services.application_decline(
                application=application, by=request.user, reason=data["reason"]
            ),
            done=gettext("%(count)d application(s) declined."),
        )

    @admin.action(description=_("Ask for documents…"), permissions=["decide"])
    def request_documents_selected(
        self, request: HttpRequest, queryset: QuerySet[LoanApplication]
    ) -> HttpResponse | None:
        return self._form_action(
            request,
            list(queryset),
            RequestDocumentsForm,
            action="request_documents_selected",
            title=gettext("Ask for documents"),
            submit=gettext("Send the request"),
            call=lambda application, data: application_services.application_request_documents(
                application=application, by=request.user, message=data["message"]
            ),
            done=gettext("Documents requested for %(count)d application(s)."),
        )

    @admin.action(description=_("Give the second approval (and fund)…"), permissions=["second_approve"])
    def second_approve_selected(self, request: HttpRequest, queryset: QuerySet[LoanApplication]) -> HttpResponse | None:
        # The service refuses the officer who approved an application; a bulk action cannot get around it.
        applications = list(queryset)
        note = confirmed_note(
            self,
            request,
            applications,
            action="second_approve_selected",
            title=gettext("Give the second approval"),
            what=gettext("Each loan below is made and paid out to the merchant's settlement account."),
            submit_label=gettext("Approve and pay out"),
        )
        if not isinstance(note, str):
            return note
        self._apply(
            request,
            applications,
            lambda application: application_second_approve(application=application, by=request.user, note=note),
            done=gettext("Second approval given and loan made for %(count)d application(s)."),
        )
        return None

    @admin.action(description=_("Fund signed applications"), permissions=["fund"])
    def fund_selected(self, request: HttpRequest, queryset: QuerySet[LoanApplication]) -> None:
        funded = waiting = 0
        for application in queryset:
            try:
                loan = application_fund(application=application, by=request.user)
            except REFUSALS as exc:
                self.message_user(
                    request, f"#{application.pk} {application.merchant}: {refusal_message(exc)}", messages.ERROR
                )
                continue
            if loan is None:
                waiting += 1
            else:
                funded += 1
        if funded:
            self.message_user(
                request, gettext("%(count)d loan(s) made; the payouts are on their way.") % {"count": funded}
            )
        if waiting:
            self.message_user(
                request,
                gettext("%(count)d application(s) need a second approval by a senior officer before funding.")
                % {"count": waiting},
                messages.WARNING,
            )

    def _form_action(
        self,
        request: HttpRequest,
        applications: list[LoanApplication],
        form_class: type[forms.Form],
        *,
        action: str,
        title: str,
        submit: str,
        call: Callable[[LoanApplication, dict], object],
        done: str,
    ) -> HttpResponse | None:
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._apply(request, applications, lambda application: call(application, form.cleaned_data), done=done)
            return None
        return self._form_page(request, applications, form, title=title, submit=submit, action=action, cancel_url=None)

    def _form_page(
        self,
        request: HttpRequest,
        applications: list[LoanApplication],
        form: forms.Form,
        *,
        title: str,
        submit: str,
        action: str | None,
        cancel_url: str | None,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "submit_label": submit,
            "opts": self.model._meta,
            "applications": applications,
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "cancel_url": cancel_url or reverse("admin:lending_loanapplication_changelist"),
        }
        return TemplateResponse(request, "admin/lending/loanapplication/officer_form.html", context)

    # Buttons on one application's page.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = "lending_loanapplication"
        return [
            path("<int:pk>/approve/", wrap(self.approve_view), name=f"{name}_approve"),
            path("<int:pk>/counter-offer/", wrap(self.counter_offer_view), name=f"{name}_counter_offer"),
            path("<int:pk>/decline/", wrap(self.decline_view), name=f"{name}_decline"),
            path("<int:pk>/request-documents/", wrap(self.request_documents_view), name=f"{name}_request_documents"),
            path("<int:pk>/second-approve/", wrap(self.second_approve_view), name=f"{name}_second_approve"),
            path("<int:pk>/fund/", wrap(self.fund_view), name=f"{name}_fund"),
            path("<int:pk>/retry-payout/", wrap(self.retry_payout_view), name=f"{name}_retry_payout"),
            path(
                "<int:pk>/contracts/<int:contract_pk>/pdf/",
                wrap(self.contract_pdf_view),
                name=f"{name}_contract_pdf",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        application = self.get_object(request, object_id)
        disbursement = None
        if application is not None and application.state == S.FUNDED:
            loan = Loan.objects.filter(application=application).select_related("disbursement").first()
            disbursement = loan_paid_out(loan) if loan else None
        extra_context = {
            **(extra_context or {}),
            "can_decide": self.has_decide_permission(request),
            "can_second_approve": self.has_second_approve_permission(request),
            "can_fund": self.has_fund_permission(request),
            "can_retry_payout": request.user.has_perm(RETRY_PAYOUT_PERMISSION),
            "payout_failed": disbursement is not None and disbursement.status == Disbursement.Status.FAILED,
            "states": {state.name: state.value for state in S},
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _application(self, request: HttpRequest, pk: int, permission: Callable[[HttpRequest], bool]):
        if not permission(request):
            raise PermissionDenied
        return get_object_or_404(LoanApplication.objects.select_related("merchant", "product", "decision"), pk=pk)

    def _back(self, application: LoanApplication) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:lending_loanapplication_change", args=[application.pk]))

    def _post_only(self, request: HttpRequest, pk: int) -> HttpResponseRedirect | None:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:lending_loanapplication_change", args=[pk]))
        return None

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_decide_permission)
        if (redirect := self._post_only(request, pk)) is not None:
            return redirect
        self.approve_selected(request, [application])
        return self._back(application)

    def second_approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_second_approve_permission)
        if (redirect := self._post_only(request, pk)) is not None:
            return redirect
        page = self.second_approve_selected(request, [application])
        return page or self._back(application)

    def fund_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_fund_permission)
        if (redirect := self._post_only(request, pk)) is not None:
            return redirect
        self.fund_selected(request, [application])
        return self._back(application)

    def retry_payout_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, lambda r: r.user.has_perm(RETRY_PAYOUT_PERMISSION))
        if (redirect := self._post_only(request, pk)) is not None:
            return redirect
        disbursement = Disbursement.objects.filter(loan__application=application).first()
        if disbursement is None:
            self.message_user(request, gettext("This application has no payout yet."), messages.ERROR)
        else:
            retry_payouts(self, request, [disbursement])
        return self._back(application)

    def decline_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_decide_permission)
        return self._single_form(
            request,
            application,
            DeclineForm,
            title=gettext("Decline application #%(id)s") % {"id": application.pk},
            submit=gettext("Decline"),
            call=lambda data: application_services.application_decline(
                application=application, by=request.user, reason=data["reason"]
            ),
            done=gettext("Application declined; the merchant has been told why."),
        )

    def request_documents_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_decide_permission)
        return self._single_form(
            request,
            application,
            RequestDocumentsForm,
            title=gettext("Ask for documents for application #%(id)s") % {"id": application.pk},
            submit=gettext("Send the request"),
            call=lambda data: application_services.application_request_documents(
                application=application, by=request.user, message=data["message"]
            ),
            done=gettext("The merchant has been asked for the documents."),
        )

    def counter_offer_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = self._application(request, pk, self.has_decide_permission)
        return self._single_form(
            request,
            application,
            partial_form(CounterOfferForm, application=application),
            title=gettext("Counter-offer for application #%(id)s") % {"id": application.pk},
            submit=gettext("Make the counter-offer"),
            call=lambda data: application_services.application_counter_offer(
                application=application,
                by=request.user,
                amount=data["amount"],
                term=data["term"] or None,
                price=data["price"],
                repayment_method=data["repayment_method"] or None,
                note=data["note"],
            ),
            done=lambda result: (
                gettext("Counter-offer made; the merchant can now accept it.")
                if result.state == S.APPROVED
                else gettext(
                    "The price is below the grid: the counter-offer awaits a second officer's approval, and the "
                    "merchant sees nothing until then."
                )
            ),
        )

    def _single_form(
        self,
        request: HttpRequest,
        application: LoanApplication,
        form_class,
        *,
        title: str,
        submit: str,
        call: Callable[[dict], object],
        done: str | Callable[[object], str],
    ) -> HttpResponse:
        """``done``: the success message, or a function of what ``call`` returned that says it."""
        form = form_class(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                result = call(form.cleaned_data)
            except ValidationError as exc:
                # Field errors go next to their field; the rest above the form.
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            except (ApplicationConflict, PermissionDenied) as exc:
                self.message_user(request, refusal_message(exc), messages.ERROR)
                return self._back(application)
            else:
                self.message_user(request, done(result) if callable(done) else done, messages.SUCCESS)
                return self._back(application)
        return self._form_page(
            request,
            [application],
            form,
            title=title,
            submit=submit,
            action=None,
            cancel_url=reverse("admin:lending_loanapplication_change", args=[application.pk]),
        )

    def contract_pdf_view(self, request: HttpRequest, pk: int, contract_pk: int) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        contract = get_object_or_404(Contract, pk=contract_pk, application_id=pk)
        if not contract.pdf:
            raise Http404
        try:
            stored = contract.pdf.open("rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = FileResponse(
            stored, content_type="application/pdf", filename=f"contract-{pk}-v{contract.version}.pdf"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
