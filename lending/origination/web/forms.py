"""Forms of the merchant's application journey. They check the shape of each value only: whether the product
allows it is the quote service's question, so the pages and the API give the same messages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from lending.catalogue.models import LoanProduct, RepaymentMethodChoice, TermUnitChoice
from lending.catalogue.web.forms import amount_help, term_help


class ApplicationTermsForm(forms.Form):
    """Amount, term and repayment method on one product (screens 2 and 3)."""

    amount = forms.CharField(
        label=_("Amount (yuan)"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    term = forms.CharField(label=_("Term"), max_length=9, required=False)
    repayment_method = forms.CharField(label=_("Repayment method"), max_length=32, required=False)

    def __init__(self, *args, product: LoanProduct, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        term, method = self.fields["term"], self.fields["repayment_method"]
        unit = TermUnitChoice(product.term_unit).label
        self.fields["amount"].help_text = amount_help(product)
        if product.is_sales_share:
            # No term to choose: the advance is repaid from a share of each day's sales.
            del self.fields["term"]
        elif product.terms_are_a_range:
            term.widget = forms.NumberInput(
                attrs={"min": product.allowed_terms[0], "max": product.allowed_terms[-1], "step": 1}
            )
            term.label = _("Term (%(unit)s)") % {"unit": unit}
            term.help_text = term_help(product)
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

    def terms(self) -> dict:
        """The cleaned values as the services take them."""
        values = self.cleaned_data
        return {
            "amount": values["amount"].strip(),
            "term": None if self.product.is_sales_share else (values.get("term") or "").strip() or None,
            "repayment_method": values.get("repayment_method") or None,
        }

    def as_query(self) -> dict:
        """The values to carry to the next screen (and back)."""
        return {name: value for name, value in self.terms().items() if value is not None}


class ApplicationConfirmForm(ApplicationTermsForm):
    """Screen 3: the same terms, carried in hidden fields, and the token that makes a double click harmless."""

    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("amount", "term", "repayment_method"):
            if name in self.fields:
                self.fields[name].widget = forms.HiddenInput()


class ApplicationWithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you withdrawing? (optional)"), max_length=500, required=False, widget=forms.TextInput
    )
