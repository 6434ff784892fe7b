"""Validators for Chinese business and personal identifiers.

Each raises ``ValidationError`` with a message that names what is wrong, so a merchant who
mistypes one character is told which part of the number does not add up.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 32100-2015: the unified social credit code uses 31 characters (no I, O, S, V, Z).
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# GB 11643-1999: resident identity number, ISO 7064 MOD 11-2 check character.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_SHAPE = re.compile(r"^1[3-9]\d{9}$")


def normalise_code(value: str) -> str:
    """Upper-case and strip the spaces people type into long codes."""
    return re.sub(r"[\s-]", "", value or "").upper()


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> None:
    code = normalise_code(value)
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(n)d."),
            code="length",
            params={"n": len(code)},
        )
    if not _CREDIT_CODE_SHAPE.match(code):
        raise ValidationError(
            _("A unified social credit code uses digits and capital letters except I, O, S, V and Z."),
            code="charset",
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("The check character does not match: the last character should be %(expected)s, not %(got)s."),
            code="checksum",
            params={"expected": expected, "got": code[17]},
        )


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def resident_id_birth_date(value: str) -> datetime.date | None:
    try:
        return datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def validate_resident_id(value: str, *, today: datetime.date | None = None) -> None:
    number = normalise_code(value)
    if not _ID_SHAPE.match(number):
        raise ValidationError(
            _("A resident ID number has 17 digits followed by a digit or X."),
            code="shape",
        )
    born = resident_id_birth_date(number)
    today = today or datetime.date.today()
    if born is None or born.year < 1900 or born > today:
        raise ValidationError(
            _("The birth date in the ID number (digits 7 to 14) is not a real date."),
            code="birth_date",
        )
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _("The check digit does not match: the last character should be %(expected)s, not %(got)s."),
            code="checksum",
            params={"expected": expected, "got": number[17]},
        )


def validate_mobile(value: str) -> None:
    if not _MOBILE_SHAPE.match(normalise_code(value)):
        raise ValidationError(_("A mainland mobile number has 11 digits and starts with 13 to 19."), code="mobile")


def mask_resident_id(value: str) -> str:
    """Keep the first three and last four characters: 11010519491231002X → 110***********002X."""
    if len(value) != 18:
        return "*" * len(value)
    return f"{value[:3]}{'*' * 11}{value[14:]}"
