"""A sales-share advance stays within the 24 % ceiling however fast its sales repay it.

Random amounts, shares of sales, prices (fee factor and the days its fee is spread over, up to the highest daily
rate the ceiling allows) and daily sales: repaid the next day, in a few days, on the 18-month limit, or anywhere in
between, with days of no sales at all. Whatever the path, the fee is the rule's (accrued by the day on what is
outstanding, rounded down, capped), never more than the contracted maximum, and the APR of what the merchant
actually pays, on the days it pays it, is at most the daily rate x 365, within the ceiling.
"""

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.money import to_fen
from lending.catalogue.money import QuoteTerms, RepaymentMethod, SalesShareTerms, quote, sales_share_repayments
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr
from lending.catalogue.money.dates import add_months
from lending.catalogue.money.sales_share import (
    TERM_LIMIT_MONTHS,
    fee_to_date,
    highest_apr,
    maximum_fee,
    principal_days,
)
from lending.catalogue.services.products import sales_share_daily_fee_rate

D = Decimal
CEILING = D("24.00")
# The highest daily rate with six places within the ceiling: 0.24 / 365 = 0.000657534… -> 0.000657.
EDGE_RATE = D("0.000657")

amounts = st.integers(min_value=10_000, max_value=500_000_000).map(lambda fen: D(fen).scaleb(-2))
shares = st.integers(min_value=1, max_value=100).map(lambda percent: D(percent).scaleb(-2))
fee_factors = st.integers(min_value=102_0000, max_value=115_0000).map(lambda n: D(n).scaleb(-6))
start_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))


@st.composite
def prices(draw) -> tuple[Decimal, Decimal]:
    """A fee factor and its daily rate: spread over some days as a product prices it, or at the ceiling's edge."""
    factor = draw(fee_factors)
    if draw(st.booleans()):
        return factor, EDGE_RATE
    rate = sales_share_daily_fee_rate(fee_factor=factor, fee_days=draw(st.integers(min_value=1, max_value=548)))
    assume(highest_apr(rate) <= CEILING)  # a price above the ceiling is refused before any advance is made
    return factor, rate


@st.composite
def sales_paths(draw, start: date, amount: Decimal, factor: Decimal, share: Decimal) -> tuple[str, list[Decimal]]:
    """How fast, and each day's deduction (the share of that day's sales, to the fen), the last paying what is left.

    Sales come in runs of days at one level, as a percentage of the average that repays the most that can be owed
    (amount x fee factor) exactly on the 18-month limit; 0 is a run of days without sales. On the way to the limit
    they stay at 85 % of that or less, so nothing is repaid before the last day (85 % of 1.15 is under 1).
    """
    limit_days = (add_months(start, TERM_LIMIT_MONTHS) - start).days
    speed = draw(st.sampled_from(["next day", "a few days", "on the limit", "any"]))
    days, most = {
        "next day": (1, 0),
        "a few days": (draw(st.integers(min_value=2, max_value=10)), 100_000),
        "on the limit": (limit_days, 85),
        "any": (draw(st.integers(min_value=1, max_value=limit_days)), 2_000),
    }[speed]
    at_the_limit = amount * factor / share / limit_days
    runs = draw(
        st.lists(
            st.tuples(st.integers(min_value=1, max_value=120), st.integers(min_value=0, max_value=most)),
            min_size=1,
            max_size=8,
        )
    )
    path = [to_fen(to_fen(at_the_limit * percent / 100) * share) for length, percent in runs for _ in range(length)]
    path = path[: days - 1] + [D("0.00")] * (days - 1 - len(path))
    # The last day the merchant's sales (or a payment of its own) cover whatever is still owed.
    return speed, [*path, to_fen(amount * factor) + 1]


@st.composite
def advances(draw):
    start, amount, share = draw(start_dates), draw(amounts), draw(shares)
    factor, rate = draw(prices())
    return start, amount, factor, rate, draw(sales_paths(start, amount, factor, share))


@settings(max_examples=250, deadline=None)
@given(advances())
def test_at_any_speed_the_fee_is_the_rules_within_the_maximum_and_the_apr_within_the_ceiling(advance):
    start, amount, factor, rate, (speed, path) = advance
    days = sales_share_repayments(
        amount=amount, start_date=start, fee_factor=factor, daily_fee_rate=rate, deductions=path
    )
    assert days[-1].balance == 0
    if speed == "on the limit":
        assert days[-1].on == add_months(start, TERM_LIMIT_MONTHS)
    elif speed == "next day":
        assert days[-1].on == start + timedelta(days=1)
    assert sum(day.principal for day in days) == amount
    fee = sum(day.fee for day in days)
    assert fee <= maximum_fee(amount, factor)
    # The rule, recomputed from the days the principal was outstanding: accrued, rounded down, capped.
    outstanding = principal_days(
        principal=amount, start_date=start, on=days[-1].on, repaid=[(day.on, day.principal) for day in days]
    )
    assert fee == fee_to_date(principal_days=outstanding, daily_fee_rate=rate, maximum=maximum_fee(amount, factor))
    for day, offered in zip(days, path, strict=False):
        assert 0 <= day.fee <= day.payment <= offered
    payments = [(day.on, day.payment) for day in days if day.payment]
    apr, _unit = disclosed_apr(start_date=start, advance=amount, payments=payments, unit=UnitPeriod.DAY)
    assert apr <= highest_apr(rate) <= CEILING


@settings(max_examples=100, deadline=None)
@given(start_dates, amounts, shares, prices())
def test_repaid_the_next_day_an_advance_costs_its_daily_rate_a_day(start, amount, share, price):
    factor, rate = price
    (day,) = sales_share_repayments(
        amount=amount, start_date=start, fee_factor=factor, daily_fee_rate=rate, deductions=[amount * 2]
    )
    assert day.on == start + timedelta(days=1)
    # One day of fee on the whole advance, rounded down to the fen (far below any maximum: 1.02 is 50 days' worth).
    assert day.fee == (amount * rate).quantize(D("0.01"), rounding=ROUND_DOWN)
    apr, _unit = disclosed_apr(start_date=start, advance=amount, payments=[(day.on, day.payment)], unit=UnitPeriod.DAY)
    assert apr <= highest_apr(rate) <= CEILING
    if (amount * rate) % D("0.01") == 0:
        # A whole number of fen: this is the fastest repayment's cost, the highest the price allows.
        assert apr == highest_apr(rate)


@st.composite
def quoted_advances(draw) -> QuoteTerms:
    amount, share = draw(amounts), draw(shares)
    factor, rate = draw(prices())
    # Average sales that repay within the 18-month limit (at most 500 days), up to 200 times faster.
    least = amount * factor / share / 500
    sales = draw(st.integers(min_value=int(least) + 1, max_value=int(least * 200) + 1))
    return QuoteTerms(
        amount=amount,
        start_date=draw(start_dates),
        method=RepaymentMethod.SALES_SHARE,
        sales_share=SalesShareTerms(
            fee_factor=factor, share_rate=share, average_daily_sales=D(sales), daily_fee_rate=rate
        ),
    )


@settings(max_examples=150, deadline=None)
@given(quoted_advances())
def test_a_quoted_advance_states_a_fee_within_its_maximum_and_an_apr_within_the_ceiling(terms):
    q = quote(terms)
    projection = q.sales_share
    assert q.total_fees == projection.fee <= projection.maximum_fee
    assert q.apr <= projection.highest_apr <= CEILING
