"""The back office for loan products: a risk manager edits the bounds, terms, price grid and fees.

Saving goes through ``product_save`` (validated, audited). A product's change page previews a sample quote at
every grade, so the effect of a price on the APR is seen before anyone is offered it.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lending.catalogue.admin.forms import LoanProductAdminForm, terms_as_text
from lending.catalogue.models import INDICATIVE_GRADE, LoanProduct, RepaymentMethodChoice, TermUnitChoice
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS
from lending.catalogue.services.products import price_label, product_sample_request, product_save, quote_by_grade


@admin.register(LoanProduct)
class LoanProductAdmin(admin.ModelAdmin):
    form = LoanProductAdminForm
    list_display = ["code", "name_zh", "name_en", "kind", "amount_range", "terms", "standard_price", "is_active"]
    list_display_links = ["code", "name_zh"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    readonly_fields = ["sample_quotes", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "name_zh", "name_en", "kind", "currency", "is_active"]}),
        (
            _("Amounts, terms and repayment"),
            {
                "fields": [
                    ("amount_min", "amount_max"),
                    "term_unit",
                    "allowed_terms",
                    "repayment_methods",
                    "standard_repayment_method",
                    "sales_share_rate",
                ]
            },
        ),
        (_("Price"), {"fields": ["prices", "sales_share_fee_days", "day_count", "sample_quotes"]}),
        (
            _("Fees"),
            {"fields": [("origination_fee_rate", "origination_fee_fixed"), "origination_fee_timing"]},
        ),
        (
            _("Servicing"),
            {
                "fields": [
                    ("late_fee_daily_rate", "late_fee_fixed"),
                    "grace_days",
                    ("prepayment_policy", "prepayment_fee_rate"),
                    "offer_validity_days",
                    "default_after_days_past_due",
                    ("deferral_max_days", "deferrals_per_loan"),
                ]
            },
        ),
        (_("History"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("amounts"))
    def amount_range(self, product: LoanProduct) -> str:
        return f"{product.amount_min:,.2f} - {product.amount_max:,.2f}"

    @admin.display(description=_("terms"))
    def terms(self, product: LoanProduct) -> str:
        if product.is_sales_share:
            return gettext("up to %(months)d months") % {"months": TERM_LIMIT_MONTHS}
        return f"{terms_as_text(product.allowed_terms)} {TermUnitChoice(product.term_unit).label}"

    @admin.display(description=_("standard price (grade C)"))
    def standard_price(self, product: LoanProduct) -> str:
        if INDICATIVE_GRADE not in product.prices:
            return "-"
        return price_label(basis=product.price_basis, price=product.price_for(INDICATIVE_GRADE))

    @admin.display(description=_("sample quote by grade"))
    def sample_quotes(self, product: LoanProduct) -> str:
        if product.pk is None:
            return gettext("Saved products show a sample quote at every grade here.")
        try:
            request = product_sample_request(product)
            rows = quote_by_grade(product=product, **request)
        except (ValidationError, KeyError, IndexError, TypeError, ValueError):
            return gettext("No sample quote: fix the product's terms first.")
        loan = gettext("%(amount)s yuan, %(method)s") % {
            "amount": f"{request['amount']:,.2f}",
            "method": RepaymentMethodChoice(request["repayment_method"]).label,
        }
        if request["term"] is not None:
            loan += f", {request['term']} {TermUnitChoice(product.term_unit).label}"
        else:
            loan += ", " + gettext("average daily sales %(sales)s yuan") % {
                "sales": f"{request['average_daily_sales']:,.2f}"
            }
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.grade,
                    price_label(basis=product.price_basis, price=row.price),
                    f"{row.apr:.2f} %" if row.apr is not None else "-",
                    f"{row.total_repayable:,.2f}" if row.total_repayable is not None else "-",
                )
                for row in rows
            ),
        )
        return format_html(
            "<p>{}</p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            loan,
            gettext("Grade"),
            gettext("Price"),
            gettext("APR"),
            gettext("Total repayable"),
            body,
        )

    def save_model(self, request: HttpRequest, obj: LoanProduct, form, change: bool) -> None:
        product_save(product=obj, by=request.user, reason=gettext("Edited in the back office."))
