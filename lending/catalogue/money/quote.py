"""``quote()``: terms in, a priced schedule out."""

from decimal import Decimal, localcontext

from django.utils.translation import gettext_lazy as _

from .apr import UnitPeriod, disclosed_apr
from .sales_share import sales_share_quote_parts
from .schedules import build_schedule
from .terms import QuoteTerms
from .types import DECIMAL_CONTEXT, CashFlow, FeeTiming, Quote, QuoteError

ZERO = Decimal("0.00")


def quote(terms: QuoteTerms) -> Quote:
    """Price a loan: its schedule, totals, cash flows and APR. Pure arithmetic; raises ``QuoteError`` on bad terms."""
    if not isinstance(terms, QuoteTerms):
        raise QuoteError("terms", _("must be QuoteTerms"))
    with localcontext(DECIMAL_CONTEXT):
        if terms.is_sales_share:
            return _sales_share_quote(terms)
        return _instalment_quote(terms)


def _instalment_quote(terms: QuoteTerms) -> Quote:
    amount = terms.amount
    fee = terms.origination_fee
    premium = terms.insurance_premium
    timing = terms.fees.origination_timing
    principal = amount + fee if timing is FeeTiming.FINANCED else amount
    # A borrower-paid insurance premium is always withheld from the payout, like a deducted origination fee.
    paid_out = (amount - fee if timing is FeeTiming.DEDUCTED else amount) - premium
    # The cash the borrower has in hand after the start date: an up-front fee is paid back the same day.
    advance = (amount if timing is FeeTiming.FINANCED else amount - fee) - premium

    schedule = build_schedule(terms, principal)
    lines = schedule.lines
    apr, unit = disclosed_apr(
        start_date=terms.start_date,
        advance=advance,
        payments=[(line.due_date, line.payment) for line in lines],
        unit=UnitPeriod.MONTH if schedule.interest_by_month else UnitPeriod.TERM,
        anchor_day=schedule.anchor_day,
    )

    total_interest = sum((line.interest for line in lines), ZERO)
    total_fees = fee + premium + sum((line.fee for line in lines), ZERO)
    upfront_fee = fee if timing is FeeTiming.UPFRONT else ZERO
    total_repayable = sum((line.payment for line in lines), ZERO) + upfront_fee
    cash_flows = [CashFlow(terms.start_date, paid_out)]
    if upfront_fee:
        cash_flows.append(CashFlow(terms.start_date, -upfront_fee))
    cash_flows.extend(CashFlow(line.due_date, -line.payment) for line in lines)
    return Quote(
        method=terms.method,
        amount=amount,
        principal=principal,
        origination_fee=fee,
        insurance_premium=premium,
        net_disbursement=paid_out,
        lines=lines,
        total_interest=total_interest,
        total_fees=total_fees,
        total_repayable=total_repayable,
        total_cost_of_credit=total_interest + total_fees,
        apr=apr,
        apr_unit_period=unit.value,
        cash_flows=tuple(cash_flows),
    )


def _sales_share_quote(terms: QuoteTerms) -> Quote:
    projection, lines, deductions = sales_share_quote_parts(terms)
    apr, unit = disclosed_apr(
        start_date=terms.start_date, advance=terms.amount, payments=deductions, unit=UnitPeriod.DAY
    )
    cash_flows = [CashFlow(terms.start_date, terms.amount)]
    cash_flows.extend(CashFlow(on, -amount) for on, amount in deductions)
    return Quote(
        method=terms.method,
        amount=terms.amount,
        principal=terms.amount,
        origination_fee=ZERO,
        net_disbursement=terms.amount,
        lines=lines,
        total_interest=ZERO,
        total_fees=projection.fee,
        total_repayable=projection.total_repayable,
        total_cost_of_credit=projection.fee,
        apr=apr,
        apr_unit_period=unit.value,
        cash_flows=tuple(cash_flows),
        sales_share=projection,
    )
