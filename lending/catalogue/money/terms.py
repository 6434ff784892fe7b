"""Quote input: the terms of a loan, checked when they are built.

A ``QuoteTerms`` that exists is valid: every check runs in ``__post_init__`` and raises ``QuoteError`` naming the
field and what it may be. Values are normalised on the way in (strings and ints become ``Decimal``, amounts are
held to the fen, method names become ``RepaymentMethod``), so the schedule code never second-guesses its input.
Floats are refused: ``Decimal(0.1)`` is not 0.1, and a rate or amount that is not what the user typed must not
reach a contract.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import TypeVar

from django.utils.translation import gettext_lazy as _

from core.money import FEN, to_fen

from .dates import add_months
from .types import DECIMAL_CONTEXT, INSTALMENT_METHODS, DayCount, FeeTiming, QuoteError, RepaymentMethod, TermUnit

MAX_AMOUNT = Decimal("999999999999.99")  # what a MoneyField (14 digits, 2 places) can hold
MAX_TERM_MONTHS = 360
MAX_TERM_DAYS = 1830
# Rates are fractions; an upper bound of 100 % a year catches "12" typed for 12 % (which would be 1,200 %).
MAX_ANNUAL_RATE = Decimal(1)
MAX_DAILY_RATE = Decimal("0.003")
MAX_PERIODIC_FEE_RATE = Decimal("0.1")
MIN_FEE_FACTOR = Decimal("1.02")
MAX_FEE_FACTOR = Decimal("1.15")
# A one-off credit-insurance premium above 10 % of the amount is a typing mistake, not a price.
MAX_INSURANCE_PREMIUM_RATE = Decimal("0.1")

_NOT_A_NUMBER = _(
    "must be a decimal number such as {example}, given as a Decimal, an int or a string "
    "(floats are refused: they cannot hold fen exactly)"
)


def _decimal(name: str, value: object, example: str) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | str) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise QuoteError(name, _NOT_A_NUMBER, example=example) from None
    else:
        raise QuoteError(name, _NOT_A_NUMBER, example=example)
    if not number.is_finite():
        raise QuoteError(name, _NOT_A_NUMBER, example=example)
    return number


def _amount(name: str, value: object, *, minimum: Decimal, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    number = _decimal(name, value, example='"50000.00"')
    # The range check comes first: quantizing an absurd exponent (1E+999999) would overflow the context.
    if not minimum <= number <= maximum or number != number.quantize(FEN):
        if minimum > 0:
            raise QuoteError(
                name,
                _("must be greater than 0.00 and at most {maximum}, with at most two decimal places"),
                maximum=maximum,
            )
        raise QuoteError(
            name, _("must be between 0.00 and {maximum}, with at most two decimal places"), maximum=maximum
        )
    return number.quantize(FEN)


def _rate(name: str, value: object, *, maximum: Decimal, example: str) -> Decimal:
    number = _decimal(name, value, example=example)
    if not 0 <= number <= maximum:
        raise QuoteError(
            name,
            _("must be a fraction between 0 and {maximum} (for example {example})"),
            maximum=maximum,
            example=example,
        )
    return number


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(name: str, value: object, enum: type[_Choice]) -> _Choice:
    try:
        return enum(value)
    except ValueError:
        raise QuoteError(
            name, _("must be one of: {choices}"), choices=", ".join(member.value for member in enum)
        ) from None


DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)


def _date(name: str, value: object) -> date:
    # A datetime is a date subclass; a time of day has no place in a due-date calculation.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise QuoteError(name, _("must be a calendar date"))
    # The longest schedule (30 years, or the sales-share limit) must end on a date the calendar can hold.
    if not DATE_MIN <= value <= DATE_MAX:
        raise QuoteError(name, _("must be between 1900-01-01 and 2199-12-31"))
    return value


@dataclass(frozen=True, kw_only=True)
class FeeTerms:
    """Fees on top of (or instead of) interest.

    ``origination_rate`` (a fraction of the amount) or ``origination_fixed`` (yuan), not both, paid as
    ``origination_timing`` says. ``periodic_rate`` is charged every instalment on the original amount (consumer
    instalment loans, 消费分期, are priced this way with no interest at all).

    ``insurance_premium_rate``: a credit-insurance premium the borrower pays, a one-off fraction of the amount,
    rounded once half-up to the fen and always withheld from the payout (whatever the origination fee's timing):
    the borrower receives it less, so it is a cost in the APR like a deducted origination fee.
    """

    origination_rate: Decimal = Decimal(0)
    origination_fixed: Decimal = Decimal(0)
    origination_timing: FeeTiming = FeeTiming.DEDUCTED
    periodic_rate: Decimal = Decimal(0)
    insurance_premium_rate: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        with localcontext(DECIMAL_CONTEXT):
            self._validate()

    def _validate(self) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "origination_rate",
            _rate("fees.origination_rate", self.origination_rate, maximum=Decimal("0.5"), example='"0.02"'),
        )
        set_(self, "origination_fixed", _amount("fees.origination_fixed", self.origination_fixed, minimum=Decimal(0)))
        set_(self, "origination_timing", _choice("fees.origination_timing", self.origination_timing, FeeTiming))
        set_(
            self,
            "periodic_rate",
            _rate("fees.periodic_rate", self.periodic_rate, maximum=MAX_PERIODIC_FEE_RATE, example='"0.006"'),
        )
        set_(
            self,
            "insurance_premium_rate",
            _rate(
                "fees.insurance_premium_rate",
                self.insurance_premium_rate,
                maximum=MAX_INSURANCE_PREMIUM_RATE,
                example='"0.008"',
            ),
        )
        if self.origination_rate and self.origination_fixed:
            raise QuoteError("fees.origination_fixed", _("give either an origination rate or a fixed fee, not both"))


@dataclass(frozen=True, kw_only=True)
class SalesShareTerms:
    """A sales-share advance, repaid out of ``share_rate`` of each day's gross sales.

    Its fee accrues by the day at ``daily_fee_rate`` on the principal outstanding and never exceeds the maximum fee,
    ``(fee_factor - 1)`` * the amount: repaying sooner costs less (see ``lending.catalogue.money.sales_share``).
    """

    fee_factor: Decimal
    share_rate: Decimal
    average_daily_sales: Decimal
    daily_fee_rate: Decimal

    def __post_init__(self) -> None:
        with localcontext(DECIMAL_CONTEXT):
            self._validate()

    def _validate(self) -> None:
        set_ = object.__setattr__
        fee_factor = _decimal("sales_share.fee_factor", self.fee_factor, example='"1.08"')
        if not MIN_FEE_FACTOR <= fee_factor <= MAX_FEE_FACTOR:
            raise QuoteError(
                "sales_share.fee_factor",
                _("must be between {minimum} and {maximum}"),
                minimum=MIN_FEE_FACTOR,
                maximum=MAX_FEE_FACTOR,
            )
        share_rate = _decimal("sales_share.share_rate", self.share_rate, example='"0.10"')
        if not 0 < share_rate <= 1:
            raise QuoteError(
                "sales_share.share_rate", _("must be a fraction of daily sales above 0 and at most 1 (e.g. 0.10)")
            )
        set_(self, "fee_factor", fee_factor)
        set_(self, "share_rate", share_rate)
        set_(
            self,
            "daily_fee_rate",
            _rate("sales_share.daily_fee_rate", self.daily_fee_rate, maximum=MAX_DAILY_RATE, example='"0.000333"'),
        )
        set_(
            self,
            "average_daily_sales",
            _amount("sales_share.average_daily_sales", self.average_daily_sales, minimum=Decimal(0)),
        )


@dataclass(frozen=True, kw_only=True)
class QuoteTerms:
    """What a quote is asked for.

    - ``amount``: the loan (or advance) in yuan.
    - ``term``: instalments (``term_unit=MONTHS``) or days (``DAYS``, single payment at maturity only);
      omitted for sales share, whose term follows the sales.
    - ``annual_rate`` or ``daily_rate`` (a fraction), exactly one, for every method but sales share. A daily rate
      is an annual rate of ``daily_rate * day_count.days_in_year`` where months are concerned.
    - ``day_count``: the year for interest by the day (single payment at maturity, odd first periods).
    - ``first_due_date``: for monthly instalments, a first due date other than one month after the start; later
      due dates keep its day of the month. At most two months after the start.
    """

    amount: Decimal
    start_date: date
    method: RepaymentMethod
    term: int | None = None
    term_unit: TermUnit = TermUnit.MONTHS
    annual_rate: Decimal | None = None
    daily_rate: Decimal | None = None
    day_count: DayCount = DayCount.ACTUAL_365
    first_due_date: date | None = None
    fees: FeeTerms = field(default_factory=FeeTerms)
    sales_share: SalesShareTerms | None = None

    def __post_init__(self) -> None:
        with localcontext(DECIMAL_CONTEXT):
            self._validate()

    def _validate(self) -> None:
        set_ = object.__setattr__
        set_(self, "amount", _amount("amount", self.amount, minimum=FEN))
        set_(self, "start_date", _date("start_date", self.start_date))
        set_(self, "method", _choice("method", self.method, RepaymentMethod))
        set_(self, "term_unit", _choice("term_unit", self.term_unit, TermUnit))
        set_(self, "day_count", _choice("day_count", self.day_count, DayCount))
        if not isinstance(self.fees, FeeTerms):
            raise QuoteError("fees", _("must be a FeeTerms"))
        if self.method is RepaymentMethod.SALES_SHARE:
            self._check_sales_share()
        else:
            self._check_term()
            self._check_rate()
            self._check_first_due_date()
            self._check_fees()

    @property
    def is_sales_share(self) -> bool:
        return self.method is RepaymentMethod.SALES_SHARE

    @property
    def origination_fee(self) -> Decimal:
        """The origination fee in yuan, rounded once, half-up to the fen."""
        with localcontext(DECIMAL_CONTEXT):
            return (
                to_fen(self.amount * self.fees.origination_rate)
                if self.fees.origination_rate
                else self.fees.origination_fixed
            )

    @property
    def insurance_premium(self) -> Decimal:
        """The borrower's insurance premium in yuan (a fraction of the amount), rounded once, half-up to the fen."""
        with localcontext(DECIMAL_CONTEXT):
            return to_fen(self.amount * self.fees.insurance_premium_rate)

    def _check_sales_share(self) -> None:
        if not isinstance(self.sales_share, SalesShareTerms):
            raise QuoteError(
                "sales_share", _("is required for the sales_share method (fee factor, share rate, average daily sales)")
            )
        # The fee factor is the whole price of a sales-share advance; anything else would be a second price.
        for name in ("term", "annual_rate", "daily_rate", "first_due_date"):
            if getattr(self, name) is not None:
                raise QuoteError(name, _("must be left out for the sales_share method: its price is the fee factor"))
        if self.fees != FeeTerms():
            raise QuoteError("fees", _("must be left out for the sales_share method: its price is the fee factor"))

    def _check_term(self) -> None:
        if self.sales_share is not None:
            raise QuoteError("sales_share", _("applies to the sales_share method only"))
        if self.term_unit is TermUnit.DAYS and self.method is not RepaymentMethod.BULLET:
            raise QuoteError("term_unit", _("days are allowed only for the bullet method; instalments are monthly"))
        maximum = MAX_TERM_DAYS if self.term_unit is TermUnit.DAYS else MAX_TERM_MONTHS
        if not isinstance(self.term, int) or isinstance(self.term, bool) or not 1 <= self.term <= maximum:
            raise QuoteError(
                "term",
                _("must be a whole number of {unit} from 1 to {maximum}"),
                unit=self.term_unit.value,
                maximum=maximum,
            )

    def _check_rate(self) -> None:
        if (self.annual_rate is None) == (self.daily_rate is None):
            raise QuoteError("annual_rate", _("give exactly one of annual_rate and daily_rate"))
        if self.annual_rate is not None:
            set_rate = _rate("annual_rate", self.annual_rate, maximum=MAX_ANNUAL_RATE, example='"0.12"')
            object.__setattr__(self, "annual_rate", set_rate)
        else:
            set_rate = _rate("daily_rate", self.daily_rate, maximum=MAX_DAILY_RATE, example='"0.0005"')
            object.__setattr__(self, "daily_rate", set_rate)

    def _check_first_due_date(self) -> None:
        if self.first_due_date is None:
            return
        if self.method not in INSTALMENT_METHODS:
            raise QuoteError("first_due_date", _("applies to monthly instalment methods only"))
        first_due = _date("first_due_date", self.first_due_date)
        latest = add_months(self.start_date, 2)
        if not self.start_date < first_due <= latest:
            raise QuoteError(
                "first_due_date",
                _("must be after the start date and no later than {latest}"),
                latest=latest.isoformat(),
            )

    def _check_fees(self) -> None:
        if self.fees.periodic_rate and self.method not in INSTALMENT_METHODS:
            raise QuoteError(
                "fees.periodic_rate", _("applies to monthly instalment methods only; use an origination fee instead")
            )
        if self.origination_fee >= self.amount:
            raise QuoteError(
                "fees.origination_fixed" if self.fees.origination_fixed else "fees.origination_rate",
                _("the origination fee must be less than the amount"),
            )
        if self.insurance_premium and self.origination_fee + self.insurance_premium >= self.amount:
            raise QuoteError(
                "fees.insurance_premium_rate",
                _("the origination fee and the insurance premium together must be less than the amount"),
            )
