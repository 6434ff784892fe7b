"""Sales-share advances: a fixed fee, repaid by a fixed share of each day's gross sales.

The merchant owes ``amount * fee_factor`` (fee factor 1.02-1.15), whatever the time it takes. Each day the
platform keeps ``share_rate`` of the day's sales until that is paid. The contract also requires at least 1/18 of
the total in every 60-day window and everything within 18 months of the start.

A projection assumes the merchant sells its average every calendar day: the daily deduction is
``average_daily_sales * share_rate`` rounded to the fen, deductions start the day after the start date, and the
last one takes what is left. It lists the 60-day windows (days 1-60, 61-120, … after the start) with the
contract's minimum and the projected deductions, and flags a window that falls short and a payoff later than
the 18-month limit.
"""

from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext

from django.utils.translation import gettext_lazy as _

from core.money import to_fen

from .dates import add_months
from .terms import QuoteTerms, SalesShareTerms, _amount, _date
from .types import (
    DECIMAL_CONTEXT,
    QuoteError,
    SalesShareProjection,
    SalesShareWindow,
    ScheduleLine,
)

WINDOW_DAYS = 60
WINDOW_SHARE = 18  # at least 1/18 of the total in every window
TERM_LIMIT_MONTHS = 18
ZERO = Decimal("0.00")


def project_sales_share(
    *,
    amount: Decimal,
    start_date: date,
    fee_factor: Decimal,
    share_rate: Decimal,
    average_daily_sales: Decimal,
) -> SalesShareProjection:
    """Project how an advance of ``amount`` is repaid at ``average_daily_sales``; raises ``QuoteError`` on bad input."""
    terms = SalesShareTerms(fee_factor=fee_factor, share_rate=share_rate, average_daily_sales=average_daily_sales)
    with localcontext(DECIMAL_CONTEXT):
        amount = _amount("amount", amount, minimum=Decimal("0.01"))
    return _project(amount, _date("start_date", start_date), terms)


def _project(amount: Decimal, start_date: date, terms: SalesShareTerms) -> SalesShareProjection:
    with localcontext(DECIMAL_CONTEXT):
        total = to_fen(amount * terms.fee_factor)
        deduction = to_fen(terms.average_daily_sales * terms.share_rate)
        window_minimum = to_fen(total / WINDOW_SHARE)
        term_limit_date = add_months(start_date, TERM_LIMIT_MONTHS)
        limit_days = (term_limit_date - start_date).days
        days_to_payoff = payoff_date = None
        if deduction:
            days_to_payoff = int((total / deduction).to_integral_value(rounding=ROUND_CEILING))
            if days_to_payoff <= (date.max - start_date).days:
                payoff_date = start_date + timedelta(days=days_to_payoff)
        # Windows up to the payoff; a projection that runs past the limit is shown up to the limit's window,
        # which is where the contract is already broken.
        covered_days = days_to_payoff if days_to_payoff is not None and days_to_payoff <= limit_days else limit_days
        windows = []
        for number in range(1, -(-covered_days // WINDOW_DAYS) + 1):
            last_day = number * WINDOW_DAYS
            first_day = last_day - WINDOW_DAYS + 1
            paid_before = min(total, deduction * (first_day - 1))
            windows.append(
                SalesShareWindow(
                    number=number,
                    start_date=start_date + timedelta(days=first_day),
                    end_date=start_date + timedelta(days=last_day),
                    minimum=min(window_minimum, total - paid_before),
                    projected=min(total, deduction * last_day) - paid_before,
                )
            )
        return SalesShareProjection(
            amount=amount,
            fee=total - amount,
            total_repayable=total,
            daily_deduction=deduction,
            start_date=start_date,
            days_to_payoff=days_to_payoff,
            payoff_date=payoff_date,
            term_limit_date=term_limit_date,
            window_minimum=window_minimum,
            windows=tuple(windows),
        )


def sales_share_quote_parts(
    terms: QuoteTerms,
) -> tuple[SalesShareProjection, tuple[ScheduleLine, ...], list[tuple[date, Decimal]]]:
    """For ``quote()``: the projection, one schedule line per window and the daily deductions (rounded, dated).

    A line's principal is the share of the deductions so far that repays the advance (``paid / fee factor``),
    rounded once on the running total, so the principal column sums exactly to the amount; the rest of each line
    is fee.
    """
    projection = _project(terms.amount, terms.start_date, terms.sales_share)
    if projection.breaches_term_limit:
        raise QuoteError(
            "sales_share.average_daily_sales",
            _(
                "is too low: at this average the advance is not repaid by {limit} (18 months); "
                "offer less or take a larger share of sales"
            ),
            limit=projection.term_limit_date.isoformat(),
        )
    amount, total = projection.amount, projection.total_repayable
    lines = []
    principal_so_far = paid_so_far = ZERO
    for window in projection.windows:
        paid_so_far += window.projected
        principal_to_date = amount if paid_so_far == total else to_fen(paid_so_far * amount / total)
        principal = principal_to_date - principal_so_far
        principal_so_far = principal_to_date
        lines.append(
            ScheduleLine(
                number=window.number,
                due_date=min(window.end_date, projection.payoff_date),
                principal=principal,
                interest=ZERO,
                fee=window.projected - principal,
                payment=window.projected,
                balance=amount - principal_so_far,
            )
        )
    deductions = _daily(terms.start_date, total, projection.daily_deduction)
    return projection, tuple(lines), deductions


def _daily(start_date: date, total: Decimal, deduction: Decimal) -> list[tuple[date, Decimal]]:
    """(date, amount) for each day's deduction until ``total`` is paid; the last takes what is left."""
    days = int((total / deduction).to_integral_value(rounding=ROUND_CEILING))
    flows = [(start_date + timedelta(days=day), deduction) for day in range(1, days)]
    flows.append((start_date + timedelta(days=days), total - deduction * (days - 1)))
    return flows
