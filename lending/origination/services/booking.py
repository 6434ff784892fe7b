"""The schedule a loan is booked on: priced from the day the money goes out, never dearer than the signed contract.

The rule, as the contract states it in Chinese and English under its schedule (Article 4):

- Interest runs from the payout date: the day the lender confirms the money is in the merchant's settlement account,
  as the payout notice states. The contract's schedule is priced as if the loan were paid out on the day the offer
  was priced; the due dates of the booked schedule count from the payout date in the same way (the same day of the
  month, the first one the contract's period after it; a single payment the term after it).
- The amounts are priced again from the payout date by the contract's own method (its day count, rate and fees).
- The booked loan never costs more than the signed one: its total repayable and its APR are never higher. When
  pricing from the payout date gives more (months of other lengths under an actual-day count, a fee over a shorter
  first month), the cheapest of these applies:

  1. ``signed_amounts``: the signed amounts, line for line, on the new due dates. For monthly instalments this keeps
     the signed APR exactly: every payment is the same whole number of months after the start as it was.
  2. ``interest_reduced``: the interest is reduced (from the first line on, then the periodic fees) by the fewest
     fen that bring the total repayable and the APR down to the signed ones. It is what a single payment at
     maturity needs when the term after the payout date has fewer days than the signed one.

``booked_schedule`` decides; funding books what it returns when the loan is made and again when the payout succeeds
on a later day, and records in the loan's audit row which rule applied (``BookedSchedule.audit_data``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from lending.catalogue.money import Quote, QuoteError, ScheduleLine, quote
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr
from lending.catalogue.services.products import quote_terms_from_snapshot

ZERO = Decimal("0.00")
FEN = Decimal("0.01")

PRICED_FROM_PAYOUT = "priced_from_payout"
SIGNED_AMOUNTS = "signed_amounts"
INTEREST_REDUCED = "interest_reduced"
RULES = (PRICED_FROM_PAYOUT, SIGNED_AMOUNTS, INTEREST_REDUCED)


class BookingError(ValueError):
    """No schedule from this payout date keeps within the signed terms; the loan needs an officer."""


@dataclass(frozen=True)
class SignedTerms:
    """What the merchant signed: the schedule's lines, the total repayable and the APR (percent)."""

    lines: tuple[ScheduleLine, ...]
    total_repayable: Decimal
    apr: Decimal


@dataclass(frozen=True)
class BookedSchedule:
    """The schedule to book from ``start_date``, the rule that made it, and the figures the rule compared."""

    start_date: date
    rule: str
    lines: tuple[ScheduleLine, ...]
    principal: Decimal
    net_disbursement: Decimal
    total_repayable: Decimal
    apr: Decimal
    priced_total_repayable: Decimal
    priced_apr: Decimal
    signed_total_repayable: Decimal
    signed_apr: Decimal
    interest_reduced_by: Decimal = ZERO

    @property
    def maturity_date(self) -> date:
        return self.lines[-1].due_date

    def audit_data(self) -> dict[str, str]:
        """What the loan's audit row records: the rule, and the booked, priced and signed totals and APRs."""
        return {
            "rule": self.rule,
            "interest_from": self.start_date.isoformat(),
            "total_repayable": f"{self.total_repayable:.2f}",
            "apr": f"{self.apr:.2f}",
            "priced_total_repayable": f"{self.priced_total_repayable:.2f}",
            "priced_apr": f"{self.priced_apr:.2f}",
            "signed_total_repayable": f"{self.signed_total_repayable:.2f}",
            "signed_apr": f"{self.signed_apr:.2f}",
            "interest_reduced_by": f"{self.interest_reduced_by:.2f}",
        }


def signed_terms_from(*, contract_terms: dict | None, offer_quote: dict, offer_apr: Decimal | None) -> SignedTerms:
    """The signed figures: from the contract's terms when they print a schedule, else from the offer it printed."""
    if contract_terms and contract_terms.get("schedule") and contract_terms.get("totals"):
        schedule = contract_terms["schedule"]
        total = contract_terms["totals"]["total_repayable"]
        apr = contract_terms["apr"]
    else:
        schedule = offer_quote["schedule"]
        total = offer_quote["total_repayable"]
        apr = offer_apr if offer_apr is not None else offer_quote["apr"]
    return SignedTerms(
        lines=tuple(
            ScheduleLine(
                number=int(line["number"]),
                due_date=date.fromisoformat(line["due_date"]),
                principal=Decimal(line["principal"]),
                interest=Decimal(line["interest"]),
                fee=Decimal(line["fee"]),
                payment=Decimal(line["payment"]),
                balance=Decimal(line["balance"]),
            )
            for line in schedule
        ),
        total_repayable=Decimal(total),
        apr=Decimal(apr),
    )


def booked_schedule(
    *,
    snapshot: dict,
    amount: Decimal,
    term: int | None,
    repayment_method: str,
    average_daily_sales: Decimal | None,
    signed: SignedTerms,
    start: date,
) -> BookedSchedule:
    """The schedule to book for a loan whose interest runs from ``start`` (the payout date), under the module's rule.

    Prices with the money engine itself: the quote service refuses start dates in the past, and a payout recorded
    after midnight, or a test, has one. Raises ``QuoteError`` when the terms cannot be priced from ``start`` and
    ``BookingError`` when no schedule keeps within the signed terms (not seen with any product the grid allows).
    """
    priced = quote(
        quote_terms_from_snapshot(
            snapshot,
            amount=amount,
            term=term,
            start_date=start,
            repayment_method=repayment_method,
            average_daily_sales=average_daily_sales,
        )
    )
    upfront = priced.total_repayable - _payments(priced.lines)

    def booked(rule: str, lines: tuple[ScheduleLine, ...], apr: Decimal, reduced: Decimal = ZERO) -> BookedSchedule:
        return BookedSchedule(
            start_date=start,
            rule=rule,
            lines=lines,
            principal=priced.principal,
            net_disbursement=priced.net_disbursement,
            total_repayable=upfront + _payments(lines),
            apr=apr,
            priced_total_repayable=priced.total_repayable,
            priced_apr=priced.apr,
            signed_total_repayable=signed.total_repayable,
            signed_apr=signed.apr,
            interest_reduced_by=reduced,
        )

    def within(total: Decimal, apr: Decimal) -> bool:
        return total <= signed.total_repayable and apr <= signed.apr

    if within(priced.total_repayable, priced.apr):
        return booked(PRICED_FROM_PAYOUT, priced.lines, priced.apr)
    if priced.sales_share is not None:
        # A sales-share advance costs the same from any start: its fee accrues from the payout on what is outstanding,
        # capped as signed, and its deductions keep their days.
        raise BookingError(f"A sales-share advance priced from {start} costs more than signed.")

    candidates = [(PRICED_FROM_PAYOUT, priced.lines, priced.apr)]
    kept = _signed_amounts_on(priced.lines, signed)
    if kept is not None:
        kept_apr = _apr(priced, kept)
        if within(upfront + _payments(kept), kept_apr):
            return booked(SIGNED_AMOUNTS, kept, kept_apr)
        candidates.append((SIGNED_AMOUNTS, kept, kept_apr))

    # Neither fits: take the cheaper and reduce its interest by the fewest fen that bring both figures down.
    _rule, base, _base_apr = min(candidates, key=lambda candidate: _payments(candidate[1]))
    reducible = sum((line.interest + line.fee for line in base), ZERO)
    least = max(ZERO, upfront + _payments(base) - signed.total_repayable)
    if least > reducible or _apr(priced, _reduced(base, reducible)) > signed.apr:
        raise BookingError(f"No schedule from {start} keeps within the signed total and APR.")
    low, high = int(least / FEN), int(reducible / FEN)  # in fen: high always fits; find the fewest that do
    if _apr(priced, _reduced(base, least)) <= signed.apr:
        high = low
    while high - low > 1:
        middle = (low + high) // 2
        if _apr(priced, _reduced(base, middle * FEN)) <= signed.apr:
            high = middle
        else:
            low = middle
    reduction = high * FEN
    lines = _reduced(base, reduction)
    return booked(INTEREST_REDUCED, lines, _apr(priced, lines), reduction)


def _payments(lines: tuple[ScheduleLine, ...]) -> Decimal:
    return sum((line.payment for line in lines), ZERO)


def _signed_amounts_on(dated: tuple[ScheduleLine, ...], signed: SignedTerms) -> tuple[ScheduleLine, ...] | None:
    """The signed lines' amounts on ``dated``'s due dates; None when the two schedules are not line for line alike."""
    if len(dated) != len(signed.lines) or sum(line.principal for line in dated) != sum(
        line.principal for line in signed.lines
    ):
        return None
    return tuple(replace(line, due_date=new.due_date) for new, line in zip(dated, signed.lines, strict=True))


def _reduced(lines: tuple[ScheduleLine, ...], reduction: Decimal) -> tuple[ScheduleLine, ...]:
    """``lines`` with ``reduction`` taken off their interest from the first line on, then off their periodic fees."""
    left = reduction
    reduced = list(lines)
    for component in ("interest", "fee"):
        for index, line in enumerate(reduced):
            cut = min(left, getattr(line, component))
            if cut:
                reduced[index] = replace(
                    line, **{component: getattr(line, component) - cut, "payment": line.payment - cut}
                )
                left -= cut
    return tuple(reduced)


def _apr(priced: Quote, lines: tuple[ScheduleLine, ...]) -> Decimal:
    """The APR of ``lines`` from the quote's start, by the method the engine used for ``priced`` (the actuarial
    method on the rounded payments and their dates; months counted on the start's day of the month)."""
    if all(new == old for new, old in zip(lines, priced.lines, strict=True)):
        return priced.apr
    start = priced.cash_flows[0].on
    monthly = priced.apr_unit_period == UnitPeriod.MONTH
    apr, _unit = disclosed_apr(
        start_date=start,
        advance=priced.principal - priced.origination_fee - priced.insurance_premium,
        payments=[(line.due_date, line.payment) for line in lines if line.payment > 0],
        unit=UnitPeriod.MONTH if monthly else UnitPeriod.TERM,
        anchor_day=start.day if monthly else None,
    )
    return apr


__all__ = [
    "INTEREST_REDUCED",
    "PRICED_FROM_PAYOUT",
    "RULES",
    "SIGNED_AMOUNTS",
    "BookedSchedule",
    "BookingError",
    "QuoteError",
    "SignedTerms",
    "booked_schedule",
    "signed_terms_from",
]
