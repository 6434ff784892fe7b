"""The annual percentage rate: the actuarial (IRR) method over the dated cash flows, fees included.

What is solved
--------------
The borrower receives ``A`` at the start date — the amount, less an origination fee that is deducted from the
payout or paid on the start date (a financed fee is not subtracted: it is in the principal being repaid). Each
payment ``P_k`` falls at its due date. The periodic rate ``i`` is the root of the actuarial equation of
Regulation Z, Appendix J (the same IRR the Chinese regulators' 年化利率 rests on)::

    A = sum_k  P_k / ((1 + f_k * i) * (1 + i) ** t_k)

where ``t_k`` is the number of whole unit periods from the start date to the payment and ``f_k`` the fraction of
a unit period left over (simple interest for that fraction, as Appendix J has it). The APR is nominal:
``APR = i * unit periods per year``. The unit period follows how the product runs:

- ``month`` — monthly instalment methods (equal instalment, equal principal, interest first), also when there is
  only one instalment. 12 a year. As Appendix J (b)(5) requires, whole months are counted *back* from each
  payment date towards the start date, on the day of the month the payments keep (a series due on the 31st
  counts month ends: 28 February back one month is 31 January); the days left over between the start date and
  the last whole month count 1/30 of a month each. An odd first period is therefore the fraction at the front
  of every payment's time, never spread over the later months.
- ``term`` — a single payment at maturity no more than a year after the start: the unit period is the term
  itself (Appendix J's rule for single-advance, single-payment credit), ``365 / days`` of them a year, so
  ``APR = (payment / A - 1) * 365 / days``; a term of exactly twelve months is one a year, whatever its days.
  Past a year the unit period is the ``year``: whole years from the start, left-over days count 1/365.
- ``day`` — sales-share advances, repaid every calendar day: 365 a year, ``APR = daily rate * 365``. This is
  XIRR's daily compounding, stated as a nominal rate.

Which payments
--------------
``P_k`` is what the borrower actually pays: each schedule line's payment as rounded to the fen, on its real due
date, fees included. The disclosed APR is never below the IRR of those payments.

Disclosure
----------
Two decimals of a percentage, rounded up (ceiling) — never understated. ``i`` is first found in float arithmetic
(bracket from 0 upwards, then Brent's method, which cannot diverge the way Newton's method can on a
fee-heavy or very short loan). The float result only *suggests* the disclosed figure: the figure itself is the
smallest two-decimal APR ``d`` whose discounted payments, evaluated in 34-digit ``Decimal``, do not exceed
``A`` (to within 1e-20 of ``A``, the arithmetic's own noise). Both ``d`` and ``d - 0.01`` are checked, so a
float error in either direction cannot change what is shown. A loan whose payments add up to ``A`` exactly
(no interest, no fees) has APR 0.00.
"""

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum

from .dates import add_months, days_in_month, months_and_days
from .types import DECIMAL_CONTEXT

_TOLERANCE = Decimal("1e-20")
_DAYS_IN_YEAR = 365


class UnitPeriod(StrEnum):
    MONTH = "month"
    TERM = "term"
    YEAR = "year"
    DAY = "day"


# (t, f, amount): whole unit periods, the fraction of one left over, the payment.
_Flow = tuple[int, Decimal, Decimal]


def disclosed_apr(
    *,
    start_date: date,
    advance: Decimal,
    payments: Sequence[tuple[date, Decimal]],
    unit: UnitPeriod,
    anchor_day: int | None = None,
) -> tuple[Decimal, UnitPeriod]:
    """The APR to disclose (percentage, two places, rounded up) and the unit period it was computed on.

    ``advance`` is the cash the borrower gets on ``start_date``; ``payments`` are (due date, amount) in date
    order, every amount positive. ``unit`` is ``MONTH``, ``DAY`` or ``TERM`` (which becomes ``YEAR`` for a term
    longer than a year). ``anchor_day`` is the day of the month monthly payments keep (31 for month ends); by
    default it is read from the payment dates.
    """
    with localcontext(DECIMAL_CONTEXT):
        flows, per_year, unit = _flows(start_date, payments, unit, anchor_day)
        return _solve(advance, flows, per_year), unit


def months_back(start: date, on: date, anchor_day: int) -> tuple[int, int]:
    """Whole months counted back from ``on`` towards ``start`` on the day ``anchor_day`` (Appendix J (b)(5)), and
    the days left over between ``start`` and the earliest of those month days.

    ``months_back(date(1978, 2, 10), date(1978, 4, 1), 1) == (1, 19)``: back from 1 April to 1 March is one month,
    and 10 February to 1 March is 19 days.
    """
    if on.day != min(anchor_day, days_in_month(on.year, on.month)):
        anchor_day = on.day  # a payment off the series' day counts back on its own day

    def back(months: int) -> date:
        year, month_index = divmod(on.year * 12 + on.month - 1 - months, 12)
        return date(year, month_index + 1, min(anchor_day, days_in_month(year, month_index + 1)))

    months = max((on.year - start.year) * 12 + on.month - start.month, 0)
    while months > 0 and back(months) < start:
        months -= 1
    return months, (back(months) - start).days


def _anchor_day(payments: Sequence[tuple[date, Decimal]]) -> int:
    """The day of the month a series of payments keeps: 31 when every one falls on a month end."""
    if all(on.day == days_in_month(on.year, on.month) for on, _amount in payments):
        return 31
    return max(on.day for on, _amount in payments)


def actuarial_apr(
    *,
    start_date: date,
    advance: Decimal,
    payments: Sequence[tuple[date, Decimal]],
    unit: UnitPeriod,
    anchor_day: int | None = None,
) -> Decimal:
    """The unrounded APR in percent (to about 1e-12 of a point), for checking figures against published ones; the
    disclosure is ``disclosed_apr``. Bisection in Decimal on the same equation."""
    with localcontext(DECIMAL_CONTEXT):
        flows, (numerator, denominator), _unit = _flows(start_date, payments, unit, anchor_day)
        low, high = Decimal(0), Decimal(1)
        if _npv_decimal(low, advance, flows) <= 0:
            return Decimal(0)
        while _npv_decimal(high, advance, flows) > 0:
            high *= 2
        while (high - low) * numerator / denominator * 100 > Decimal("1e-12"):
            middle = (low + high) / 2
            if _npv_decimal(middle, advance, flows) > 0:
                low = middle
            else:
                high = middle
        return high * numerator / denominator * 100


def _flows(
    start_date: date, payments: Sequence[tuple[date, Decimal]], unit: UnitPeriod, anchor_day: int | None = None
) -> tuple[list[_Flow], tuple[int, int], UnitPeriod]:
    """The payments in unit periods, the unit periods in a year as a fraction (numerator, denominator), the unit."""
    zero = Decimal(0)
    if unit is UnitPeriod.DAY:
        return [((on - start_date).days, zero, amount) for on, amount in payments], (_DAYS_IN_YEAR, 1), unit
    if unit is UnitPeriod.MONTH:
        anchor = anchor_day or _anchor_day(payments)
        flows = []
        for on, amount in payments:
            months, days = months_back(start_date, on, anchor)
            flows.append((months, Decimal(days) / 30 if days else zero, amount))
        return flows, (12, 1), unit
    # A single payment: the term is the unit period, unless the term is longer than a year.
    (maturity, amount), *rest = payments
    if rest:
        raise ValueError("the term is the unit period only for a single payment")
    a_year_on = add_months(start_date, 12)
    if maturity < a_year_on:
        return [(1, zero, amount)], (_DAYS_IN_YEAR, (maturity - start_date).days), UnitPeriod.TERM
    if maturity == a_year_on:
        # A term of twelve months is one unit period a year (Appendix J (b)(4): 12 months / 12), however many days
        # it has: 365 / 366 of a period a year would understate the APR of a term over a 29 February.
        return [(1, zero, amount)], (1, 1), UnitPeriod.TERM
    months, _days = months_and_days(start_date, maturity)
    years = months // 12
    days = (maturity - add_months(start_date, 12 * years)).days
    return [(years, Decimal(days) / _DAYS_IN_YEAR if days else zero, amount)], (1, 1), UnitPeriod.YEAR


def _solve(advance: Decimal, flows: list[_Flow], per_year: tuple[int, int]) -> Decimal:
    tolerance = advance * _TOLERANCE
    numerator, denominator = per_year

    def covered(basis_points: int) -> bool:
        """Do the payments, discounted at an APR of ``basis_points`` hundredths of a percent, repay the advance?"""
        rate = Decimal(basis_points) * denominator / (10_000 * numerator)
        return _npv_decimal(rate, advance, flows) <= tolerance

    if covered(0):
        return Decimal("0.00")
    # Float only suggests where to start looking; every rate disclosed is decided by ``covered`` in Decimal.
    guess = _root_float(float(advance), [(t, float(f), float(amount)) for t, f, amount in flows])
    suggested = max(1, math.ceil(guess * numerator / denominator * 10_000))
    # The smallest APR on the two-decimal grid that repays the advance: bracket it around the float
    # suggestion (usually the suggestion and the step below settle it), then bisect.
    if covered(suggested):
        high, step = suggested, 1
        low = high - step
        while low > 0 and covered(low):
            high, step = low, step * 2
            low = high - step
        low = max(low, 0)
    else:
        low, step = suggested, 1
        high = low + step
        while not covered(high):
            low, step = high, step * 2
            high = low + step
    while high - low > 1:
        middle = (low + high) // 2
        if covered(middle):
            high = middle
        else:
            low = middle
    return Decimal(high).scaleb(-2)


def _npv_decimal(rate: Decimal, advance: Decimal, flows: list[_Flow]) -> Decimal:
    base = 1 + rate
    total = -advance
    power, power_of = Decimal(1), 0
    for periods, fraction, amount in flows:
        # Flows are in date order and mostly one period apart: step the power instead of recomputing it.
        if periods == power_of + 1:
            power *= base
        elif periods != power_of:
            power = base**periods
        power_of = periods
        total += amount / (power * (1 + fraction * rate) if fraction else power)
    return total


def _npv_float(rate: float, advance: float, flows: list[tuple[int, float, float]]) -> float:
    base = 1.0 + rate
    total = -advance
    power, power_of = 1.0, 0
    for periods, fraction, amount in flows:
        if periods == power_of + 1:
            power *= base
        elif periods != power_of:
            power = base**periods
        power_of = periods
        total += amount / (power * (1.0 + fraction * rate) if fraction else power)
    return total


def _root_float(advance: float, flows: list[tuple[int, float, float]]) -> float:
    """The periodic rate in float: bracketed from 0 (where the payments exceed the advance) upwards, then Brent."""

    def npv(rate: float) -> float:
        return _npv_float(rate, advance, flows)

    low, f_low = 0.0, npv(0.0)
    if f_low <= 0:
        return 0.0
    high = 0.05
    f_high = npv(high)
    while f_high > 0:
        if high > 1e9:
            return high  # the Decimal search expands from here; no consumer loan gets near it
        low, f_low = high, f_high
        high *= 4
        f_high = npv(high)
    return _brent(npv, low, high, f_low, f_high)


def _brent(
    function, low: float, high: float, f_low: float, f_high: float, tolerance: float = 1e-15, max_iterations: int = 200
) -> float:
    """Brent's root finder (as in Numerical Recipes' zbrent): bisection's guarantee with secant speed."""
    a, b, fa, fb = low, high, f_low, f_high
    c, fc = b, fb
    d = e = b - a
    for _ in range(max_iterations):
        if (fb > 0) == (fc > 0):
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance1 = 2.0 * 2.2e-16 * abs(b) + 0.5 * tolerance
        middle = 0.5 * (c - b)
        if abs(middle) <= tolerance1 or fb == 0:
            return b
        if abs(e) >= tolerance1 and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p, q = 2.0 * middle * s, 1.0 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2.0 * middle * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * middle * q - abs(tolerance1 * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = middle
        else:
            d = e = middle
        a, fa = b, fb
        b += d if abs(d) > tolerance1 else math.copysign(tolerance1, middle)
        fb = function(b)
    return b
