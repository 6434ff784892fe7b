"""Properties every schedule keeps, over amounts 100.00-5,000,000.00, rates 0-36 %, terms 1-120, every method."""

import calendar
from datetime import date, timedelta
from decimal import Decimal
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
# Annual rates from 0 to 36 % (1.5 x the default ceiling) with up to six decimals of a fraction (12.3456 % is
# D("0.123456")). Far above that a 31-day month's interest can exceed a long loan's level payment, which the
# engine refuses rather than let the balance grow.
annual_rates = st.integers(min_value=0, max_value=360_000).map(lambda millionths: D(millionths).scaleb(-6))
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
    # Daily fee rates up to 0.000657, the highest with six places within the 24 % ceiling (0.24 / 365).
    rate = draw(st.integers(min_value=0, max_value=657).map(lambda millionths: D(millionths).scaleb(-6)))
    return QuoteTerms(
        amount=amount,
        start_date=draw(start_dates),
        method=RepaymentMethod.SALES_SHARE,
        sales_share=SalesShareTerms(
            fee_factor=factor, share_rate=share, average_daily_sales=D(sales), daily_fee_rate=rate
        ),
    )


any_terms = st.one_of(monthly_terms(), bullet_terms(), sales_share_terms())


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
def test_annuity_payments_are_equal_to_the_fen_except_the_last_and_interest_only_lines(terms):
    q = quote(terms)
    # A line whose interest alone exceeds the level payment (a long first period at a high rate) pays interest only.
    payments = [line.payment - line.fee for line in q.lines[:-1] if line.principal]
    assert len(set(payments)) <= 1
    assert all(line.payment - line.fee == line.interest for line in q.lines[:-1] if not line.principal)


def _back(on: date, months: int, day: int) -> date:
    """``months`` calendar months before ``on``, on ``day`` (or the month's last day when it is shorter)."""
    year, month = divmod(on.year * 12 + on.month - 1 - months, 12)
    return date(year, month + 1, min(day, calendar.monthrange(year, month + 1)[1]))


def _reference_irr_percent(terms: QuoteTerms, q) -> Decimal:
    """The actuarial IRR of the rounded flows, computed here independently of the engine: months counted back
    from each payment on the schedule's day (Appendix J (b)(5)), left-over days as 1/30 of a month; a single
    payment over a year or less on the term itself; sales share by the day. Bisection in Decimal."""
    advance = sum((flow.amount for flow in q.cash_flows if flow.on == terms.start_date), D(0))
    payments = [(flow.on, -flow.amount) for flow in q.cash_flows if flow.on != terms.start_date]
    if terms.method is RepaymentMethod.SALES_SHARE:
        timed = [(D((on - terms.start_date).days), D(0), amount) for on, amount in payments]
        per_year = D(365)
    elif terms.method is RepaymentMethod.BULLET:
        ((on, amount),) = payments
        days = (on - terms.start_date).days
        if _back(on, 12, on.day) < terms.start_date:
            return (amount / advance - 1) * 365 / days * 100
        years = 0
        while _back(on, 12 * (years + 1), on.day) >= terms.start_date:
            years += 1
        timed = [(D(years), D((_back(on, 12 * years, on.day) - terms.start_date).days) / 365, amount)]
        per_year = D(1)
    else:
        day = (terms.first_due_date or terms.start_date).day
        timed = []
        for on, amount in payments:
            months = 0
            while _back(on, months + 1, day) >= terms.start_date:
                months += 1
            timed.append((D(months), D((_back(on, months, day) - terms.start_date).days) / 30, amount))
        per_year = D(12)

    def npv(rate: Decimal) -> Decimal:
        return sum((a / ((1 + f * rate) * (1 + rate) ** int(t)) for t, f, a in timed), D(0)) - advance

    low, high = D(0), D(1)
    if npv(low) <= 0:
        return D(0)
    while npv(high) > 0:
        high *= 2
    for _step in range(90):
        middle = (low + high) / 2
        low, high = (middle, high) if npv(middle) > 0 else (low, middle)
    return high * per_year * 100


@settings(max_examples=120, deadline=None)
@given(any_terms)
def test_disclosed_apr_is_at_least_the_irr_of_the_rounded_flows_and_less_than_a_hundredth_above_it(terms):
    q = quote(terms)
    irr = _reference_irr_percent(terms, q)
    assert irr - D("1e-15") <= q.apr < irr + D("0.01")


@settings(max_examples=150, deadline=None)
@given(st.one_of(monthly_terms(odd_first_period=False), bullet_terms()))
def test_fees_never_bring_the_apr_below_the_fee_free_apr(terms):
    q = quote(terms)
    if q.total_fees:
        fee_free = quote(QuoteTerms(**{**_fields(terms), "fees": FeeTerms()}))
        assert q.apr >= fee_free.apr


def _fields(terms: QuoteTerms) -> dict:
    return {name: getattr(terms, name) for name in terms.__dataclass_fields__}
