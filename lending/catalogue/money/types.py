"""The vocabulary of a quote: methods, day counts, fee timing, the error, and the result dataclasses.

Everything here is plain data. Amounts are ``Decimal`` with two places (fen) in CNY; rates are fractions
(``Decimal("0.12")`` is 12 % a year); the APR is a percentage with two places (``Decimal("12.68")``).
The result objects are frozen and have ``as_dict()`` methods that render amounts and dates as strings, the way
the REST API shows them.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from enum import StrEnum

from django.utils.text import format_lazy

#: The arithmetic context of every calculation here, whatever the caller's context is: 34 significant digits
#: (IEEE decimal128) keep a 14-digit amount exact with 20 digits to spare for rates and discount factors; any
#: invalid operation raises instead of quietly giving NaN.
DECIMAL_CONTEXT = Context(prec=34, traps=[InvalidOperation, DivisionByZero, Overflow])


class RepaymentMethod(StrEnum):
    EQUAL_INSTALMENT = "equal_instalment"  # annuity, 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_FIRST = "interest_first"  # 先息后本: interest every month, principal at maturity
    BULLET = "bullet"  # 到期还本付息: one payment of principal and interest at maturity
    SALES_SHARE = "sales_share"  # a fee accruing by the day on what is outstanding, repaid by a share of daily sales


#: The methods that pay on a monthly due date, with the same day-of-month every month.
INSTALMENT_METHODS = frozenset(
    {RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.INTEREST_FIRST}
)


class TermUnit(StrEnum):
    MONTHS = "months"
    DAYS = "days"  # only for a single payment at maturity (daily-rate working capital)


class DayCount(StrEnum):
    """How many days make the year when interest accrues by the day."""

    ACTUAL_365 = "actual_365"
    ACTUAL_360 = "actual_360"

    @property
    def days_in_year(self) -> int:
        return 360 if self is DayCount.ACTUAL_360 else 365


class FeeTiming(StrEnum):
    """When the origination fee is paid."""

    DEDUCTED = "deducted"  # withheld from the payout: the borrower receives amount - fee
    UPFRONT = "upfront"  # paid by the borrower on the start date, the full amount is paid out
    FINANCED = "financed"  # added to the principal that is repaid (and bears interest)


class QuoteError(ValueError):
    """Bad quote input. ``field`` names the input (dotted for nested terms), ``message`` says what is allowed.

    The message is a lazy translation, rendered in the active language when the error is shown.
    """

    def __init__(self, field: str, message: str, **params: object) -> None:
        self.field = field
        self.message = format_lazy(message, **params) if params else message
        super().__init__(field, self.message)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _percent(rate: Decimal) -> str:
    """A rate as a percentage with the places it needs, at least two: 0.000333 is "0.0333", 0.001 is "0.10"."""
    value = (rate * 100).normalize()
    return f"{value.quantize(Decimal('0.01')) if value.as_tuple().exponent > -2 else value:f}"


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One instalment: what is due on ``due_date`` and the principal still owed after paying it."""

    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    payment: Decimal
    balance: Decimal

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": _money(self.principal),
            "interest": _money(self.interest),
            "fee": _money(self.fee),
            "payment": _money(self.payment),
            "balance": _money(self.balance),
        }


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Money between lender and borrower on one date, seen from the borrower: received > 0, paid < 0."""

    on: date
    amount: Decimal

    def as_dict(self) -> dict[str, object]:
        return {"date": self.on.isoformat(), "amount": _money(self.amount)}


@dataclass(frozen=True, slots=True)
class SalesShareWindow:
    """One 60-day window of a sales-share projection: the minimum the contract requires and what is projected.

    ``minimum`` is 1/18 of the total repayable, or what is still owed when the window opens if that is less.
    """

    number: int
    start_date: date
    end_date: date
    minimum: Decimal
    projected: Decimal

    @property
    def meets_minimum(self) -> bool:
        return self.projected >= self.minimum

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "minimum": _money(self.minimum),
            "projected": _money(self.projected),
            "meets_minimum": self.meets_minimum,
        }


@dataclass(frozen=True, slots=True)
class SalesShareDay:
    """One day's deduction from a sales-share advance and what it paid: the fee accrued and unpaid, then principal.

    ``balance`` is the principal still outstanding after it.
    """

    on: date
    payment: Decimal
    fee: Decimal
    principal: Decimal
    balance: Decimal


@dataclass(frozen=True, slots=True)
class SalesShareProjection:
    """How a sales-share advance is expected to be repaid at the merchant's average daily sales.

    Deductions start the day after the start date, one every calendar day (the average is over calendar days),
    each ``daily_deduction`` except the last, which takes what is left. The fee accrues by the day at
    ``daily_fee_rate`` on the principal outstanding and never exceeds ``maximum_fee``: ``fee`` is what it comes to
    at this pace (at a pace that runs past the 18-month limit, the maximum). ``windows`` cover the projection up to
    the payoff date, or up to the window holding the 18-month limit when the projection runs past it.
    """

    amount: Decimal
    fee: Decimal
    total_repayable: Decimal
    daily_deduction: Decimal
    start_date: date
    days_to_payoff: int | None  # None when the deduction rounds to 0.00: the advance is never repaid
    payoff_date: date | None
    term_limit_date: date
    window_minimum: Decimal
    windows: tuple[SalesShareWindow, ...]
    daily_fee_rate: Decimal
    maximum_fee: Decimal
    highest_apr: Decimal  # the most any repayment speed can cost, as an APR: the fastest (see ``sales_share``)

    @property
    def breaches_minimum(self) -> bool:
        return any(not window.meets_minimum for window in self.windows)

    @property
    def daily_fee_percent(self) -> str:
        """The daily fee rate as a percentage with the places it needs: 0.000333 is "0.0333"."""
        return _percent(self.daily_fee_rate)

    @property
    def breaches_term_limit(self) -> bool:
        return self.payoff_date is None or self.payoff_date > self.term_limit_date

    def as_dict(self) -> dict[str, object]:
        return {
            "amount": _money(self.amount),
            "fee": _money(self.fee),
            "total_repayable": _money(self.total_repayable),
            "daily_deduction": _money(self.daily_deduction),
            "days_to_payoff": self.days_to_payoff,
            "payoff_date": self.payoff_date.isoformat() if self.payoff_date else None,
            "term_limit_date": self.term_limit_date.isoformat(),
            "window_minimum": _money(self.window_minimum),
            "daily_fee_rate": f"{self.daily_fee_rate:f}",
            "daily_fee_percent": self.daily_fee_percent,
            "maximum_fee": _money(self.maximum_fee),
            "highest_apr": _money(self.highest_apr),
            "breaches_minimum": self.breaches_minimum,
            "breaches_term_limit": self.breaches_term_limit,
            "windows": [window.as_dict() for window in self.windows],
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced loan: the schedule, its totals and the APR.

    - ``principal``: what the schedule repays (the amount, plus the origination fee when it is financed).
    - ``net_disbursement``: the cash the borrower actually gets on the start date, net of any fee it pays then.
    - ``insurance_premium``: the credit-insurance premium the borrower pays, withheld from the payout (0.00 when the
      borrower pays none).
    - ``total_fees``: the origination fee, the insurance premium and every periodic fee (and the sales-share fee,
      as projected).
    - ``total_repayable``: everything the borrower pays: the schedule's payments plus an up-front fee.
    - ``total_cost_of_credit``: ``total_interest + total_fees`` = ``total_repayable - net_disbursement``.
    - ``apr``: percentage, two places, rounded up (see ``lending.catalogue.money.apr``).
    - ``cash_flows``: the dated flows the APR describes, signed from the borrower's side.
    """

    method: RepaymentMethod
    amount: Decimal
    principal: Decimal
    origination_fee: Decimal
    net_disbursement: Decimal
    lines: tuple[ScheduleLine, ...]
    total_interest: Decimal
    total_fees: Decimal
    total_repayable: Decimal
    total_cost_of_credit: Decimal
    apr: Decimal
    apr_unit_period: str
    cash_flows: tuple[CashFlow, ...]
    sales_share: SalesShareProjection | None = None
    insurance_premium: Decimal = Decimal("0.00")

    def as_dict(self) -> dict[str, object]:
        """The quote as the API renders it: amounts as strings with two places, dates in ISO format."""
        data: dict[str, object] = {
            "method": self.method.value,
            "amount": _money(self.amount),
            "principal": _money(self.principal),
            "origination_fee": _money(self.origination_fee),
            "insurance_premium": _money(self.insurance_premium),
            "net_disbursement": _money(self.net_disbursement),
            "apr": _money(self.apr),
            "total_interest": _money(self.total_interest),
            "total_fees": _money(self.total_fees),
            "total_repayable": _money(self.total_repayable),
            "total_cost_of_credit": _money(self.total_cost_of_credit),
            "schedule": [line.as_dict() for line in self.lines],
        }
        if self.sales_share is not None:
            data["sales_share"] = self.sales_share.as_dict()
        return data
