"""Input fields with the API's strict conventions, so a client's mistake is refused rather than guessed at.

- ``AmountField``: yuan as a JSON string, with a dot before the fen (``"50000.00"``). A thousands separator
  (``"50,000"``, ``"50 000"``), a decimal comma and a JSON number are refused with the field named: "50,000" is
  fifty thousand to one reader and fifty to another, and a JSON number is a binary float to most clients. Anything
  else passes on as the text it was, for the service to check against the product, so a wrong value gets the
  message naming the product's own range.
- ``StrictBooleanField``: a JSON ``true`` or ``false`` only. DRF's ``BooleanField`` reads "yes", "on", "1" and
  "True" as true; for a flag that starts a credit decision, a string is a client bug, not a yes.
"""

import re

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
# Thousands separators and decimal commas as people type them, in both languages (and any space).
_SEPARATORS = re.compile(r"[,，'’_\s]")


@extend_schema_field({"type": "string", "pattern": AMOUNT_PATTERN, "example": "50000.00"})
class AmountField(serializers.Field):
    default_error_messages = {
        "not_text": _('Send the amount as a string, such as "50000.00": a JSON number can lose digits on the way.'),
        "separator": _(
            'Write the amount without thousands separators or spaces, with a dot before the fen, such as "50000.00".'
        ),
    }

    def __init__(self, *, allow_blank: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.allow_blank = allow_blank

    def to_internal_value(self, data) -> str:
        if data == "" and self.allow_blank:
            return ""
        if not isinstance(data, str):
            self.fail("not_text")
        if _SEPARATORS.search(data):
            self.fail("separator")
        return data

    def to_representation(self, value) -> str:
        return str(value)


@extend_schema_field({"type": "boolean"})
class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Must be true or false: a JSON boolean, not text or a number.")}

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


__all__ = ["AMOUNT_PATTERN", "AmountField", "StrictBooleanField"]
