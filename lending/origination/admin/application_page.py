"""The read-only parts of an application's page in the officers' back office: why it was declined, the decision
(score and grade, features, policy rules, scorecard points), the merchant's sales and KYC documents, the contracts,
the concessions and the loan. ``LoanApplicationAdmin`` (``lending.origination.admin.applications``) shows them."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from core.admin.mixins import html_table
from core.formatting import amount as amount_grouped
from lending.origination.models import Contract, LoanApplication
from lending.servicing.admin.loans import concessions_table
from lending.servicing.models import Loan
from lending.servicing.selectors.loans import loan_paid_out
from merchants.choices import SalesSource
from merchants.selectors.sales import sales_monthly_totals

SALES_MONTHS = 12


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


class ApplicationPageMixin:
    """The page's read-only fields, each a table or a few lines of HTML built from the application's rows."""

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
