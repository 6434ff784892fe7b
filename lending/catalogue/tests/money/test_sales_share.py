"""Sales-share advances: the fee accrues by the day on what is outstanding, capped; deductions, windows, limits."""

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from lending.catalogue.money import (
    QuoteError,
    QuoteTerms,
    RepaymentMethod,
    SalesShareTerms,
    project_sales_share,
    quote,
    sales_share_repayments,
)
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr
from lending.catalogue.money.sales_share import fee_to_date, highest_apr, maximum_fee, principal_days

D = Decimal
START = date(2025, 1, 15)
# 1.08 spread over 240 days: 0.08 / 240 = 0.000333 a day (rounded down), 12.1545 % a year.
RATE = D("0.000333")


def _project(amount="10000.00", fee_factor="1.08", share_rate="0.10", average_daily_sales="800.00", rate=RATE):
    return project_sales_share(
        amount=D(amount),
        start_date=START,
        fee_factor=D(fee_factor),
        share_rate=D(share_rate),
        average_daily_sales=D(average_daily_sales),
        daily_fee_rate=D(rate),
    )


def _repay(deductions, amount="10000.00", fee_factor="1.08", rate=RATE):
    return sales_share_repayments(
        amount=D(amount), start_date=START, fee_factor=D(fee_factor), daily_fee_rate=D(rate), deductions=deductions
    )


def test_each_deduction_pays_the_fee_accrued_on_what_is_outstanding_then_principal():
    first, second = _repay([D("80.00"), D("80.00")])
    # Day 1: 10,000.00 outstanding x 0.000333 = 3.33 of fee; the rest of 80.00 repays principal.
    assert (first.on, first.payment, first.fee, first.principal, first.balance) == (
        date(2025, 1, 16),
        D("80.00"),
        D("3.33"),
        D("76.67"),
        D("9923.33"),
    )
    # Day 2: on 9,923.33 the fee to date is (10,000 + 9,923.33) x 0.000333 = 6.6344 -> 6.63, of which 3.30 is new.
    assert (second.fee, second.principal, second.balance) == (D("3.30"), D("76.70"), D("9846.63"))


def test_repaying_the_next_day_costs_one_day_of_fee_and_the_highest_apr():
    (day,) = _repay([D("20000.00")])
    # Never more than is owed: 10,000.00 and one day's fee, 3.33, not the 800.00 maximum.
    assert (day.payment, day.fee, day.principal) == (D("10003.33"), D("3.33"), D("10000.00"))
    apr, _unit = disclosed_apr(
        start_date=START, advance=D("10000.00"), payments=[(day.on, day.payment)], unit=UnitPeriod.DAY
    )
    # 3.33 / 10,000 a day x 365 = 12.1545 % -> 12.16: the daily rate x 365, the most any speed costs.
    assert apr == highest_apr(RATE) == D("12.16")


def test_repaying_sooner_costs_less_and_the_fee_never_exceeds_the_maximum():
    fees = []
    for deduction in ("20000.00", "1000.00", "100.00", "20.00"):
        days = _repay([D(deduction)] * 600, fee_factor="1.02", rate="0.000083")
        assert days[-1].balance == 0
        fees.append(sum(day.fee for day in days))
    # 1.02: at most 200.00. At 20.00 a day (510 days) the fee reaches its maximum and accrues no further.
    assert fees == sorted(fees)
    assert fees[0] == D("0.83")
    assert fees[-1] == maximum_fee(D("10000.00"), D("1.02")) == D("200.00")


def test_the_fee_is_the_rule_applied_to_the_days_the_principal_was_outstanding():
    days = _repay([D("0.00"), D("500.00"), D("0.00"), D("9600.00")])
    repaid = [(day.on, day.principal) for day in days]
    # The fee is accrued on each day's opening principal and rounded down once, on the total.
    assert days[-1].balance == 0
    outstanding = principal_days(principal=D("10000.00"), start_date=START, on=days[-1].on, repaid=repaid)
    assert outstanding == D("10000.00") * 2 + (D("10000.00") - days[1].principal) * 2
    assert sum(day.fee for day in days) == (outstanding * RATE).quantize(D("0.01"), rounding=ROUND_DOWN)


def test_money_repaid_on_a_day_stops_accruing_from_the_next_day():
    repaid = [(START + timedelta(days=3), D("4000.00"))]
    assert principal_days(principal=D("10000.00"), start_date=START, on=START + timedelta(days=3), repaid=repaid) == (
        D("30000.00")
    )
    assert principal_days(principal=D("10000.00"), start_date=START, on=START + timedelta(days=5), repaid=repaid) == (
        D("42000.00")
    )
    assert fee_to_date(principal_days=D("42000.00"), daily_fee_rate=RATE, maximum=D("800.00")) == D("13.98")
    assert fee_to_date(principal_days=D("9999999.00"), daily_fee_rate=RATE, maximum=D("800.00")) == D("800.00")


def test_payoff_date_and_daily_deduction_follow_from_average_daily_sales():
    projection = _project()
    # 10 % of 800.00 a day = 80.00 a day. The fee accrues on the falling balance: 215.79 in all, well under the
    # 800.00 maximum, so the advance is repaid in 128 days (10,215.79 / 80 = 127.7).
    assert projection.daily_deduction == D("80.00")
    assert (projection.fee, projection.maximum_fee, projection.total_repayable) == (
        D("215.79"),
        D("800.00"),
        D("10215.79"),
    )
    assert projection.days_to_payoff == 128
    assert projection.payoff_date == date(2025, 5, 23)
    assert projection.term_limit_date == date(2026, 7, 15)
    # 1/18 of the most that can be owed, 10,800: 600.00 in every 60-day window.
    assert [(w.start_date, w.end_date, w.minimum, w.projected) for w in projection.windows] == [
        (date(2025, 1, 16), date(2025, 3, 16), D("600.00"), D("4800.00")),
        (date(2025, 3, 17), date(2025, 5, 15), D("600.00"), D("4800.00")),
        (date(2025, 5, 16), date(2025, 7, 14), D("600.00"), D("615.79")),
    ]
    assert not projection.breaches_minimum
    assert not projection.breaches_term_limit
    data = projection.as_dict()
    assert (data["daily_fee_rate"], data["daily_fee_percent"], data["maximum_fee"], data["highest_apr"]) == (
        "0.000333",
        "0.0333",
        "800.00",
        "12.16",
    )


def test_last_deduction_takes_the_remainder():
    projection = _project(amount="1000.00", fee_factor="1.10", average_daily_sales="333.33", rate="0.000416")
    # 33.33 a day repays 1,000.00 and 6.50 of fee in 31 days: 30 x 33.33 = 999.90, the 31st takes the last 6.60.
    assert projection.daily_deduction == D("33.33")
    assert projection.days_to_payoff == 31
    assert sum(w.projected for w in projection.windows) == projection.total_repayable == D("1006.50")


def test_slow_sales_breach_the_60_day_minimum_and_the_18_month_limit():
    projection = _project(fee_factor="1.02", average_daily_sales="90.00", rate="0.000083")
    # At most 10,200 owed, 566.67 due every 60 days, but 9.00 a day brings only 540.00 in a window; the fee reaches
    # its 200.00 maximum, and 10,200 / 9 = 1,134 days is far past 15 July 2026.
    assert projection.window_minimum == D("566.67")
    assert {w.projected for w in projection.windows} == {D("540.00")}
    assert not any(w.meets_minimum for w in projection.windows)
    assert projection.breaches_minimum
    assert projection.fee == D("200.00")
    assert projection.days_to_payoff == 1134
    assert projection.breaches_term_limit
    # The windows run up to the one holding the limit date (546 days after the start): 10 windows.
    assert len(projection.windows) == 10
    assert projection.windows[-1].start_date <= projection.term_limit_date <= projection.windows[-1].end_date


def test_projection_can_meet_every_minimum_and_still_break_the_18_month_limit():
    projection = _project(fee_factor="1.02", average_daily_sales="120.00", rate="0.000083")
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


def _terms(fee_factor="1.08", average_daily_sales="800.00", rate=RATE) -> QuoteTerms:
    return QuoteTerms(
        amount=D("10000.00"),
        start_date=START,
        method=RepaymentMethod.SALES_SHARE,
        sales_share=SalesShareTerms(
            fee_factor=D(fee_factor),
            share_rate=D("0.10"),
            average_daily_sales=D(average_daily_sales),
            daily_fee_rate=D(rate),
        ),
    )


def test_sales_share_quote_has_one_line_per_window_splitting_principal_and_fee():
    q = quote(_terms())
    # Each window's deductions pay the fee accrued in it first: much of it early, while the balance is high.
    assert [(line.due_date, line.payment, line.principal, line.fee, line.balance) for line in q.lines] == [
        (date(2025, 3, 16), D("4800.00"), D("4645.69"), D("154.31"), D("5354.31")),
        (date(2025, 5, 15), D("4800.00"), D("4739.42"), D("60.58"), D("614.89")),
        (date(2025, 5, 23), D("615.79"), D("614.89"), D("0.90"), D("0.00")),
    ]
    assert q.total_fees == q.total_cost_of_credit == D("215.79")
    assert q.total_repayable == D("10215.79")
    assert q.as_dict()["sales_share"]["payoff_date"] == "2025-05-23"
    assert q.apr <= highest_apr(RATE)


def test_sales_share_quote_past_the_18_month_limit_is_refused():
    with pytest.raises(QuoteError) as error:
        quote(_terms(fee_factor="1.02", average_daily_sales="90.00", rate="0.000083"))
    assert error.value.field == "sales_share.average_daily_sales"
    assert "2026-07-15" in str(error.value)
