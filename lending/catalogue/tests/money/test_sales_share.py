"""Sales-share projections: daily deduction, payoff date, 60-day minimums and the 18-month limit."""

from datetime import date
from decimal import Decimal

import pytest

from lending.catalogue.money import QuoteError, QuoteTerms, RepaymentMethod, SalesShareTerms, project_sales_share, quote

D = Decimal
START = date(2025, 1, 15)


def _project(amount="10000.00", fee_factor="1.08", share_rate="0.10", average_daily_sales="800.00"):
    return project_sales_share(
        amount=D(amount),
        start_date=START,
        fee_factor=D(fee_factor),
        share_rate=D(share_rate),
        average_daily_sales=D(average_daily_sales),
    )


def test_payoff_date_and_daily_deduction_follow_from_average_daily_sales():
    projection = _project()
    # 10,000 * 1.08 = 10,800 owed; 10 % of 800.00 a day = 80.00 a day; 10,800 / 80 = 135 days.
    assert projection.total_repayable == D("10800.00")
    assert projection.fee == D("800.00")
    assert projection.daily_deduction == D("80.00")
    assert projection.days_to_payoff == 135
    assert projection.payoff_date == date(2025, 5, 30)
    assert projection.term_limit_date == date(2026, 7, 15)
    # 1/18 of 10,800 = 600.00 in every 60-day window; the last window only needs what is left.
    assert [(w.start_date, w.end_date, w.minimum, w.projected) for w in projection.windows] == [
        (date(2025, 1, 16), date(2025, 3, 16), D("600.00"), D("4800.00")),
        (date(2025, 3, 17), date(2025, 5, 15), D("600.00"), D("4800.00")),
        (date(2025, 5, 16), date(2025, 7, 14), D("600.00"), D("1200.00")),
    ]
    assert not projection.breaches_minimum
    assert not projection.breaches_term_limit


def test_last_deduction_takes_the_remainder():
    projection = _project(amount="1000.00", fee_factor="1.10", average_daily_sales="333.33")
    # 1,100.00 owed at 33.33 a day: 33 days of 33.33 = 1,099.89, the 34th takes the last 0.11.
    assert projection.daily_deduction == D("33.33")
    assert projection.days_to_payoff == 34
    assert sum(w.projected for w in projection.windows) == D("1100.00")


def test_slow_sales_breach_the_60_day_minimum_and_the_18_month_limit():
    projection = _project(fee_factor="1.02", average_daily_sales="90.00")
    # 10,200 owed, 566.67 due every 60 days, but 9.00 a day brings only 540.00 in a window,
    # and 10,200 / 9 = 1,134 days is far past 15 July 2026.
    assert projection.window_minimum == D("566.67")
    assert {w.projected for w in projection.windows} == {D("540.00")}
    assert not any(w.meets_minimum for w in projection.windows)
    assert projection.breaches_minimum
    assert projection.days_to_payoff == 1134
    assert projection.breaches_term_limit
    # The windows run up to the one holding the limit date (546 days after the start): 10 windows.
    assert len(projection.windows) == 10
    assert projection.windows[-1].start_date <= projection.term_limit_date <= projection.windows[-1].end_date


def test_projection_can_meet_every_minimum_and_still_break_the_18_month_limit():
    projection = _project(fee_factor="1.02", average_daily_sales="120.00")
    # 12.00 a day is 720.00 a window (above 566.67) but takes 850 days to repay 10,200.
    assert not projection.breaches_minimum
    assert projection.days_to_payoff == 850
    assert projection.breaches_term_limit


def test_merchant_without_sales_never_repays():
    projection = _project(average_daily_sales="0.00")
    assert projection.daily_deduction == D("0.00")
    assert projection.days_to_payoff is None
    assert projection.payoff_date is None
    assert projection.breaches_minimum
    assert projection.breaches_term_limit


def test_sales_share_quote_has_one_line_per_window_splitting_principal_and_fee():
    q = quote(
        QuoteTerms(
            amount=D("10000.00"),
            start_date=START,
            method=RepaymentMethod.SALES_SHARE,
            sales_share=SalesShareTerms(fee_factor=D("1.08"), share_rate=D("0.10"), average_daily_sales=D("800.00")),
        )
    )
    # Each 4,800.00 window repays 4,800 / 1.08 = 4,444.44 of principal; the rest is fee.
    assert [(line.due_date, line.payment, line.principal, line.fee, line.balance) for line in q.lines] == [
        (date(2025, 3, 16), D("4800.00"), D("4444.44"), D("355.56"), D("5555.56")),
        (date(2025, 5, 15), D("4800.00"), D("4444.45"), D("355.55"), D("1111.11")),
        (date(2025, 5, 30), D("1200.00"), D("1111.11"), D("88.89"), D("0.00")),
    ]
    assert q.total_fees == q.total_cost_of_credit == D("800.00")
    assert q.total_repayable == D("10800.00")
    assert q.as_dict()["sales_share"]["payoff_date"] == "2025-05-30"


def test_sales_share_quote_past_the_18_month_limit_is_refused():
    terms = QuoteTerms(
        amount=D("10000.00"),
        start_date=START,
        method=RepaymentMethod.SALES_SHARE,
        sales_share=SalesShareTerms(fee_factor=D("1.02"), share_rate=D("0.10"), average_daily_sales=D("90.00")),
    )
    with pytest.raises(QuoteError) as error:
        quote(terms)
    assert error.value.field == "sales_share.average_daily_sales"
    assert "2026-07-15" in str(error.value)
