"""Repayment schedules for the monthly methods and the single payment at maturity.

Rules every schedule keeps:

- Each line's amounts are computed in full precision and rounded once, half-up to the fen (``core.money.to_fen``);
  the line's payment is the sum of its rounded parts, so ``principal + interest + fee == payment`` exactly.
- The last line takes the remainder: the principal column sums exactly to the principal and the balance ends at
  0.00. The balance never goes up.
- Regular monthly interest is ``balance * annual rate / 12`` whatever the month's length. An odd first period
  (a first due date other than one month after the start) accrues interest by actual days at
  ``annual rate / days in year`` (or the daily rate); the first line's principal is what a regular first period
  would repay, so the first payment differs from the others by the odd-days interest and the rest of the
  schedule is the regular one.
- Due dates are the start (or the chosen first due date) plus n calendar months; see ``lending.catalogue.money.dates``.

Beside the lines, each schedule keeps the *contract payments*: every line's payment before its fen rounding. The
APR is computed from those (see ``lending.catalogue.money.apr`` for why).
"""

from collections.abc import Callable
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
    contract_payments: tuple[Decimal, ...]  # each line's payment before fen rounding, for the APR
    interest_by_month: bool  # True: months are the APR's unit period; False: one payment after some days


@dataclass(frozen=True, slots=True)
class _Plan:
    """A quote's terms reduced to what the arithmetic needs."""

    principal: Decimal
    periods: int
    due_dates: tuple[date, ...]
    odd_days: int | None  # days in an odd first period; None when the first period is a regular month
    fee: Decimal  # periodic fee per line, already in fen
    month_interest: Callable[[Decimal], Decimal]  # unrounded interest for a regular month on a balance
    days_interest: Callable[[Decimal, int], Decimal]  # unrounded interest for some days on a balance

    def first_interest(self, balance: Decimal) -> Decimal:
        if self.odd_days is None:
            return self.month_interest(balance)
        return self.days_interest(balance, self.odd_days)


def build_schedule(terms: QuoteTerms, principal: Decimal) -> Schedule:
    """The schedule that repays ``principal`` on ``terms`` (every method but sales share)."""
    plan = _plan(terms, principal)
    if terms.method is RepaymentMethod.EQUAL_INSTALMENT:
        return _equal_instalment(plan)
    if terms.method is RepaymentMethod.EQUAL_PRINCIPAL:
        return _equal_principal(plan)
    if terms.method is RepaymentMethod.INTEREST_FIRST:
        return _interest_first(plan)
    return _bullet(plan)


def _plan(terms: QuoteTerms, principal: Decimal) -> _Plan:
    days_in_year = terms.day_count.days_in_year
    daily_rate = terms.daily_rate
    # Multiply before dividing: a product of terminating decimals is exact, so a half-fen stays a half-fen and
    # rounds up, where multiplying by a pre-divided rate (0.1 / 12 = 0.008333…) could land just below it.
    if daily_rate is None:
        annual_rate = terms.annual_rate

        def days_interest(balance: Decimal, days: int) -> Decimal:
            return balance * annual_rate * days / days_in_year
    else:
        annual_rate = daily_rate * days_in_year

        def days_interest(balance: Decimal, days: int) -> Decimal:
            return balance * daily_rate * days

    def month_interest(balance: Decimal) -> Decimal:
        return balance * annual_rate / 12

    if terms.method is RepaymentMethod.BULLET:
        if terms.term_unit is TermUnit.DAYS:
            maturity = terms.start_date + timedelta(days=terms.term)
        else:
            maturity = add_months(terms.start_date, terms.term)
        due_dates: tuple[date, ...] = (maturity,)
        odd_days = (maturity - terms.start_date).days
    elif terms.first_due_date is not None and terms.first_due_date != add_months(terms.start_date, 1):
        due_dates = tuple(add_months(terms.first_due_date, k) for k in range(terms.term))
        odd_days = (terms.first_due_date - terms.start_date).days
    else:
        due_dates = tuple(add_months(terms.start_date, k) for k in range(1, terms.term + 1))
        odd_days = None
    return _Plan(
        principal=principal,
        periods=len(due_dates),
        due_dates=due_dates,
        odd_days=odd_days,
        fee=to_fen(terms.amount * terms.fees.periodic_rate),
        month_interest=month_interest,
        days_interest=days_interest,
    )


def _too_small(plan: _Plan) -> QuoteError:
    return QuoteError(
        "amount",
        _("is too small to repay in {periods} instalments at this rate; choose a larger amount or fewer instalments"),
        periods=plan.periods,
    )


def _equal_instalment(plan: _Plan) -> Schedule:
    """Annuity (等额本息): the same payment every month, the last takes the remainder."""
    rate = plan.month_interest(Decimal(1))
    if rate:
        exact_payment = plan.principal * rate / (1 - (1 + rate) ** -plan.periods)
    else:
        exact_payment = plan.principal / plan.periods
    payment = to_fen(exact_payment)
    # Rounding the payment up by a fraction of a fen, compounded over a long high-rate schedule, can repay the
    # loan before its last line. A fen less each month fixes that (the last line then takes a larger
    # remainder); it never takes more than a couple of tries.
    for _attempt in range(10):
        lines = _amortise(plan, payment)
        if lines is not None:
            break
        payment -= FEN
    else:
        raise _too_small(plan)
    first_adjustment = plan.first_interest(plan.principal) - plan.month_interest(plan.principal)
    contract = [exact_payment + plan.fee] * plan.periods
    contract[0] += first_adjustment
    return Schedule(lines=lines, contract_payments=tuple(contract), interest_by_month=True)


def _amortise(plan: _Plan, payment: Decimal) -> tuple[ScheduleLine, ...] | None:
    """Annuity lines for a rounded ``payment``; None when it repays the loan before the last line."""
    balance = plan.principal
    fee = plan.fee
    last = plan.periods
    lines = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        regular_interest = to_fen(plan.month_interest(balance))
        if number == 1 and plan.odd_days is not None:
            interest = to_fen(plan.first_interest(balance))
        else:
            interest = regular_interest
        if number == last:
            principal = balance
        else:
            principal = payment - regular_interest
            if principal > balance:
                return None
            if principal < 0:
                raise _too_small(plan)
        balance -= principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
    return tuple(lines)


def _equal_principal(plan: _Plan) -> Schedule:
    """Equal principal (等额本金): the same principal every month plus interest on what is still owed."""
    exact_part = plan.principal / plan.periods
    part = to_fen(exact_part)
    fee = plan.fee
    balance = plan.principal
    lines = []
    contract = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        exact_balance = plan.principal - exact_part * (number - 1)
        if number == 1:
            interest = to_fen(plan.first_interest(balance))
            exact_interest = plan.first_interest(exact_balance)
        else:
            interest = to_fen(plan.month_interest(balance))
            exact_interest = plan.month_interest(exact_balance)
        principal = balance if number == plan.periods else part
        if principal > balance:
            raise _too_small(plan)
        balance -= principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
        contract.append(exact_part + exact_interest + fee)
    return Schedule(lines=tuple(lines), contract_payments=tuple(contract), interest_by_month=True)


def _interest_first(plan: _Plan) -> Schedule:
    """Interest first (先息后本): interest every month, all the principal with the last payment."""
    fee = plan.fee
    lines = []
    contract = []
    for number, due_date in enumerate(plan.due_dates, start=1):
        exact_interest = plan.first_interest(plan.principal) if number == 1 else plan.month_interest(plan.principal)
        interest = to_fen(exact_interest)
        principal = plan.principal if number == plan.periods else ZERO
        balance = ZERO if number == plan.periods else plan.principal
        lines.append(ScheduleLine(number, due_date, principal, interest, fee, principal + interest + fee, balance))
        contract.append(principal + exact_interest + fee)
    return Schedule(lines=tuple(lines), contract_payments=tuple(contract), interest_by_month=True)


def _bullet(plan: _Plan) -> Schedule:
    """Single payment at maturity (到期还本付息): interest by actual days on the product's day count."""
    exact_interest = plan.days_interest(plan.principal, plan.odd_days)
    interest = to_fen(exact_interest)
    line = ScheduleLine(1, plan.due_dates[0], plan.principal, interest, ZERO, plan.principal + interest, ZERO)
    return Schedule(lines=(line,), contract_payments=(plan.principal + exact_interest,), interest_by_month=False)
