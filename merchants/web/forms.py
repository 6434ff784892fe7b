"""Merchant-facing forms: they check the shape of what was typed; the services decide what is allowed."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from merchants.choices import DocumentKind
from merchants.models import PROFILE_FIELDS, Merchant
from merchants.validators import normalise_code, validate_credit_code, validate_mobile, validate_resident_id


class MerchantProfileForm(forms.Form):
    """The business profile. Every field may be saved half-filled; submitting KYC needs them all.

    A plain form built from the model's fields rather than a ModelForm: the service, not the form,
    writes the row, and it reports the credit code's uniqueness with a message a merchant understands.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(
            forms.fields_for_model(
                Merchant,
                fields=PROFILE_FIELDS,
                widgets={
                    "founded_on": forms.DateInput(attrs={"type": "date"}),
                    "mobile": forms.TextInput(attrs={"type": "tel", "inputmode": "numeric", "autocomplete": "tel"}),
                    "credit_code": forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
                    "legal_rep_id_number": forms.TextInput(
                        attrs={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"}
                    ),
                },
            )
        )
        # People paste codes with spaces or type them in lower case; the validators check the normal form.
        for name in ("credit_code", "legal_rep_id_number", "mobile"):
            self.fields[name].max_length = None
            self.fields[name].validators = []
            self.fields[name].widget.attrs.pop("maxlength", None)

    def _clean_code(self, name: str, validator) -> str:
        value = normalise_code(self.cleaned_data.get(name, ""))
        if value:
            validator(value)
        return value

    def clean_credit_code(self) -> str:
        return self._clean_code("credit_code", validate_credit_code)

    def clean_legal_rep_id_number(self) -> str:
        return self._clean_code("legal_rep_id_number", validate_resident_id)

    def clean_mobile(self) -> str:
        return self._clean_code("mobile", validate_mobile)


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Document"), choices=DocumentKind.choices, widget=forms.HiddenInput)
    file = forms.FileField(
        label=_("File"),
        widget=forms.FileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_mb = f"{settings.KYC_DOCUMENT_MAX_BYTES / 1024 / 1024:g}"
        self.fields["file"].help_text = _("PDF, PNG or JPEG, up to %(limit)s MB.") % {"limit": limit_mb}


class KycRejectForm(forms.Form):
    """The reason an officer gives for rejecting a KYC; the merchant reads it."""

    reason = forms.CharField(
        label=_("Reason for rejection"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The merchant sees this text. Say what to correct, e.g. “The licence photo is blurred”."),
    )
