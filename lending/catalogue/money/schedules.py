"""Repayment schedules for the monthly methods and the single payment at maturity.

One day count for every line (the product's ``day_count``, stated in the quote and the contract): interest
accrues on the principal outstanding, for the actual days it is outstanding, at ``annual rate / days in year``
a day (or at the daily rate). A line's interest is that for the days since the previous due date (the start
date for the first line), whatever the month's length, so an odd first period needs no rule of its own.

Rules every schedule keeps:

- Each line's amounts are computed in full precision and rounded once, half-up to the fen (``core.money.to_fen``);
  the line's payment is the sum of its rounded parts, so ``principal + interest + fee == payment`` exactly.
- The last line takes the remainder: the principal column sums exactly to the principal and the balance ends at
  0.00. The balance never goes up.
- Equal instalments: the level payment that repays the principal with that day-count interest exactly over the
  due dates (``level_payment``), rounded half-up to the fen; every line pays it (the last one adjusts for the fen
  rounding), the interest part by the line's actual days and the rest principal.
- Due dates are the start (or the chosen first due date) plus n calendar months; see ``lending.catalogue.money.dates``.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from core.money import FEN, to_fen

from .dates import add_months
from .terms import QuoteTerms
from .types import QuoteError, RepaymentMethod, ScheduleLine, TermUnit

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Schedule:
    lines: tuple[ScheduleLine, ...]
    interest_by_month: bool  # True: months are the APR's unit period; False: one payment after some days
    anchor_day: int  # the day of the month the due dates keep (31: month ends), for the APR's month counting


@dataclass(frozen=True, slots=True)
class _Plan:
    """A quote's terms reduced to what the arithmetic needs."""

    principal: Decimal
    periods: int
    due_dates: tuple[date, ...]
    period_rates: tuple[Decimal, ...]  # unrounded interest per yuan for each line's days (rate x days / year)
    fee: Decimal  # periodic fee per line, already in fen
    anchor_day: int

    def interest(self, balance: Decimal, number: int) -> Decimal:
        """The unrounded interest on ``balance`` over line ``number``'s days."""
        return balance * self.period_rates[number - 1]


def build_schedule(terms: QuoteTerms, principal: Decimal) -> Schedule:
    """The schedule that repays ``principal`` on ``terms`` (every method but sales share)."""
    plan = _plan(terms, principal)
    if terms.method is RepaymentMethod.EQUAL_INSTALMENT:
        lines = _equal_instalment(plan)
    elif terms.method is RepaymentMethod.EQUAL_PRINCIPAL:
        lines = _equal_principal(plan)
    elif terms.method is RepaymentMethod.INTEREST_FIRST:
        lines = _interest_first(plan)
    else:
        lines = _bullet(plan)
    return Schedule(
        lines=lines, interest_by_month=terms.method is not RepaymentMethod.BULLET, anchor_day=plan.anchor_day
    )


def days_interest(
    *, balance: Decimal, days: int, annual_rate: Decimal | None, daily_rate: Decimal | None, days_in_year: int
) -> Decimal:
    """Unrounded interest on ``balance`` for ``days`` by the one day count: the convention every line, payoff and
    prepayment uses. Multiply before dividing: a product of terminating decimals is exact, so a half-fen stays a
    half-fen and rounds up."""
    if daily_rate is not None:
        return balance * daily_rate * days
    return balance * annual_rate * days / days_in_year


def _plan(terms: QuoteTerms, principal: Decimal) -> _Plan:
    if terms.method is RepaymentMethod.BULLET:
        if terms.term_unit is TermUnit.DAYS:
            maturity = terms.start_date + timedelta(days=terms.term)
        else:
            maturity = add_months(terms.start_date, terms.term)
        due_dates: tuple[date, ...] = (maturity,)
        anchor_day = maturity.day
    elif terms.first_due_date is not None:
        due_dates = tuple(add_months(terms.first_due_date, k) for k in range(terms.term))
        anchor_day = terms.first_due_date.day
    else:
        due_dates = tuple(add_months(terms.start_date, k) for k in range(1, terms.term + 1))
        anchor_day = terms.start_date.day
    previous = terms.start_date
    rates = []
    for due_date in due_dates:
        rates.append(
            days_interest(
                balance=Decimal(1),
                days=(due_date - previous).days,
                annual_rate=terms.annual_rate,
                daily_rate=terms.daily_rate,
                days_in_year=terms.day_count.days_in_year,
            )
        )
        previous = due_date
    return _Plan(
        principal=principal,
        periods=len(due_dates),
        due_dates=due_dates,
        period_rates=tuple(rates),
        fee=to_fen(terms.amount * terms.fees.periodic_rate),
        anchor_day=anchor_day,
    )


def level_payment(principal: Decimal, period_rates: tuple[Decimal, ...]) -> tuple[Decimal, frozenset[int]]:
    """The unrounded payment, the same on every line, that repays ``principal`` exactly when each line's interest
    is ``balance * period_rates[k]``: ``principal * prod(1 + r_k) / sum_j prod_{k > j}(1 + r_k)``.

    A line whose interest alone is more than that payment (a long first period at a high rate) pays its interest
    and no principal, so the balance never grows; the others share the level payment. Returns the payment and
    the numbers of those interest-only lines.
    """
    interest_only: frozenset[int] = frozenset()
    for _attempt in range(len(period_rates)):
        growth, annuity = Decimal(1), Decimal(0)
        for number in range(len(period_rates), 0, -1):
            if number in interest_only:
                continue
            annuity += growth
            growth *= 1 + period_rates[number - 1]
        payment = principal * growth / annuity
        balance, more = principal, set(interest_only)
        for number, rate in enumerate(period_rates, start=1):
            interest = balance * rate
            if number in interest_only:
                continue
            if interest > payment and number < len(period_rates):
                more.add(number)
            balance -= payment - interest
        if more == interest_only:
            return payment, interest_only
        interest_only = frozenset(more)
    return payment, interest_only


def _too_small(plan: _Plan) -> QuoteError:
    return QuoteError(
        "amount",
        _("is too small to repay in {periods} instalments at this rate; choose a larger amount or fewer instalments"),
        periods=plan.periods,
    )


def _equal_instalment(plan: _Plan) -> tuple[ScheduleLine, ...]:
    """Annuity (等额本息): the same payment every month, the last takes the remainder."""
    exact, interest_only = level_payment(plan.principal, plan.period_rates)
    payment = to_fen(exact)
    # Rounding the payment up by a fraction of a fen, compounded over a long high-rate schedule, can repay the
    # loan before its last line. A fen less each month fixes that (the last line then takes a larger
    # remainder); it never takes more than a couple of tries.
    for _attempt in range(10):
        lines = _amortise(plan, payment, interest_only)
        if lines is not None:
            return lines
        payment -= FEN
    raise _too_small(plan)


def _amortise(plan: _Plan, payment: Decimal, interest_only: frozenset[int]) -> tuple[ScheduleLine, ...] | None:
    """Annuity lines for a rounded ``payment``; None when it repays the loan before the last line."""
    balance = plan.principal
    fee = plan.fee
    last = plan.periods
    lines = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        interest = to_fen(plan.interest(balance, number))
        if number == last:
            principal = balance
        elif number in interest_only:
            principal = ZERO
        else:
            principal = payment - interest
            if principal > balance:
                return None
            if principal < 0:
                raise _too_small(plan)
        balance -= principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
    return tuple(lines)


def _equal_principal(plan: _Plan) -> tuple[ScheduleLine, ...]:
    """Equal principal (等额本金): the same principal every month plus interest on what is still owed."""
    part = to_fen(plan.principal / plan.periods)
    fee = plan.fee
    balance = plan.principal
    lines = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        interest = to_fen(plan.interest(balance, number))
        principal = balance if number == plan.periods else part
        if principal > balance:
            raise _too_small(plan)
        balance -= principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
    return tuple(lines)


def _interest_first(plan: _Plan) -> tuple[ScheduleLine, ...]:
    """Interest first (先息后本): interest every month, all the principal with the last payment."""
    fee = plan.fee
    lines = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        interest = to_fen(plan.interest(plan.principal, number))
        principal = plan.principal if number == plan.periods else ZERO
        balance = ZERO if number == plan.periods else plan.principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
    return tuple(lines)


def _bullet(plan: _Plan) -> tuple[ScheduleLine, ...]:
    """Single payment at maturity (到期还本付息): interest for the actual days."""
    interest = to_fen(plan.interest(plan.principal, 1))
    return (ScheduleLine(1, plan.due_dates[0], plan.principal, interest, ZERO, plan.principal + interest, ZERO),)
