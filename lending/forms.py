"""Forms: the public loan calculator, and the back office's product form with its price grid and term list."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from lending.models import GRADES, LoanProduct, RepaymentMethodChoice, TermUnitChoice


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

_TERM_PART = re.compile(r"^(\d{1,4})(?:\s*-\s*(\d{1,4}))?$")


def terms_as_text(terms: list[int]) -> str:
    """[7, 8, … 90] -> "7-90"; [3, 6, 12] -> "3, 6, 12": what the risk manager typed, or would have."""
    parts, run = [], []
    for term in sorted(terms):
        if run and term == run[-1] + 1:
            run.append(term)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ", ".join(map(str, run)))
        run = [term]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ", ".join(map(str, run)))
    return ", ".join(parts)


class TermListField(forms.CharField):
    """Allowed terms typed as "3, 6, 12", a range "7-90", or both ("3-12, 18, 24"); kept as a list of numbers."""

    default_error_messages = {
        "invalid": _("Write whole numbers separated by commas, or ranges such as 7-90 (smallest first)."),
    }

    def prepare_value(self, value):
        if isinstance(value, list) and all(isinstance(term, int) for term in value):
            return terms_as_text(value)
        return value

    def to_python(self, value) -> list[int]:
        # A Chinese keyboard types a full-width comma; a copied range may carry an en dash.
        text = super().to_python(value).replace("\uff0c", ",").replace("\u2013", "-")
        terms: set[int] = set()
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            match = _TERM_PART.match(part)
            if match is None:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            first = int(match[1])
            last = int(match[2]) if match[2] else first
            if last < first:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            terms.update(range(first, last + 1))
        return sorted(terms)


class PriceGridWidget(forms.MultiWidget):
    """One input per risk grade, labelled A to E, in a row."""

    def __init__(self, attrs=None) -> None:
        widgets = {grade: forms.TextInput(attrs={"size": 9, "inputmode": "decimal"}) for grade in GRADES}
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if isinstance(value, dict):
            return [value.get(grade) for grade in GRADES]
        return [None] * len(GRADES)

    def render(self, name, value, attrs=None, renderer=None):
        if not isinstance(value, list):
            value = self.decompress(value)
        attrs = self.build_attrs(self.attrs, attrs)
        base_id = attrs.get("id", f"id_{name}")
        cells = []
        for grade, widget, grade_value in zip(GRADES, self.widgets, value, strict=True):
            input_id = f"{base_id}_{grade}"
            html = widget.render(f"{name}_{grade}", grade_value, {**attrs, "id": input_id}, renderer)
            cells.append((input_id, grade, html))
        # Wrapping boxes rather than a table: the admin's form column is narrow, and a fifth column would be cut off.
        return format_html(
            '<div class="price-grid" style="display:flex;flex-wrap:wrap;gap:.5rem 1rem">{}</div>',
            format_html_join(
                "",
                '<span style="display:inline-flex;align-items:center;gap:.35rem">'
                '<label for="{}" style="width:auto;min-width:0;padding:0">{}</label>{}</span>',
                cells,
            ),
        )


class PriceGridField(forms.MultiValueField):
    """The price grid as text per grade; the model's clean() checks each price and names the grade."""

    widget = PriceGridWidget

    def __init__(self, **kwargs) -> None:
        fields = [forms.CharField(required=False, max_length=20) for _grade in GRADES]
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list) -> dict[str, str]:
        return {grade: value.strip() for grade, value in zip(GRADES, data_list or [], strict=False) if value}


class LoanProductAdminForm(forms.ModelForm):
    """The product as a risk manager edits it; every rule is the model's clean(), shown next to its field."""

    allowed_terms = TermListField(
        label=_("Allowed terms"),
        required=False,
        help_text=_("For example “7-90” or “3, 6, 12”. Empty for a sales-share advance."),
    )
    repayment_methods = forms.MultipleChoiceField(
        label=_("Repayment methods"), choices=RepaymentMethodChoice.choices, widget=forms.CheckboxSelectMultiple
    )
    standard_repayment_method = forms.ChoiceField(
        label=_("Standard repayment method"),
        choices=[("", _("The first one ticked")), *RepaymentMethodChoice.choices],
        required=False,
        help_text=_("Used when a quote does not name a method; it must be one of those ticked."),
    )
    prices = PriceGridField(
        label=_("Price by risk grade"),
        help_text=LoanProduct._meta.get_field("prices").help_text,
    )

    class Meta:
        model = LoanProduct
        fields = [
            "code",
            "name_zh",
            "name_en",
            "kind",
            "currency",
            "is_active",
            "amount_min",
            "amount_max",
            "term_unit",
            "allowed_terms",
            "repayment_methods",
            "prices",
            "day_count",
            "origination_fee_rate",
            "origination_fee_fixed",
            "origination_fee_timing",
            "late_fee_daily_rate",
            "late_fee_fixed",
            "grace_days",
            "prepayment_policy",
            "prepayment_fee_rate",
            "offer_validity_days",
            "default_after_days_past_due",
            "deferral_max_days",
            "deferrals_per_loan",
            "sales_share_rate",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        methods = self.instance.repayment_methods if self.instance.pk else []
        if methods:
            self.fields["standard_repayment_method"].initial = methods[0]

    def _update_errors(self, errors) -> None:
        # A field this form already refused (terms it could not read) left the model nothing to judge; a second
        # message about the empty value would only confuse.
        if hasattr(errors, "error_dict"):
            errors = ValidationError({name: e for name, e in errors.error_dict.items() if name not in self._errors})
        super()._update_errors(errors)

    def clean(self):
        cleaned = super().clean()
        # The standard method leads the stored list; the checkboxes alone cannot say which one it is.
        methods = cleaned.get("repayment_methods")
        standard = cleaned.get("standard_repayment_method")
        if methods and standard:
            if standard not in methods:
                self.add_error("standard_repayment_method", _("Tick it among the repayment methods too."))
            else:
                cleaned["repayment_methods"] = [standard, *(m for m in methods if m != standard)]
        return cleaned
