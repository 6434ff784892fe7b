"""The officers' back office for applications, loans and payouts.

Officers work queues (referred; signed and awaiting a second approval; signed and not yet funded) and decide from
one page per application: the decision snapshot, the merchant's sales, its KYC documents, the contracts and the
audit trail. Every button and action calls a service (``lending.origination.services.applications`` for the decisions,
``lending.origination.services.funding`` for four-eyes, funding and payouts): the admin never changes a state itself,
and
the services' refusals (wrong state, maker = checker, missing permission, bad terms) are shown as messages.

The changelists stay fast at millions of rows: related rows are joined (``list_select_related``), the unfiltered
total is not counted (``show_full_result_count = False``) and the paginator estimates the count of an unfiltered
PostgreSQL table from its statistics instead of running COUNT(*) over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.admin.confirm import confirmed_note
from core.admin.mixins import (
    REFUSALS,
    AuditTrailAdminMixin,
    EstimatedCountPaginator,
    ExactSearchAdminMixin,
    ReadOnlyAdminMixin,
    html_table,
    refusal_message,
)
from core.formatting import amount as amount_grouped
from lending.catalogue.models import RepaymentMethodChoice
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
from lending.servicing.admin.loans import concessions_table
from lending.servicing.models import Disbursement, Loan
from lending.servicing.selectors.loans import loan_paid_out
from merchants.choices import SalesSource
from merchants.selectors.sales import sales_monthly_totals

DECIDE_PERMISSION = "lending.decide_application"
S = ApplicationState
SALES_MONTHS = 12


# Counting without COUNT(*).


# Pieces of the application page.


def _message(item: dict) -> str:
    """The Chinese or the English text of a reason or a rule, in the officer's language."""
    if (get_language() or "").startswith("zh"):
        return item.get("message_zh") or item.get("message_en") or ""
    return item.get("message_en") or item.get("message_zh") or ""


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"


def _months_table(months, *, label: str = "") -> str:
    headers = [gettext("Month"), gettext("Gross sales"), gettext("Refunds"), gettext("Net sales"), gettext("Days")]
    rows = [
        (
            f"{month.month:%Y-%m}" + (f" ({label})" if label else ""),
            amount_grouped(month.gross_sales),
            amount_grouped(month.refunds),
            amount_grouped(month.net_sales),
            month.days,
        )
        for month in months
    ]
    return html_table(headers, rows, empty="—")


def sales_bars(months) -> str:
    """The months' net sales as inline SVG bars, each with its amount on hover."""
    bar, gap, height = 26, 6, 90
    top = max((month.net_sales for month in months), default=Decimal(0)) or Decimal(1)
    shapes = []
    for index, month in enumerate(months):
        bar_height = max(int(month.net_sales / top * height), 0) if month.net_sales > 0 else 0
        shapes.append(
            (
                index * (bar + gap),
                height - bar_height,
                bar,
                bar_height,
                f"{month.month:%Y-%m}: {amount_grouped(month.net_sales)}",
                index * (bar + gap) + bar // 2,
                height + 14,
                f"{month.month:%m}",
            )
        )
    width = len(months) * (bar + gap)
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#2563eb"><title>{}</title></rect>'
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        shapes,
    )
    return format_html(
        '<svg role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}">{}</svg>',
        gettext("Net sales by month"),
        width,
        height + 20,
        width,
        height + 20,
        body,
    )


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


# The officers' forms. They only type the input; the services check it against the product and say what is wrong.


class CounterOfferForm(forms.Form):
    amount = forms.CharField(label=_("amount (yuan)"), max_length=32)
    term = forms.CharField(label=_("term"), max_length=9, required=False)
    price = forms.CharField(label=_("price"), max_length=20)
    repayment_method = forms.ChoiceField(label=_("repayment method"), required=False)
    note = forms.CharField(label=_("note for the file"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, application: LoanApplication, **kwargs):
        super().__init__(*args, **kwargs)
        product = application.product
        self.fields["repayment_method"].choices = [
            (method, RepaymentMethodChoice(method).label) for method in product.repayment_methods
        ]
        self.fields["amount"].help_text = gettext("From %(min)s to %(max)s yuan.") % {
            "min": amount_grouped(product.amount_min),
            "max": amount_grouped(product.amount_max),
        }
        if product.is_sales_share:
            self.fields["term"].help_text = gettext("A sales-share advance has no term: leave it empty.")
        else:
            self.fields["term"].help_text = gettext("Allowed: %(terms)s (%(unit)s).") % {
                "terms": ", ".join(str(term) for term in product.allowed_terms),
                "unit": product.get_term_unit_display(),
            }
        prices = [Decimal(price) for price in product.prices.values()]
        if prices:
            self.fields["price"].help_text = gettext(
                "As a fraction, within the product's price grid: from %(low)s to %(high)s."
            ) % {"low": min(prices), "high": max(prices)}
            self.fields["price"].help_text += " " + gettext(
                "Below the grid's price for the application's grade, it needs a note and a second officer's approval."
            )
        self.fields["note"].help_text = gettext(
            "Required when the price is below the grid: the second officer reads it."
        )
        self.initial.setdefault("amount", application.offer_amount or application.amount)
        self.initial.setdefault("term", application.offer_term or application.term or "")
        self.initial.setdefault(
            "price", application.offer_price or (application.decision and application.decision.price_rate) or ""
        )
        self.initial.setdefault("repayment_method", application.offer_repayment_method or application.repayment_method)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The merchant is shown this reason."),
    )


class RequestDocumentsForm(forms.Form):
    message = forms.CharField(
        label=_("documents needed"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Say which documents are needed and why; the merchant gets it as a notice and an email."),
    )


# Applications.


@admin.register(LoanApplication)
class LoanApplicationAdmin(ExactSearchAdminMixin, AuditTrailAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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

    # The page.

    @admin.display(description=_("reasons for declining"))
    def decline_reasons_list(self, application: LoanApplication) -> str:
        return html_table(
            [gettext("Reason")],
            ((_message(reason),) for reason in application.decline_reasons or []),
            empty="—",
        )

    @admin.display(description=_("score and grade"))
    def decision_summary(self, application: LoanApplication) -> str:
        decision = application.decision
        if decision is None:
            return gettext("No automated decision.")
        reasons = format_html_join("", "<li>{}</li>", ((_message(reason),) for reason in decision.reasons or []))
        return format_html(
            "<p>{}: <strong>{}</strong> · {}: <strong>{}</strong> · {}: <strong>{}</strong> · {}: {} · {}: {}</p>"
            "<p>{}</p><ul>{}</ul>",
            gettext("Outcome"),
            decision.get_outcome_display(),
            gettext("Score"),
            decision.score if decision.score is not None else "—",
            gettext("Grade"),
            decision.grade or "—",
            gettext("Probability of default"),
            decision.probability_of_default if decision.probability_of_default is not None else "—",
            gettext("Credit line"),
            amount_grouped(decision.credit_line),
            gettext("Reasons"),
            reasons or format_html("<li>—</li>"),
        )

    @admin.display(description=_("features"))
    def decision_features(self, application: LoanApplication) -> str:
        features = (application.decision.snapshot.get("features") if application.decision else None) or {}
        return html_table(
            [gettext("Feature"), gettext("Value")],
            ((name, "—" if value is None else value) for name, value in features.items()),
            empty="—",
        )

    @admin.display(description=_("policy rules"))
    def decision_rules(self, application: LoanApplication) -> str:
        rules = (application.decision.snapshot.get("rules") if application.decision else None) or []
        return html_table(
            [gettext("Rule"), gettext("Result"), gettext("Value"), gettext("Threshold"), gettext("Message")],
            (
                (
                    rule.get("code", ""),
                    gettext("passed") if rule.get("passed") else rule.get("outcome", gettext("failed")),
                    rule.get("value") if rule.get("value") is not None else "—",
                    rule.get("threshold") if rule.get("threshold") is not None else "—",
                    _message(rule),
                )
                for rule in rules
            ),
            empty="—",
        )

    @admin.display(description=_("scorecard points"))
    def decision_points(self, application: LoanApplication) -> str:
        score = (application.decision.snapshot.get("score") if application.decision else None) or {}
        return html_table(
            [gettext("Feature"), gettext("Value"), gettext("Bin"), gettext("Points"), gettext("Best possible")],
            (
                (
                    line.get("feature"),
                    line.get("value") or "—",
                    line.get("bin"),
                    line.get("points"),
                    line.get("best_points"),
                )
                for line in score.get("points", [])
            ),
            empty="—",
        )

    @admin.display(description=_("sales, last 12 months"))
    def sales_history(self, application: LoanApplication) -> str:
        """The platform's figures (what the decision read), then the merchant's declared sales apart, labelled."""
        today = timezone.localdate()
        months = sales_monthly_totals(merchant=application.merchant, today=today, months=SALES_MONTHS)
        declared = sales_monthly_totals(
            merchant=application.merchant, today=today, months=SALES_MONTHS, source=SalesSource.DECLARED
        )
        platform_part = gettext("No platform sales on file.")
        if any(month.days for month in months):
            platform_part = format_html(
                "<h4>{}</h4>{}{}",
                gettext("Platform settlement feed (the credit file the decision used)"),
                sales_bars(months),
                _months_table(months),
            )
        if not any(month.days for month in declared):
            return format_html("{}", platform_part)
        return format_html(
            '{}<div class="sales-declared"><h4>{}</h4><p>{}</p>{}</div>',
            platform_part,
            gettext("Declared by the merchant (declared)"),
            gettext(
                "Sales the merchant says it took elsewhere. Supporting evidence for your review only: "
                "no automated decision or limit used them."
            ),
            _months_table([month for month in declared if month.days], label=gettext("declared")),
        )

    @admin.display(description=_("KYC documents"))
    def kyc_documents(self, application: LoanApplication) -> str:
        return html_table(
            [gettext("Document"), gettext("Uploaded")],
            (
                (
                    format_html(
                        '<a href="{}" target="_blank" rel="noopener">{}</a>',
                        reverse("merchants:document", kwargs={"pk": document.pk}),
                        document.get_kind_display(),
                    ),
                    _when(document.uploaded_at),
                )
                for document in application.merchant.documents.all()
            ),
            empty=gettext("No documents uploaded."),
        )

    @admin.display(description=_("contracts"))
    def contracts_list(self, application: LoanApplication) -> str:
        def link(contract: Contract) -> str:
            if not contract.pdf:
                return "—"
            url = reverse("admin:lending_loanapplication_contract_pdf", args=[application.pk, contract.pk])
            return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, gettext("PDF"))

        return html_table(
            [gettext("Version"), gettext("Status"), gettext("Signed"), gettext("Signer"), "SHA-256", gettext("File")],
            (
                (
                    contract.version,
                    contract.get_status_display(),
                    _when(contract.signed_at),
                    contract.signer or "—",
                    contract.signed_sha256 or contract.sha256 or "—",
                    link(contract),
                )
                for contract in application.contracts.select_related("signer").order_by("-version")
            ),
            empty=gettext("No contract yet."),
        )

    @admin.display(description=_("concessions"))
    def concessions_list(self, application: LoanApplication) -> str:
        return concessions_table(application.concessions.select_related("requested_by", "decided_by"))

    @admin.display(description=_("loan"))
    def loan_link(self, application: LoanApplication) -> str:
        loan = Loan.objects.filter(application=application).select_related("disbursement").first()
        if loan is None:
            return "—"
        disbursement = loan_paid_out(loan)
        return format_html(
            '<a href="{}">{}</a> · {} · {}',
            reverse("admin:lending_loan_change", args=[loan.pk]),
            f"#{loan.pk}",
            loan.get_state_display(),
            gettext("payout: %(status)s") % {"status": disbursement.get_status_display()} if disbursement else "—",
        )

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


def partial_form(form_class: type[forms.Form], **kwargs):
    """A form class with some constructor arguments bound, so it is built like a plain form."""

    def build(data=None):
        return form_class(data, **kwargs)

    return build


# Loans and payouts.
