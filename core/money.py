"""Money: Decimal in CNY, two places, rounded half-up to the fen — defined once, used everywhere."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

CURRENCY = "CNY"
FEN = Decimal("0.01")
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2


def to_fen(value: Decimal | int | str) -> Decimal:
    """Round to the fen, half-up: the portal's one rounding rule for amounts."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def decimal_from_db(value) -> Decimal:
    """A number a raw cursor answered, as an exact Decimal (NULL as 0): PostgreSQL answers numerics as Decimal;
    SQLite (the demo) answers floats, read back through their shortest repr."""
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


class MoneyField(models.DecimalField):
    """An amount in CNY: 14 digits, 2 decimal places."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "core.money.MoneyField", args, kwargs
