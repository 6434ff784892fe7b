import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from lending.catalogue.models import LoanProduct, RepaymentMethodChoice
from lending.catalogue.services.products import product_ceiling_errors
from underwriting.choices import GRADES

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
            "sales_share_fee_days",
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

    def _post_clean(self) -> None:
        super()._post_clean()
        # A grid above the platform's annualised-cost ceiling is refused here, grade by grade, with the rate.
        if not self.errors:
            for message in product_ceiling_errors(product=self.instance):
                self.add_error("prices", message)

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
