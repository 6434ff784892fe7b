"""How the portal writes amounts, rates and account numbers for people: one way each, in every app.

Amounts are rounded half-up to the fen (``core.money.to_fen``) before they are written, so a figure on a page, in a
notice and in a PDF is the same figure.
"""

from decimal import Decimal

from django.utils import translation

from core.money import to_fen

EMPTY = "—"


def amount(value: Decimal | str | int | None) -> str:
    """50000 -> "50,000.00": an amount as people read it (thousands grouped, two places); "—" for none."""
    if value is None:
        return EMPTY
    return f"{to_fen(value):,.2f}"


def amount_plain(value: Decimal | str | int) -> str:
    """50000 -> "50000.00": an amount as machines read it (API answers, stored snapshots)."""
    return f"{to_fen(value):.2f}"


def yuan(value: Decimal | str | int) -> str:
    """50000 -> "¥50,000.00": an amount inside a sentence, where the currency must be said."""
    return f"¥{amount(value)}"


def money(value: Decimal | str | int | None) -> str:
    """An amount in a sentence, the way the current language writes it: "¥50,000.00" in English,
    "50,000.00 元" in Chinese; "—" for none. Pages, notices, emails and documents all write amounts this way."""
    if value is None:
        return EMPTY
    if (translation.get_language() or "").startswith("zh"):
        return f"{amount(value)} 元"
    return f"¥{amount(value)}"


def listing(items) -> str:
    """Items of a list in a sentence, the way the current language separates them: "a, b, c" in English,
    "a、b、c" in Chinese (the enumeration comma)."""
    separator = "、" if (translation.get_language() or "").startswith("zh") else ", "
    return separator.join(str(item) for item in items)


def number(value: Decimal | str) -> str:
    """12 -> "12.00", 0.035 -> "0.035", 1.08 -> "1.08": two to four decimals, no trailing zeros past two."""
    trimmed = Decimal(value).quantize(Decimal("0.0001")).normalize()
    if trimmed.as_tuple().exponent > -2:
        trimmed = trimmed.quantize(Decimal("0.01"))
    return f"{trimmed:f}"


def percent(fraction: Decimal | str) -> str:
    """0.035 -> "3.50", 0.00035 -> "0.035": a rate as a percentage (see ``number``)."""
    return number(Decimal(fraction) * 100)


def masked_account(number: str) -> str:
    """A bank account number as it is shown: only the last four digits ("**** 0042")."""
    return f"**** {number[-4:]}" if len(number) > 4 else number
