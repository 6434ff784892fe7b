"""Properties every schedule keeps, over amounts 100.00-5,000,000.00, rates 0-60 %, terms 1-120, every method."""

from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from lending.catalogue.money import (
    DayCount,
    FeeTerms,
    FeeTiming,
    QuoteTerms,
    RepaymentMethod,
    SalesShareTerms,
    TermUnit,
    quote,
)
from lending.catalogue.money.dates import add_months

D = Decimal
FEN = D("0.01")
MONTHLY_METHODS = [RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.INTEREST_FIRST]

amounts = st.integers(min_value=10_000, max_value=500_000_000).map(lambda fen: D(fen).scaleb(-2))
# Annual rates from 0 to 60 % with up to six decimals of a fraction (12.3456 % is D("0.123456")).
annual_rates = st.integers(min_value=0, max_value=600_000).map(lambda millionths: D(millionths).scaleb(-6))
terms = st.integers(min_value=1, max_value=120)
start_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))
fees = st.builds(
    FeeTerms,
    origination_rate=st.integers(min_value=0, max_value=500).map(lambda bp: D(bp).scaleb(-4)),
    origination_timing=st.sampled_from(FeeTiming),
    periodic_rate=st.integers(min_value=0, max_value=100).map(lambda bp: D(bp).scaleb(-4)),
)


@st.composite
def monthly_terms(draw, *, method=None, with_fees=True, odd_first_period=True):
    start = draw(start_dates)
    first_due = None
    if odd_first_period and draw(st.booleans()):
        first_due = start + timedelta(
            days=draw(st.integers(min_value=1, max_value=(add_months(start, 2) - start).days))
        )
    return QuoteTerms(
        amount=draw(amounts),
        term=draw(terms),
        start_date=start,
        method=method or draw(st.sampled_from(MONTHLY_METHODS)),
        annual_rate=draw(annual_rates),
        first_due_date=first_due,
        fees=draw(fees) if with_fees else FeeTerms(),
    )


@st.composite
def bullet_terms(draw, *, with_fees=True):
    in_days = draw(st.booleans())
    daily = draw(st.booleans())
    return QuoteTerms(
        amount=draw(amounts),
        term=draw(st.integers(min_value=1, max_value=366)) if in_days else draw(st.integers(min_value=1, max_value=12)),
        term_unit=TermUnit.DAYS if in_days else TermUnit.MONTHS,
        start_date=draw(start_dates),
        method=RepaymentMethod.BULLET,
        annual_rate=None if daily else draw(annual_rates),
        daily_rate=draw(st.integers(min_value=0, max_value=1600).map(lambda n: D(n).scaleb(-6))) if daily else None,
        day_count=draw(st.sampled_from(DayCount)),
        fees=FeeTerms(origination_rate=draw(st.integers(min_value=0, max_value=500).map(lambda bp: D(bp).scaleb(-4))))
        if with_fees
        else FeeTerms(),
    )


@st.composite
def sales_share_terms(draw):
    amount = draw(st.integers(min_value=10_000, max_value=50_000_000).map(lambda fen: D(fen).scaleb(-2)))
    factor = draw(st.integers(min_value=102, max_value=115).map(lambda n: D(n).scaleb(-2)))
    share = draw(st.integers(min_value=5, max_value=30).map(lambda n: D(n).scaleb(-2)))
    # Sales high enough to repay within the 18-month limit (at most 500 days) and at most 50x faster than that.
    least = amount * factor / share / 500
    sales = draw(st.integers(min_value=int(least) + 1, max_value=int(least * 50) + 1))
    return QuoteTerms(
        amount=amount,
        start_date=draw(start_dates),
        method=RepaymentMethod.SALES_SHARE,
        sales_share=SalesShareTerms(fee_factor=factor, share_rate=share, average_daily_sales=D(sales)),
    )


any_terms = st.one_of(monthly_terms(), bullet_terms(), sales_share_terms())


def _nominal_percent(terms: QuoteTerms) -> Decimal:
    if terms.annual_rate is not None:
        return terms.annual_rate * 100
    return terms.daily_rate * terms.day_count.days_in_year * 100


def _ceiling(percent: Decimal) -> Decimal:
    return percent.quantize(FEN, rounding=ROUND_CEILING)


@settings(max_examples=300, deadline=None)
@given(any_terms)
def test_every_schedule_repays_the_principal_exactly_and_adds_up_line_by_line(terms):
    q = quote(terms)
    lines = q.lines
    assert sum(line.principal for line in lines) == q.principal
    previous_balance = q.principal
    for line in lines:
        for amount in (line.principal, line.interest, line.fee, line.payment, line.balance):
            assert amount.as_tuple().exponent == -2, line
            assert amount >= 0, line
        assert line.principal + line.interest + line.fee == line.payment
        assert line.balance == previous_balance - line.principal
        assert line.balance <= previous_balance
        previous_balance = line.balance
    assert lines[-1].balance == D("0.00")
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))
    assert all(earlier.due_date < later.due_date for earlier, later in pairwise(lines))
    if terms.method in MONTHLY_METHODS:
        assert len(lines) == terms.term


@settings(max_examples=300, deadline=None)
@given(any_terms)
def test_totals_and_cash_flows_tell_the_same_story(terms):
    q = quote(terms)
    assert q.total_interest == sum(line.interest for line in q.lines)
    assert q.total_cost_of_credit == q.total_interest + q.total_fees == q.total_repayable - q.net_disbursement
    assert sum(flow.amount for flow in q.cash_flows) == -q.total_cost_of_credit
    assert q.apr.as_tuple().exponent == -2
    assert q.apr >= 0


@settings(max_examples=200, deadline=None)
@given(monthly_terms(method=RepaymentMethod.EQUAL_INSTALMENT))
def test_annuity_payments_are_equal_to_the_fen_except_the_last_and_an_odd_first(terms):
    q = quote(terms)
    payments = [line.payment - line.fee for line in q.lines]
    odd = terms.first_due_date is not None and terms.first_due_date != add_months(terms.start_date, 1)
    middle = payments[1:-1]
    assert len(set(middle)) <= 1
    if not odd and len(payments) > 1:
        assert payments[0] == payments[1] or len(payments) == 2
    if odd and len(payments) > 2:
        # The first payment differs from a regular one by the odd period's interest less a regular month's.
        regular_interest = (q.principal * terms.annual_rate / 12).quantize(FEN, rounding="ROUND_HALF_UP")
        assert payments[0] - payments[1] == q.lines[0].interest - regular_interest


@settings(max_examples=200, deadline=None)
@given(st.one_of(monthly_terms(with_fees=False, odd_first_period=False), bullet_terms(with_fees=False)))
def test_fee_free_regular_schedule_apr_is_the_nominal_rate_rounded_up(terms):
    q = quote(terms)
    if terms.method is RepaymentMethod.BULLET:
        # A single payment's APR annualises its cost over actual days: exactly the rate on actual/365, and
        # rate * 365 / 360 on actual/360; a daily rate is that rate * 365.
        if terms.daily_rate is not None:
            expected = terms.daily_rate * 365 * 100
        else:
            expected = terms.annual_rate * 100 * 365 / terms.day_count.days_in_year
    else:
        expected = terms.annual_rate * 100
    assert q.apr == _ceiling(expected)


@settings(max_examples=200, deadline=None)
@given(st.one_of(monthly_terms(odd_first_period=False), bullet_terms()))
def test_fees_never_bring_the_apr_below_the_nominal_rate(terms):
    q = quote(terms)
    assert q.apr >= _nominal_percent(terms)
    if q.total_fees:
        fee_free = quote(QuoteTerms(**{**_fields(terms), "fees": FeeTerms()}))
        assert q.apr >= fee_free.apr


def _fields(terms: QuoteTerms) -> dict:
    return {name: getattr(terms, name) for name in terms.__dataclass_fields__}
