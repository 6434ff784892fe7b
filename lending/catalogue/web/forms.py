"""Forms: the public loan calculator, and the back office's product form with its price grid and term list."""

from django import forms
from django.utils.translation import gettext_lazy as _

from lending.catalogue.models import LoanProduct, RepaymentMethodChoice, TermUnitChoice


def amount_help(product: LoanProduct) -> str:
    return _("From %(min)s to %(max)s yuan.") % {
        "min": f"{product.amount_min:,.2f}",
        "max": f"{product.amount_max:,.2f}",
    }


def term_help(product: LoanProduct) -> str:
    return _("Allowed: %(terms)s.") % {"terms": product.describe_terms()}


class CalculatorForm(forms.Form):
    """What a merchant asks the calculator. Only the shape of each value is checked here; whether the product
    allows it is the quote service's question, so the form and the API give the same messages."""

    product = forms.ChoiceField(label=_("Loan product"))
    amount = forms.CharField(
        label=_("Amount (yuan)"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    term = forms.CharField(label=_("Term"), max_length=9, required=False)
    repayment_method = forms.CharField(label=_("Repayment method"), max_length=32, required=False)
    average_daily_sales = forms.CharField(
        label=_("Your average daily sales (yuan)"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text=_("A sales-share advance is repaid from a share of each day's sales."),
    )
    start_date = forms.DateField(
        label=_("Start date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
        help_text=_("When the money would be paid out; today if left empty."),
    )

    def __init__(self, *args, products: list[LoanProduct], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.products = {product.code: product for product in products}
        offered = ", ".join(self.products)
        field = self.fields["product"]
        field.choices = [(product.code, product.name) for product in products]
        field.error_messages["invalid_choice"] = _("Choose one of the products on offer: %(offered)s.") % {
            "offered": offered.replace("%", "%%")
        }
        self._adapt_to(self.selected_product)

    @property
    def selected_product(self) -> LoanProduct | None:
        """The product the controls are drawn for: the one asked about, else the first on offer."""
        code = self.data.get("product") if self.is_bound else self.initial.get("product")
        return self.products.get(code) or next(iter(self.products.values()), None)

    def _adapt_to(self, product: LoanProduct | None) -> None:
        # The term control follows the product: a number box for a range of days or months, a list otherwise.
        if product is None:
            return
        term, method = self.fields["term"], self.fields["repayment_method"]
        unit = TermUnitChoice(product.term_unit).label
        if product.is_sales_share:
            term.widget = forms.TextInput(attrs={"disabled": True, "placeholder": product.describe_terms()})
        elif product.terms_are_a_range:
            term.widget = forms.NumberInput(
                attrs={"min": product.allowed_terms[0], "max": product.allowed_terms[-1], "step": 1}
            )
        else:
            term.widget = forms.Select(choices=[(str(t), f"{t} {unit}") for t in product.allowed_terms])
        term.help_text = term_help(product)
        method.widget = forms.Select(
            choices=[
                (value, RepaymentMethodChoice(value).label)
                for value in product.repayment_methods
                if value in RepaymentMethodChoice.values
            ]
        )
        self.fields["amount"].help_text = amount_help(product)

    def quote_request(self) -> dict:
        """The cleaned values as the quote service takes them."""
        product = self.selected_product
        values = self.cleaned_data
        return {
            "amount": values["amount"],
            # A term left over from another product means nothing to a sales-share advance.
            "term": None if product.is_sales_share else values.get("term"),
            "start_date": values.get("start_date"),
            "repayment_method": values.get("repayment_method") or None,
            "average_daily_sales": values.get("average_daily_sales") or None,
        }


# The back office's product form.
