"""The public loan calculator: pick a product, an amount and a term, and see the schedule, total cost and APR.

The page works without JavaScript (the form submits by GET and the quote is rendered here); with it,
``static/js/calculator.js`` asks ``POST /api/v1/quotes/`` as the controls move. Both call the same quote service.
"""

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import TemplateView

from lending.catalogue.models import INDICATIVE_GRADE, LoanProduct, RepaymentMethodChoice, TermUnitChoice
from lending.catalogue.selectors.products import products_active
from lending.catalogue.services.products import (
    product_sample_request,
    quote_by_grade,
    quote_conventions,
    quote_for_product,
)
from lending.catalogue.web.forms import CalculatorForm, amount_help, term_help


def _product_for_script(product: LoanProduct) -> dict:
    """What the script needs to redraw the controls when the product changes."""
    sample = product_sample_request(product)
    return {
        "code": product.code,
        "name": product.name,
        "amount_min": f"{product.amount_min:.2f}",
        "amount_max": f"{product.amount_max:.2f}",
        "term_unit": product.term_unit,
        "term_unit_label": str(TermUnitChoice(product.term_unit).label),
        "allowed_terms": product.allowed_terms,
        "terms_are_a_range": product.terms_are_a_range,
        "terms_description": product.describe_terms(),
        "amount_help": amount_help(product),
        "term_help": term_help(product),
        "is_sales_share": product.is_sales_share,
        "repayment_methods": [
            {"value": method, "label": str(RepaymentMethodChoice(method).label)} for method in product.repayment_methods
        ],
        "sample": {key: None if value is None else str(value) for key, value in sample.items()},
    }


APPLY_PLACEHOLDER = "__product__"


def _apply_links(form: CalculatorForm, *, user) -> dict:
    """Where the page ends: apply on these terms (a merchant), or sign up first and then apply (a visitor).

    The terms travel to the apply flow's amount screen; the page's script keeps the links in step with the form.
    """
    terms = {name: form.data.get(name, "") for name in ("amount", "term", "repayment_method") if form.data.get(name)}
    product = form.selected_product
    apply_url = f"{reverse('lending:apply-terms', args=[product.code])}?{urlencode(terms)}" if product else ""
    return {
        "apply_url": apply_url,
        "apply_pattern": reverse("lending:apply-terms", args=[APPLY_PLACEHOLDER]),
        "signup_url": f"{reverse('account_signup')}?{urlencode({'next': apply_url})}",
        "signin_url": f"{reverse('account_login')}?{urlencode({'next': apply_url})}",
        "show_apply": getattr(user, "is_authenticated", False) and not user.is_staff,
    }


class CalculatorView(TemplateView):
    template_name = "lending/calculator.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        products = list(products_active())
        context.update(products=products, indicative_grade=INDICATIVE_GRADE)
        if not products:
            return context
        asked = any(name in self.request.GET for name in CalculatorForm.base_fields)
        # A first visit shows a typical loan on the first product rather than an empty page.
        # The landing page's teaser asks an amount only: the rest starts from the first product's typical loan.
        data = {**self._opening(products[0]), **self.request.GET.dict()} if asked else self._opening(products[0])
        if "product" in self.request.GET:
            data = self.request.GET
        form = CalculatorForm(data=data, products=products)
        priced = grades = None
        if form.is_valid():
            request = form.quote_request()
            try:
                priced = quote_for_product(product=form.selected_product, **request)
                grades = quote_by_grade(product=form.selected_product, **request)
            except ValidationError as exc:
                form.add_error(None, exc)
        context.update(
            **_apply_links(form, user=self.request.user),
            form=form,
            product=form.selected_product,
            quote=priced,
            conventions=quote_conventions(product=form.selected_product, priced=priced) if priced else None,
            grades=grades,
            products_for_script=[_product_for_script(product) for product in products],
        )
        return context

    @staticmethod
    def _opening(product: LoanProduct) -> dict:
        sample = product_sample_request(product)
        return {
            "product": product.code,
            "amount": f"{sample['amount']:.2f}",
            "term": "" if sample["term"] is None else str(sample["term"]),
            "repayment_method": sample["repayment_method"],
            "average_daily_sales": f"{sample['average_daily_sales']:.2f}" if product.is_sales_share else "",
        }
