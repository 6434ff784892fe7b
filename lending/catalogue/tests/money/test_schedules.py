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


def test_ten_thousand_over_twelve_months_at_twelve_percent_pays_888_49_a_month():
    # The standard annuity table: 10,000 * 0.01 / (1 - 1.01 ** -12) = 888.4879 -> 888.49.
    q = _quote()
    assert _column(q, "payment")[:11] == [D("888.49")] * 11
    first = q.lines[0]
    assert (first.interest, first.principal, first.balance) == (D("100.00"), D("788.49"), D("9211.51"))
    # The last line takes what is left: its principal is exactly the balance before it.
    assert q.lines[-1].principal == q.lines[-2].balance
    assert q.lines[-1].balance == D("0.00")
    assert sum(_column(q, "principal")) == D("10000.00")
    assert q.apr == D("12.00")


def test_equal_principal_repays_the_same_principal_with_interest_on_the_balance():
    q = _quote(term=3, annual_rate=D("0.10"), method=RepaymentMethod.EQUAL_PRINCIPAL)
    # Principal: 10,000 / 3 = 3,333.333 -> 3,333.33 twice; the last takes 10,000 - 6,666.66 = 3,333.34.
    assert _column(q, "principal") == [D("3333.33"), D("3333.33"), D("3333.34")]
    # Interest at 10 % / 12 on the balance owed during each month:
    #   10,000.00 * 0.10 / 12 = 83.3333 -> 83.33
    #    6,666.67 * 0.10 / 12 = 55.5558 -> 55.56
    #    3,333.34 * 0.10 / 12 = 27.7778 -> 27.78
    assert _column(q, "interest") == [D("83.33"), D("55.56"), D("27.78")]
    assert _column(q, "payment") == [D("3416.66"), D("3388.89"), D("3361.12")]
    assert _column(q, "balance") == [D("6666.67"), D("3333.34"), D("0.00")]
    assert q.total_interest == D("166.67")


def test_interest_first_pays_interest_monthly_and_all_principal_at_maturity():
    q = _quote(term=6, method=RepaymentMethod.INTEREST_FIRST)
    assert _column(q, "interest") == [D("100.00")] * 6
    assert _column(q, "principal") == [D("0.00")] * 5 + [D("10000.00")]
    assert _column(q, "payment") == [D("100.00")] * 5 + [D("10100.00")]
    assert _column(q, "balance") == [D("10000.00")] * 5 + [D("0.00")]
    assert q.apr == D("12.00")


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
    # 10,000 * 0.12 * 366 / 365 = 1,203.29; over 366 days that is still 12 % a year.
    assert q.total_interest == D("1203.29")
    assert q.apr == D("12.00")


def test_odd_first_period_accrues_actual_days_and_only_the_first_payment_differs():
    q = _quote(start_date=date(2025, 1, 10), first_due_date=date(2025, 2, 25))
    first, second = q.lines[0], q.lines[1]
    # 46 days from 10 January to 25 February: 10,000 * 0.12 * 46 / 365 = 151.2329 -> 151.23.
    assert first.interest == D("151.23")
    # The principal is what a regular first month repays (888.49 - 100.00), so the rest is the regular schedule.
    assert first.principal == D("788.49")
    assert first.payment == D("939.72")
    assert second.due_date == date(2025, 3, 25)
    assert _column(q, "payment")[1:11] == [D("888.49")] * 10
    assert _column(q, "balance") == _column(_quote(), "balance")


def test_short_odd_first_period_charges_fewer_days_of_interest():
    q = _quote(start_date=date(2025, 1, 10), first_due_date=date(2025, 1, 25))
    # 15 days: 10,000 * 0.12 * 15 / 365 = 49.3151 -> 49.32.
    assert q.lines[0].interest == D("49.32")
    assert q.lines[0].payment == D("788.49") + D("49.32")


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
    assert q.lines[0].interest == D("102.00")
    assert q.total_cost_of_credit == q.total_repayable - q.net_disbursement == q.total_interest + D("200.00")


def test_quote_renders_as_the_api_shows_it():
    data = _quote(term=2).as_dict()
    assert data["apr"] == "12.00"
    assert data["total_interest"] == "150.25"
    assert data["total_repayable"] == "10150.25"
    assert data["total_fees"] == "0.00"
    assert data["schedule"][0] == {
        "number": 1,
        "due_date": "2025-02-15",
        "principal": "4975.12",
        "interest": "100.00",
        "fee": "0.00",
        "payment": "5075.12",
        "balance": "5024.88",
    }


def test_schedule_is_the_same_whatever_the_callers_decimal_context():
    import decimal

    expected = _quote(term=24, annual_rate=D("0.0775")).as_dict()
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_DOWN)):
        assert _quote(term=24, annual_rate=D("0.0775")).as_dict() == expected


def test_rounded_up_payment_that_would_repay_early_is_lowered_a_fen_and_the_last_line_takes_the_rest():
    # 100.02 at 60 % over 120 months: the exact payment 5.0150... rounds to 5.02, and 120 payments of 5.02
    # would clear the balance before the last month. At 5.01 the balance lasts; the last line takes 47.09.
    q = _quote(amount=D("100.02"), term=120, annual_rate=D("0.60"))
    assert set(_column(q, "payment")[:-1]) == {D("5.01")}
    assert q.lines[-1].payment == D("47.09")
    assert q.lines[-1].principal == q.lines[-2].balance
    assert sum(_column(q, "principal")) == D("100.02")
