"""The officers' collections work in the back office: the queue by days past due, each loan's collections page
(contact history, record a contact, ask for a defaulted loan's write-off, record a recovery on a written-off one),
the portfolio's figures (outstanding, written off, recovered, loss), and the deferral requests to decide. A
write-off takes effect only when a second officer approves it, in the concessions queue (``Concession`` admin).

No proxy model (that would need a migration): the queue is Django's own changelist, run by a ``ModelAdmin`` for
``Loan`` that is not registered on the site, behind the URLs of ``collections_urls()``; ``config/urls.py`` mounts
them under ``admin/lending/collections/``, ahead of the admin's own URLs. The registered ``DeferralRequestAdmin``
decides requests with actions. Every change goes through ``lending.servicing.services.collections``; the services'
refusals (wrong state, missing permission, bad input) are shown as messages or form errors, never a server error.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import ReadOnlyAdminMixin
from core.exceptions import StateConflict
from lending.servicing.models import CollectionContact, Concession, DeferralRequest, Instalment, Loan, LoanState
from lending.servicing.selectors.daily import DPD_BUCKETS, IN_ARREARS, loans_by_dpd_bucket, loans_in_dpd_bucket
from lending.servicing.selectors.portfolio import loan_write_off_figures, portfolio_figures, portfolio_loss_by_cause
from lending.servicing.services.collections import (
    CLOSE_PERMISSION,
    CONTACT_PERMISSION,
    DECIDE_DEFERRAL_PERMISSION,
    collection_contact_record,
    deferral_approve,
    deferral_refuse,
    loan_recovery_record,
    loan_write_off_request,
    write_off_amounts,
)

VIEW_PERMISSION = "lending.view_loan"
QUEUE_URL = "lending_collections"
LOAN_URL = "lending_collections_loan"
REFUSALS = (ValidationError, StateConflict, PermissionDenied)
MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Decimal("0.00")


# The queue.


def _with_figures(loans: QuerySet[Loan]) -> QuerySet[Loan]:
    """``loans`` with what is overdue (past due dates, late fees included) and the last contact's time.

    Both figures are correlated subqueries, so they cannot multiply rows as two joined aggregates would; they are
    computed only for the page of loans shown.
    """
    today = timezone.localdate()
    overdue = (
        Instalment.objects.filter(loan=OuterRef("pk"), due_date__lt=today)
        .values("loan")
        .annotate(
            owed=Sum(
                F("principal_due")
                + F("interest_due")
                + F("fee_due")
                + F("penalty_due")
                - F("principal_paid")
                - F("interest_paid")
                - F("fee_paid")
                - F("penalty_paid"),
                output_field=MONEY,
            )
        )
        .values("owed")
    )
    last_contact = (
        CollectionContact.objects.filter(loan=OuterRef("pk")).order_by("-contacted_at").values("contacted_at")[:1]
    )
    return loans.annotate(
        amount_overdue=Coalesce(Subquery(overdue, output_field=MONEY), ZERO, output_field=MONEY),
        last_contact_at=Subquery(last_contact),
    )


class DpdBucketFilter(admin.SimpleListFilter):
    title = _("days past due")
    parameter_name = "bucket"

    def lookups(self, request, model_admin):
        counts = loans_by_dpd_bucket()
        return [(key, f"{key} ({counts[key]['count']})") for key, _first, _last in DPD_BUCKETS]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(pk__in=loans_in_dpd_bucket(bucket=self.value()).values("pk"))


class _QueueChangeList(ChangeList):
    def url_for_result(self, result: Loan) -> str:
        return reverse(LOAN_URL, args=[result.pk])


class CollectionsQueueAdmin(admin.ModelAdmin):
    """The changelist of the queue; instantiated by ``collections_urls``, never registered on the site."""

    list_display = ["id", "merchant", "state", "days_past_due", "amount_overdue_display", "last_contact_display"]
    list_display_links = ["id", "merchant"]
    list_filter = [DpdBucketFilter, "state"]
    list_select_related = ["merchant"]
    search_fields = ["=id", "=merchant__credit_code", "merchant__legal_name"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ["-days_past_due", "id"]
    actions = None
    list_per_page = 50
    change_list_template = "admin/lending/collections_queue.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Loan]:
        # Loans in arrears: days past due is indexed with the state.
        return _with_figures(Loan.objects.filter(state__in=IN_ARREARS, days_past_due__gt=0)).select_related("merchant")

    def get_changelist(self, request: HttpRequest, **kwargs):
        return _QueueChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("amount overdue"), ordering="amount_overdue")
    def amount_overdue_display(self, loan: Loan) -> str:
        return f"{loan.amount_overdue:,.2f}"

    @admin.display(description=_("last contact"), ordering="last_contact_at")
    def last_contact_display(self, loan: Loan) -> str:
        if loan.last_contact_at is None:
            return gettext("never")
        return timezone.localtime(loan.last_contact_at).strftime("%Y-%m-%d %H:%M")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "title": gettext("Collections queue")}
        return super().changelist_view(request, extra_context)


# One loan's collections page.


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=CollectionContact.Channel.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CollectionContact.Outcome.choices)
    promised_amount = forms.DecimalField(
        label=_("Promised amount (yuan)"), max_digits=14, decimal_places=2, required=False
    )
    promised_on = forms.DateField(
        label=_("Promised for"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class WriteOffForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount received (yuan)"), max_digits=14, decimal_places=2)
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"]
    )
    external_reference = forms.CharField(label=_("Bank reference"), max_length=64)


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, errors in (error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}).items():
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def collections_loan_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, VIEW_PERMISSION)
    # Any loan: one just written off, recovered or cured keeps its page and its history.
    loan = get_object_or_404(_with_figures(Loan.objects.select_related("merchant", "product")), pk=pk)
    contact_form = ContactForm(prefix="contact")
    write_off_form = WriteOffForm(prefix="close")
    recovery_form = RecoveryForm(prefix="recovery")
    status = 200
    if request.method == "POST":
        action = request.POST.get("do")
        if action == "contact":
            contact_form = ContactForm(request.POST, prefix="contact")
            if contact_form.is_valid():
                try:
                    collection_contact_record(loan=loan, by=request.user, **contact_form.cleaned_data)
                except ValidationError as error:
                    _add_errors(contact_form, error)
                except PermissionDenied as error:
                    contact_form.add_error(None, str(error))
                else:
                    messages.success(request, gettext("Contact recorded."))
                    return HttpResponseRedirect(request.path)
        elif action == "write_off":
            write_off_form = WriteOffForm(request.POST, prefix="close")
            if write_off_form.is_valid():
                try:
                    loan_write_off_request(loan=loan, by=request.user, reason=write_off_form.cleaned_data["reason"])
                except ValidationError as error:
                    _add_errors(write_off_form, error)
                except (StateConflict, PermissionDenied) as error:
                    write_off_form.add_error(None, getattr(error, "message", str(error)))
                else:
                    messages.success(
                        request,
                        gettext("Write-off of loan #%(id)s asked for: it takes effect when a second officer approves.")
                        % {"id": loan.pk},
                    )
                    return HttpResponseRedirect(request.path)
        elif action == "recover":
            recovery_form = RecoveryForm(request.POST, prefix="recovery")
            if recovery_form.is_valid():
                try:
                    payment = loan_recovery_record(loan=loan, by=request.user, **recovery_form.cleaned_data)
                except ValidationError as error:
                    _add_errors(recovery_form, error)
                except (StateConflict, PermissionDenied) as error:
                    recovery_form.add_error(None, getattr(error, "message", str(error)))
                else:
                    if payment is None:
                        message = gettext(
                            "Recovery recorded on loan #%(id)s: above the four-eyes amount, it books when a second "
                            "officer approves it under Bank transfers."
                        ) % {"id": loan.pk}
                    else:
                        message = gettext("Recovery of %(amount)s yuan recorded on loan #%(id)s.") % {
                            "amount": f"{payment.amount:,.2f}",
                            "id": loan.pk,
                        }
                    messages.success(request, message)
                    return HttpResponseRedirect(request.path)
        status = 400
    contacts = CollectionContact.objects.filter(loan=loan).select_related("contacted_by").order_by("-contacted_at")
    pending_write_off = (
        Concession.objects.filter(loan=loan, kind=Concession.Kind.WRITE_OFF, status=Concession.Status.PENDING)
        .select_related("requested_by")
        .first()
    )
    can_write_off = (
        loan.state == LoanState.DEFAULTED and pending_write_off is None and request.user.has_perm(CLOSE_PERMISSION)
    )
    context = {
        **admin.site.each_context(request),
        "title": gettext("Collections: loan #%(id)s") % {"id": loan.pk},
        "loan": loan,
        "contacts": contacts,
        "contact_form": contact_form,
        "close_form": write_off_form,
        "recovery_form": recovery_form,
        "can_contact": request.user.has_perm(CONTACT_PERMISSION),
        "can_close": can_write_off,
        "write_off_preview": _write_off_preview(loan) if can_write_off else None,
        "pending_write_off": pending_write_off,
        "write_off": loan_write_off_figures(loan=loan),
        "can_recover": loan.state == LoanState.WRITTEN_OFF and request.user.has_perm(CLOSE_PERMISSION),
        "queue_url": reverse(QUEUE_URL),
        "loan_admin_url": reverse("admin:lending_loan_change", args=[loan.pk]),
        "opts": Loan._meta,
    }
    return TemplateResponse(request, "admin/lending/collections_loan.html", context, status=status)


def _write_off_preview(loan: Loan):
    """What writing the loan off today would book: the officer sees it before asking."""
    instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
    return write_off_amounts(loan=loan, instalments=instalments, on=timezone.localdate())


# The portfolio's figures.

PORTFOLIO_URL = "lending_portfolio"


def portfolio_view(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERMISSION)
    context = {
        **admin.site.each_context(request),
        "title": gettext("Portfolio: outstanding, written off, recovered, loss"),
        "figures": portfolio_figures(),
        "by_cause": portfolio_loss_by_cause(),
        "queue_url": reverse(QUEUE_URL),
        "opts": Loan._meta,
    }
    return TemplateResponse(request, "admin/lending/portfolio.html", context)


# Proposing a restructure (lending.servicing.services.restructure decides what is re-scheduled and how).

RESTRUCTURE_URL = "lending_collections_restructure"


class RestructureForm(forms.Form):
    term = forms.IntegerField(label=_("New term (months)"), min_value=1, max_value=60)
    annual_rate = forms.DecimalField(
        label=_("Yearly interest rate"),
        max_digits=7,
        decimal_places=6,
        help_text=_("A fraction: 0.12 for 12 %."),
    )
    first_due_date = forms.DateField(
        label=_("First due date"), widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"]
    )
    forgive_fees = forms.BooleanField(label=_("Forgive the fees already due"), required=False)
    forgive_late_fees = forms.BooleanField(label=_("Forgive the late fees"), required=False)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


def collections_restructure_view(request: HttpRequest, pk: int) -> HttpResponse:
    from lending.servicing.services.restructure import PROPOSE_PERMISSION, restructure_propose

    _require(request, PROPOSE_PERMISSION)
    loan = get_object_or_404(Loan.objects.select_related("merchant"), pk=pk)
    form = RestructureForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                proposal = restructure_propose(loan=loan, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            except (StateConflict, PermissionDenied) as error:
                form.add_error(None, getattr(error, "message", str(error)))
                status = 409 if isinstance(error, StateConflict) else 403
            else:
                if proposal.concession_pending:
                    done = gettext(
                        "Restructure proposed for loan #%(id)s: below the grid or forgiving fees, it awaits a second "
                        "officer's approval before the merchant sees it."
                    )
                else:
                    done = gettext("Restructure proposed for loan #%(id)s; the merchant decides.")
                messages.success(request, done % {"id": loan.pk})
                return HttpResponseRedirect(reverse(LOAN_URL, args=[loan.pk]))
    context = {
        **admin.site.each_context(request),
        "title": gettext("Propose a restructure: loan #%(id)s") % {"id": loan.pk},
        "loan": loan,
        "form": form,
        "loan_url": reverse(LOAN_URL, args=[loan.pk]),
        "opts": Loan._meta,
    }
    return TemplateResponse(request, "lending/restructure_propose.html", context, status=status)


def collections_urls() -> list[URLPattern]:
    queue = CollectionsQueueAdmin(Loan, admin.site)
    return [
        path("", admin.site.admin_view(queue.changelist_view), name=QUEUE_URL),
        path("<int:pk>/", admin.site.admin_view(collections_loan_view), name=LOAN_URL),
        path("<int:pk>/restructure/", admin.site.admin_view(collections_restructure_view), name=RESTRUCTURE_URL),
        path("portfolio/", admin.site.admin_view(portfolio_view), name=PORTFOLIO_URL),
    ]


# Deferral requests.


class RefuseForm(forms.Form):
    note = forms.CharField(
        label=_("Why the request is refused"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The merchant is told this."),
    )


@admin.register(DeferralRequest)
class DeferralRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "loan_link",
        "merchant",
        "instalment_number",
        "current_due_date",
        "requested_due_date",
        "status",
        "requested_at",
    ]
    list_filter = ["status"]
    list_select_related = ["loan__merchant", "instalment"]
    search_fields = ["=loan__id", "loan__merchant__legal_name"]
    show_full_result_count = False
    ordering = ["-requested_at"]
    actions = ["approve_selected", "refuse_selected"]
    fields = [
        "loan",
        "instalment",
        "requested_due_date",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]
    readonly_fields = fields

    @admin.display(description=_("loan"))
    def loan_link(self, request_row: DeferralRequest) -> str:
        return format_html('<a href="{}">#{}</a>', reverse(LOAN_URL, args=[request_row.loan_id]), request_row.loan_id)

    @admin.display(description=_("merchant"))
    def merchant(self, request_row: DeferralRequest) -> str:
        return str(request_row.loan.merchant)

    @admin.display(description=_("instalment"))
    def instalment_number(self, request_row: DeferralRequest) -> int:
        return request_row.instalment.number

    @admin.display(description=_("due date now"))
    def current_due_date(self, request_row: DeferralRequest):
        return request_row.instalment.due_date

    def _decide(self, request: HttpRequest, queryset: QuerySet, decide, done: str) -> int:
        decided = 0
        for row in queryset.order_by("pk"):
            try:
                decide(row)
            except REFUSALS as error:
                message = getattr(error, "message", None) or "; ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, f"#{row.pk}: {message}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(request, done % {"count": decided}, messages.SUCCESS)
        return decided

    @admin.action(description=_("Approve the selected requests…"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        note = confirmed_note(
            self,
            request,
            queryset.select_related("loan__merchant", "instalment"),
            action="approve_selected",
            title=gettext("Approve deferral requests"),
            what=gettext("Each instalment below moves to the date asked for; the merchant is told."),
            submit_label=gettext("Approve"),
        )
        if not isinstance(note, str):
            return note
        self._decide(
            request,
            queryset,
            lambda row: deferral_approve(request=row, by=request.user, note=note),
            gettext("%(count)d request(s) approved."),
        )
        return None

    @admin.action(description=_("Refuse the selected requests"), permissions=["decide"])
    def refuse_selected(self, request: HttpRequest, queryset: QuerySet):
        form = RefuseForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            note = form.cleaned_data["note"]
            self._decide(
                request,
                queryset,
                lambda row: deferral_refuse(request=row, by=request.user, note=note),
                gettext("%(count)d request(s) refused."),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Refuse deferral requests"),
            "opts": self.model._meta,
            "requests": queryset.select_related("loan__merchant", "instalment"),
            "form": form,
            "action": "refuse_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/lending/collections_refuse.html", context)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DECIDE_DEFERRAL_PERMISSION)


__all__ = ["CollectionsQueueAdmin", "DeferralRequestAdmin", "DpdBucketFilter", "collections_urls"]
