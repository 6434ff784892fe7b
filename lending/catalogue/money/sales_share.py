"""Sales-share advances: a fee that accrues by the day on what is outstanding, repaid by a share of each day's sales.

The rule (the contract states it with the two figures):

- The fee accrues every day at ``daily_fee_rate`` on the principal still outstanding, for each day it is
  outstanding: day ``k`` after the start date (``k = 1, 2, …``) adds ``daily_fee_rate`` x the principal left after
  the payments made before that date. The fee to date is that sum rounded *down* to the fen, and never more than
  the maximum fee, ``(fee_factor - 1)`` x the amount rounded half-up to the fen (``maximum_fee``).
- Each payment pays the fee accrued to its date and not yet paid first, then principal, and never more than that:
  repaying sooner costs less, and a merchant who repays on the day it is paid out pays no fee at all.

Why it stays under the ceiling at any speed: the fee never compounds and is paid before principal, so what is owed
never exceeds what a balance compounding daily at ``daily_fee_rate`` would be; the merchant's daily IRR is therefore
at most ``daily_fee_rate``, and the APR (day unit, 365 a year, rounded up) at most ``highest_apr(daily_fee_rate)``,
which is what an advance repaid in full the day after it is paid out costs (when that day's fee is whole fen).

Each day the platform keeps ``share_rate`` of the day's sales until everything owed is paid. The contract also
requires at least 1/18 of the maximum total (amount + maximum fee) in every 60-day window, or what is still owed
if that is less, and everything within 18 months of the start.

A projection assumes the merchant sells its average every calendar day: the daily deduction is
``average_daily_sales * share_rate`` rounded to the fen, deductions start the day after the start date, and the
last one takes what is left. It lists the 60-day windows (days 1-60, 61-120, … after the start) with the
contract's minimum and the projected deductions, and flags a window that falls short and a payoff later than
the 18-month limit.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, localcontext
from itertools import repeat

from django.utils.translation import gettext_lazy as _

from core.money import FEN, to_fen

from .dates import add_months
from .terms import QuoteTerms, SalesShareTerms, _amount, _date
from .types import (
    DECIMAL_CONTEXT,
    QuoteError,
    SalesShareDay,
    SalesShareProjection,
    SalesShareWindow,
    ScheduleLine,
)

WINDOW_DAYS = 60
WINDOW_SHARE = 18  # at least 1/18 of the maximum total in every window
TERM_LIMIT_MONTHS = 18
DAYS_IN_YEAR = 365  # the APR of a sales-share advance is by the day, 365 a year (``apr.UnitPeriod.DAY``)
ZERO = Decimal("0.00")


def maximum_fee(amount: Decimal, fee_factor: Decimal) -> Decimal:
    """The most the fee can come to: ``(fee_factor - 1)`` x the amount, rounded half-up to the fen."""
    with localcontext(DECIMAL_CONTEXT):
        return to_fen(amount * (fee_factor - 1))


def fee_to_date(*, principal_days: Decimal, daily_fee_rate: Decimal, maximum: Decimal) -> Decimal:
    """The fee accrued on ``principal_days`` (the sum, over the days so far, of the principal outstanding each day):
    rounded down to the fen, and never above ``maximum``."""
    with localcontext(DECIMAL_CONTEXT):
        return min(maximum, (principal_days * daily_fee_rate).quantize(FEN, rounding=ROUND_DOWN))


def principal_days(
    *, principal: Decimal, start_date: date, on: date, repaid: Iterable[tuple[date, Decimal]]
) -> Decimal:
    """The principal outstanding summed over the days from ``start_date`` to ``on``: day ``k`` counts the principal
    left after the repayments ``(date, principal repaid)`` made before it, so money repaid on a date stops accruing
    from the next day, and a repayment on ``on`` itself does not reduce the fee accrued to ``on``."""
    with localcontext(DECIMAL_CONTEXT):
        total = principal * max((on - start_date).days, 0)
        for day, amount in repaid:
            if day < on:
                total -= amount * (on - max(day, start_date)).days
        return total


def highest_apr(daily_fee_rate: Decimal) -> Decimal:
    """The highest APR (percent, two places, rounded up) any repayment of an advance at ``daily_fee_rate`` can give:
    ``daily_fee_rate`` x 365. It is reached by repaying in full the day after the payout (whenever that day's fee
    is a whole number of fen); any slower repayment, or one whose fee is rounded down, costs less."""
    with localcontext(DECIMAL_CONTEXT):
        return (daily_fee_rate * DAYS_IN_YEAR * 100).quantize(FEN, rounding=ROUND_CEILING)


def sales_share_repayments(
    *,
    amount: Decimal,
    start_date: date,
    fee_factor: Decimal,
    daily_fee_rate: Decimal,
    deductions: Iterable[Decimal],
) -> tuple[SalesShareDay, ...]:
    """What the deductions offered on days 1, 2, … after ``start_date`` pay, by the rule: each pays the fee accrued to
    its day and not yet paid, then principal, and never more than that (it takes what is owed when it is more).
    Stops once the advance is repaid; a deduction of 0.00 is a day that paid nothing."""
    with localcontext(DECIMAL_CONTEXT):
        maximum = maximum_fee(amount, fee_factor)
        principal, fee_paid, accrued_on = amount, ZERO, Decimal(0)
        days = []
        for day, offered in enumerate(deductions, start=1):
            accrued_on += principal  # the principal outstanding over the day that ends with this deduction
            fee_owed = fee_to_date(principal_days=accrued_on, daily_fee_rate=daily_fee_rate, maximum=maximum) - fee_paid
            payment = min(offered, principal + fee_owed)
            fee = min(payment, fee_owed)
            fee_paid += fee
            principal -= payment - fee
            days.append(
                SalesShareDay(
                    on=start_date + timedelta(days=day),
                    payment=payment,
                    fee=fee,
                    principal=payment - fee,
                    balance=principal,
                )
            )
            if not principal:
                break
        return tuple(days)


def project_sales_share(
    *,
    amount: Decimal,
    start_date: date,
    fee_factor: Decimal,
    share_rate: Decimal,
    average_daily_sales: Decimal,
    daily_fee_rate: Decimal,
) -> SalesShareProjection:
    """Project how an advance of ``amount`` is repaid at ``average_daily_sales``; raises ``QuoteError`` on bad input."""
    terms = SalesShareTerms(
        fee_factor=fee_factor,
        share_rate=share_rate,
        average_daily_sales=average_daily_sales,
        daily_fee_rate=daily_fee_rate,
    )
    with localcontext(DECIMAL_CONTEXT):
        amount = _amount("amount", amount, minimum=Decimal("0.01"))
    return _project(amount, _date("start_date", start_date), terms)[0]


def _project(
    amount: Decimal, start_date: date, terms: SalesShareTerms
) -> tuple[SalesShareProjection, tuple[SalesShareDay, ...]]:
    with localcontext(DECIMAL_CONTEXT):
        maximum = maximum_fee(amount, terms.fee_factor)
        deduction = to_fen(terms.average_daily_sales * terms.share_rate)
        window_minimum = to_fen((amount + maximum) / WINDOW_SHARE)
        term_limit_date = add_months(start_date, TERM_LIMIT_MONTHS)
        limit_days = (term_limit_date - start_date).days
        # Day by day to the end of the window that holds the limit: every window shown is projected in full.
        horizon = -(-limit_days // WINDOW_DAYS) * WINDOW_DAYS
        days = sales_share_repayments(
            amount=amount,
            start_date=start_date,
            fee_factor=terms.fee_factor,
            daily_fee_rate=terms.daily_fee_rate,
            deductions=repeat(deduction, horizon),
        )
        days_to_payoff = payoff_date = None
        if days and not days[-1].balance:
            days_to_payoff = len(days)
            fee = sum((day.fee for day in days), ZERO)
        else:
            # Not repaid even then: later the fee can only have grown to the maximum, which is what the projection
            # assumes (the contract is broken anyway, and a quote refuses it).
            fee = maximum
            if deduction:
                paid = sum((day.payment for day in days), ZERO)
                rest = (amount + fee - paid) / deduction
                days_to_payoff = horizon + int(rest.to_integral_value(rounding=ROUND_CEILING))
        if days_to_payoff is not None and days_to_payoff <= (date.max - start_date).days:
            payoff_date = start_date + timedelta(days=days_to_payoff)
        total = amount + fee
        # Windows up to the payoff; a projection that runs past the limit is shown up to the limit's window,
        # which is where the contract is already broken.
        covered_days = days_to_payoff if days_to_payoff is not None and days_to_payoff <= limit_days else limit_days
        paid_by_day = [day.payment for day in days]
        windows = []
        for number in range(1, -(-covered_days // WINDOW_DAYS) + 1):
            last_day = number * WINDOW_DAYS
            first_day = last_day - WINDOW_DAYS + 1
            paid_before = sum(paid_by_day[: first_day - 1], ZERO)
            windows.append(
                SalesShareWindow(
                    number=number,
                    start_date=start_date + timedelta(days=first_day),
                    end_date=start_date + timedelta(days=last_day),
                    minimum=min(window_minimum, total - paid_before),
                    projected=sum(paid_by_day[first_day - 1 : last_day], ZERO),
                )
            )
        projection = SalesShareProjection(
            amount=amount,
            fee=fee,
            total_repayable=total,
            daily_deduction=deduction,
            start_date=start_date,
            days_to_payoff=days_to_payoff,
            payoff_date=payoff_date,
            term_limit_date=term_limit_date,
            window_minimum=window_minimum,
            windows=tuple(windows),
            daily_fee_rate=terms.daily_fee_rate,
            maximum_fee=maximum,
            highest_apr=highest_apr(terms.daily_fee_rate),
        )
        return projection, days


def sales_share_quote_parts(
    terms: QuoteTerms,
) -> tuple[SalesShareProjection, tuple[ScheduleLine, ...], list[tuple[date, Decimal]]]:
    """For ``quote()``: the projection, one schedule line per window and the daily deductions (rounded, dated).

    A line's principal and fee are what the window's deductions pay of each, day by day by the rule, so the
    principal column sums exactly to the amount and the fee column to the projected fee.
    """
    projection, days = _project(terms.amount, terms.start_date, terms.sales_share)
    if projection.breaches_term_limit:
        raise QuoteError(
            "sales_share.average_daily_sales",
            _(
                "is too low: at this average the advance is not repaid by {limit} (18 months); "
                "offer less or take a larger share of sales"
            ),
            limit=projection.term_limit_date.isoformat(),
        )
    lines = []
    balance = projection.amount
    for window in projection.windows:
        in_window = [day for day in days if window.start_date <= day.on <= window.end_date]
        principal = sum((day.principal for day in in_window), ZERO)
        balance -= principal
        lines.append(
            ScheduleLine(
                number=window.number,
                due_date=min(window.end_date, projection.payoff_date),
                principal=principal,
                interest=ZERO,
                fee=sum((day.fee for day in in_window), ZERO),
                payment=window.projected,
                balance=balance,
            )
        )
    deductions = [(day.on, day.payment) for day in days if day.payment]
    return projection, tuple(lines), deductions
