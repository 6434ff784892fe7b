"""Schedules against published figures and hand arithmetic, one method at a time."""

from datetime import date, timedelta
from decimal import Decimal

from lending.catalogue.money import DayCount, FeeTerms, FeeTiming, QuoteTerms, RepaymentMethod, TermUnit, quote

D = Decimal
START = date(2025, 1, 15)


def _quote(**overrides):
    values = {
        "amount": D("10000.00"),
        "term": 12,
        "start_date": START,
        "method": RepaymentMethod.EQUAL_INSTALMENT,
        "annual_rate": D("0.12"),
    }
    values.update(overrides)
    return quote(QuoteTerms(**values))


def _column(q, name):
    return [getattr(line, name) for line in q.lines]


def test_ten_thousand_over_twelve_months_at_twelve_percent_pays_888_26_a_month_with_interest_by_actual_days():
    # Interest accrues on actual days at 12 % / 365 a day: 31 days from 15 January to 15 February cost
    # 10,000 * 0.12 * 31 / 365 = 101.9178 -> 101.92; February's 28 days on 9,213.66 cost 84.82. The level payment
    # that repays exactly on those days is 888.26 (a 365-day year of months costs the same as 12 x 1 %).
    q = _quote()
    assert _column(q, "payment")[:11] == [D("888.26")] * 11
    first, second = q.lines[0], q.lines[1]
    assert (first.interest, first.principal, first.balance) == (D("101.92"), D("786.34"), D("9213.66"))
    assert (second.interest, second.principal) == (D("84.82"), D("803.44"))
    # The last line takes what is left: its principal is exactly the balance before it.
    assert q.lines[-1].principal == q.lines[-2].balance
    assert q.lines[-1].balance == D("0.00")
    assert sum(_column(q, "principal")) == D("10000.00")
    # The months are unequal, so the IRR counted in equal months is a little under the nominal 12 %.
    assert q.apr == D("11.96")


def test_equal_principal_repays_the_same_principal_with_interest_on_the_balance():
    q = _quote(term=3, annual_rate=D("0.10"), method=RepaymentMethod.EQUAL_PRINCIPAL)
    # Principal: 10,000 / 3 = 3,333.333 -> 3,333.33 twice; the last takes 10,000 - 6,666.66 = 3,333.34.
    assert _column(q, "principal") == [D("3333.33"), D("3333.33"), D("3333.34")]
    # Interest at 10 % / 365 a day on the balance owed, for the month's actual days:
    #   10,000.00 * 0.10 * 31 / 365 = 84.9315 -> 84.93   (15 January to 15 February)
    #    6,666.67 * 0.10 * 28 / 365 = 51.1416 -> 51.14   (February)
    #    3,333.34 * 0.10 * 31 / 365 = 28.3106 -> 28.31   (March)
    assert _column(q, "interest") == [D("84.93"), D("51.14"), D("28.31")]
    assert _column(q, "payment") == [D("3418.26"), D("3384.47"), D("3361.65")]
    assert _column(q, "balance") == [D("6666.67"), D("3333.34"), D("0.00")]
    assert q.total_interest == D("164.38")


def test_interest_first_pays_interest_monthly_and_all_principal_at_maturity():
    q = _quote(term=6, method=RepaymentMethod.INTEREST_FIRST)
    # 10,000 * 0.12 / 365 = 3.2877 a day: 31 days 101.92, 28 days 92.05, 30 days 98.63.
    assert _column(q, "interest") == [D("101.92"), D("92.05"), D("101.92"), D("98.63"), D("101.92"), D("98.63")]
    assert _column(q, "principal") == [D("0.00")] * 5 + [D("10000.00")]
    assert _column(q, "payment")[-1] == D("10098.63")
    assert _column(q, "balance") == [D("10000.00")] * 5 + [D("0.00")]
    assert q.apr == D("11.91")


def test_thirty_day_bullet_at_a_daily_rate_of_0_05_percent_costs_150():
    # 10,000 * 0.0005 * 30 days = 150.00, principal and interest together at maturity.
    q = _quote(
        method=RepaymentMethod.BULLET, term=30, term_unit=TermUnit.DAYS, annual_rate=None, daily_rate=D("0.0005")
    )
    (line,) = q.lines
    assert line.due_date == START + timedelta(days=30)
    assert (line.principal, line.interest, line.payment, line.balance) == (
        D("10000.00"),
        D("150.00"),
        D("10150.00"),
        D("0.00"),
    )
    # A single payment's APR is its cost over the term, annualised: 150 / 10,000 * 365 / 30 = 18.25 %.
    assert q.apr == D("18.25")
    assert q.apr_unit_period == "term"


def test_bullet_on_actual_360_charges_more_than_actual_365_for_the_same_days():
    terms = {"method": RepaymentMethod.BULLET, "term": 90, "term_unit": TermUnit.DAYS, "annual_rate": D("0.0730")}
    on_365 = _quote(**terms)
    on_360 = _quote(**terms, day_count=DayCount.ACTUAL_360)
    # 10,000 * 0.073 * 90 / 365 = 180.00; 10,000 * 0.073 * 90 / 360 = 182.50.
    assert on_365.total_interest == D("180.00")
    assert on_360.total_interest == D("182.50")
    assert on_365.apr == D("7.30")
    # 182.50 / 10,000 * 365 / 90 = 7.4014 % -> rounded up to 7.41.
    assert on_360.apr == D("7.41")


def test_bullet_over_a_leap_year_accrues_366_days():
    q = _quote(method=RepaymentMethod.BULLET, term=12, start_date=date(2024, 1, 15))
    assert q.lines[0].due_date == date(2025, 1, 15)
    # 10,000 * 0.12 * 366 / 365 = 1,203.29: the leap day is a day the money is used. A term of twelve months is
    # one unit period a year (Appendix J), so the APR is that year's cost: 12.0329 % -> 12.04 rounded up (annualising
    # on 365 of 366 days would say 12.01, understating it).
    assert q.total_interest == D("1203.29")
    assert q.apr == D("12.04")


def test_odd_first_period_accrues_actual_days_and_the_payment_stays_level():
    q = _quote(start_date=date(2025, 1, 10), first_due_date=date(2025, 2, 25))
    first, second = q.lines[0], q.lines[1]
    # 46 days from 10 January to 25 February: 10,000 * 0.12 * 46 / 365 = 151.2329 -> 151.23.
    assert first.interest == D("151.23")
    # The same day count runs through every line, so the level payment already covers the longer first period.
    assert (first.principal, first.payment) == (D("741.36"), D("892.59"))
    assert second.due_date == date(2025, 3, 25)
    assert _column(q, "payment")[:11] == [D("892.59")] * 11
    # Counted back from each payment, every payment is whole months plus the 15 days from 10 to 25 January.
    assert q.apr == D("11.94")


def test_short_odd_first_period_charges_fewer_days_of_interest():
    q = _quote(start_date=date(2025, 1, 10), first_due_date=date(2025, 1, 25))
    # 15 days: 10,000 * 0.12 * 15 / 365 = 49.3151 -> 49.32; then 31 days on 9,165.52 = 93.41.
    assert q.lines[0].interest == D("49.32")
    assert q.lines[1].interest == D("93.41")
    assert q.lines[0].payment == q.lines[1].payment == D("883.80")


def test_consumer_instalment_charges_a_monthly_fee_on_the_original_principal_and_no_interest():
    q = _quote(
        amount=D("12000.00"),
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        annual_rate=D("0"),
        fees=FeeTerms(periodic_rate=D("0.006")),
    )
    # 12,000 / 12 = 1,000 principal and 12,000 * 0.6 % = 72.00 fee every month, the same every month.
    assert {(line.principal, line.interest, line.fee, line.payment) for line in q.lines} == {
        (D("1000.00"), D("0.00"), D("72.00"), D("1072.00"))
    }
    assert q.total_fees == D("864.00")
    assert q.total_repayable == D("12864.00")


def test_deducted_origination_fee_reduces_the_cash_paid_out_not_the_principal():
    q = _quote(fees=FeeTerms(origination_rate=D("0.02"), origination_timing=FeeTiming.DEDUCTED))
    assert q.origination_fee == D("200.00")
    assert q.principal == D("10000.00")
    assert q.net_disbursement == D("9800.00")
    assert q.total_repayable == sum(_column(q, "payment"))
    assert q.total_cost_of_credit == q.total_interest + D("200.00") == q.total_repayable - q.net_disbursement
    assert q.cash_flows[0].amount == D("9800.00")


def test_upfront_fee_is_paid_on_the_start_date_and_counted_in_the_total_repayable():
    q = _quote(fees=FeeTerms(origination_fixed=D("150.00"), origination_timing=FeeTiming.UPFRONT))
    assert q.net_disbursement == D("10000.00")
    assert [(flow.on, flow.amount) for flow in q.cash_flows[:2]] == [(START, D("10000.00")), (START, D("-150.00"))]
    assert q.total_repayable == sum(_column(q, "payment")) + D("150.00")
    assert q.total_cost_of_credit == q.total_repayable - q.net_disbursement


def test_financed_fee_is_added_to_the_principal_and_bears_interest():
    q = _quote(fees=FeeTerms(origination_rate=D("0.02"), origination_timing=FeeTiming.FINANCED))
    assert q.principal == D("10200.00")
    assert q.net_disbursement == D("10000.00")
    assert sum(_column(q, "principal")) == D("10200.00")
    # 10,200 * 0.12 * 31 / 365 = 103.9562 -> 103.96.
    assert q.lines[0].interest == D("103.96")
    assert q.total_cost_of_credit == q.total_repayable - q.net_disbursement == q.total_interest + D("200.00")


def test_quote_renders_as_the_api_shows_it():
    data = _quote(term=2).as_dict()
    assert data["apr"] == "11.84"
    assert data["total_interest"] == "148.20"
    assert data["total_repayable"] == "10148.20"
    assert data["total_fees"] == "0.00"
    assert data["schedule"][0] == {
        "number": 1,
        "due_date": "2025-02-15",
        "principal": "4972.18",
        "interest": "101.92",
        "fee": "0.00",
        "payment": "5074.10",
        "balance": "5027.82",
    }


def test_schedule_is_the_same_whatever_the_callers_decimal_context():
    import decimal

    expected = _quote(term=24, annual_rate=D("0.0775")).as_dict()
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_DOWN)):
        assert _quote(term=24, annual_rate=D("0.0775")).as_dict() == expected


def test_rounded_up_payment_that_would_repay_early_is_lowered_a_fen_and_the_last_line_takes_the_rest():
    # 100.02 at 10 % over 240 months: the level payment 0.96538... rounds to 0.97, and 240 payments of 0.97
    # would clear the balance before the last month. At 0.96 the balance lasts; the last line takes 4.96.
    q = _quote(amount=D("100.02"), term=240, annual_rate=D("0.10"))
    assert set(_column(q, "payment")[:-1]) == {D("0.96")}
    assert q.lines[-1].payment == D("4.96")
    assert q.lines[-1].principal == q.lines[-2].balance
    assert sum(_column(q, "principal")) == D("100.02")


def test_a_line_whose_interest_is_more_than_the_level_payment_pays_interest_only_and_the_balance_never_grows():
    # 60 % over 120 months from 31 May: a 31-day month's interest (5.10 on 100.02) is more than the level payment
    # would be, so those months pay their interest and no principal; the other months share a level payment.
    q = _quote(amount=D("100.02"), term=120, annual_rate=D("0.60"), start_date=date(2025, 5, 31))
    interest_only = [line for line in q.lines[:-1] if not line.principal]
    assert interest_only
    assert all(line.payment == line.interest for line in interest_only)
    assert len({line.payment for line in q.lines[:-1] if line.principal}) == 1
    balances = [line.balance for line in q.lines]
    assert all(later <= earlier for earlier, later in zip([q.principal, *balances], balances, strict=False))
    assert sum(_column(q, "principal")) == D("100.02")
