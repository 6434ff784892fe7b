"""The allocation waterfall: where a payment goes. Pure arithmetic — no database.

A payment pays instalments oldest first, and within one instalment its components in one fixed order: fees, then
late fees, then interest, then principal (``ORDER``). What is left when everything offered is paid
becomes credit. The loan's credit balance, when one is given, is spent before the new money (it is older).

Invariant: ``sum(allocation.amount) + credit == amount + credit_balance`` exactly, and no component is paid
more than is outstanding on it. Amounts are ``Decimal`` with two places; nothing here rounds, so no fen is
lost or made.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import FEN

ZERO = Decimal("0.00")
FEE, PENALTY, INTEREST, PRINCIPAL = "fee", "penalty", "interest", "principal"
COMPONENTS = (FEE, PENALTY, INTEREST, PRINCIPAL)
ORDER = COMPONENTS


class WaterfallError(ValueError):
    """Bad waterfall input: a negative or fractional-fen amount."""


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What is still owed on one instalment, per component; ``key`` identifies it for the caller."""

    key: Hashable
    fee: Decimal = ZERO
    penalty: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fee + self.penalty + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class AllocationLine:
    key: Hashable
    component: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Waterfall:
    allocations: tuple[AllocationLine, ...]
    credit: Decimal  # what is left after paying everything offered: held as credit on the loan

    @property
    def allocated(self) -> Decimal:
        return sum((line.amount for line in self.allocations), ZERO)


def _money(name: str, value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value != value.quantize(FEN):
        raise WaterfallError(f"{name} must be a Decimal of at least 0.00 with at most two places; it is {value!r}")
    return value


def allocate(
    *,
    outstanding: Sequence[Outstanding],
    amount: Decimal,
    credit_balance: Decimal = ZERO,
) -> Waterfall:
    """Spend ``credit_balance + amount`` on ``outstanding`` (oldest instalment first) in ``ORDER``.

    Returns the allocations in the order they were made (one line per instalment and component that got money,
    never a zero line) and the credit left over.
    """
    remaining = _money("credit_balance", credit_balance) + _money("amount", amount)
    lines: list[AllocationLine] = []
    for instalment in outstanding:
        for component in ORDER:
            owed = _money(f"{component} of {instalment.key}", getattr(instalment, component))
            if not remaining:
                break
            paid = min(owed, remaining)
            if paid:
                lines.append(AllocationLine(instalment.key, component, paid))
                remaining -= paid
    return Waterfall(allocations=tuple(lines), credit=remaining)


__all__ = [
    "COMPONENTS",
    "ORDER",
    "AllocationLine",
    "Outstanding",
    "Waterfall",
    "WaterfallError",
    "allocate",
]
