"""The officers' forms on an application's page: a counter-offer, a decline, a request for documents. They only
take the input; the services check it against the product and say what is wrong."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.formatting import amount as amount_grouped
from lending.catalogue.models import RepaymentMethodChoice
from lending.origination.models import LoanApplication


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


def partial_form(form_class: type[forms.Form], **kwargs):
    """A form class with some constructor arguments bound, so it is built like a plain form."""

    def build(data=None):
        return form_class(data, **kwargs)

    return build
