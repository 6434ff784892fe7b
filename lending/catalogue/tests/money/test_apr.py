"""The APR: actuarial method, fees included, two decimals rounded up, cross-checked against numpy-financial."""

from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext

import numpy_financial as npf
import pytest

from lending.catalogue.money import FeeTerms, FeeTiming, QuoteTerms, RepaymentMethod, TermUnit, quote
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr

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


def _npf_monthly_apr(q) -> float:
    """An independent APR: numpy-financial's IRR of the quote's monthly cash flows, times 12, in percent."""
    flows = {}
    for flow in q.cash_flows:
        flows[flow.on] = flows.get(flow.on, 0.0) + float(flow.amount)
    return float(npf.irr(list(flows.values()))) * 1200


def _ceiling(value: float) -> Decimal:
    return D(repr(value)).quantize(D("0.01"), rounding=ROUND_CEILING)


def test_consumer_instalment_with_a_0_6_percent_monthly_fee_has_an_apr_of_13_04():
    # 12,000 over 12 months, no interest, 72.00 fee a month: the cash flows are +12,000 then -1,072 twelve times.
    q = _quote(
        amount=D("12000.00"),
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        annual_rate=D("0"),
        fees=FeeTerms(periodic_rate=D("0.006")),
    )
    independent = float(npf.irr([12000.0] + [-1072.0] * 12)) * 1200
    assert independent == pytest.approx(13.0342, abs=1e-4)
    assert q.apr == _ceiling(independent) == D("13.04")


def test_fee_free_annuity_apr_is_the_irr_of_what_is_paid_on_actual_days():
    # Interest by actual days over unequal months: the IRR counted in equal months is just under the nominal 12 %.
    q = _quote(amount=D("50000.00"), term=36)
    independent = _npf_monthly_apr(q)
    assert 11.98 < independent < 12.0
    assert q.apr == _ceiling(independent) == D("11.99")


def test_interest_free_loan_has_an_apr_of_zero():
    assert _quote(annual_rate=D("0")).apr == D("0.00")
    assert _quote(annual_rate=D("0"), method=RepaymentMethod.EQUAL_PRINCIPAL, term=7).apr == D("0.00")


def test_deducted_fee_raises_the_apr_above_the_nominal_rate_and_matches_an_independent_irr():
    q = _quote(amount=D("50000.00"), term=36, fees=FeeTerms(origination_rate=D("0.01")))
    independent = _npf_monthly_apr(q)
    assert independent == pytest.approx(12.6821, abs=1e-4)
    assert q.apr == _ceiling(independent) == D("12.69")


@pytest.mark.parametrize(
    ("method", "rate", "term", "fees"),
    [
        (RepaymentMethod.EQUAL_INSTALMENT, "0.0435", 60, FeeTerms(origination_fixed=D("800.00"))),
        (RepaymentMethod.EQUAL_INSTALMENT, "0.60", 3, FeeTerms(origination_rate=D("0.10"))),
        (RepaymentMethod.EQUAL_INSTALMENT, "0.24", 120, FeeTerms(periodic_rate=D("0.01"))),
        (RepaymentMethod.EQUAL_PRINCIPAL, "0.18", 24, FeeTerms(origination_rate=D("0.03"))),
        (RepaymentMethod.INTEREST_FIRST, "0.15", 12, FeeTerms(origination_rate=D("0.05"))),
        (
            RepaymentMethod.INTEREST_FIRST,
            "0.09",
            6,
            FeeTerms(origination_rate=D("0.05"), origination_timing=FeeTiming.FINANCED),
        ),
        (
            RepaymentMethod.EQUAL_PRINCIPAL,
            "0.3650",
            1,
            FeeTerms(origination_rate=D("0.02"), origination_timing=FeeTiming.UPFRONT),
        ),
    ],
)
def test_monthly_apr_agrees_with_numpy_financial_irr_and_is_never_below_it(method, rate, term, fees):
    q = _quote(amount=D("80000.00"), method=method, annual_rate=D(rate), term=term, fees=fees)
    independent = _npf_monthly_apr(q)
    # Both see the rounded payments on whole months: the disclosed figure is the IRR rounded up.
    assert independent - 1e-9 <= float(q.apr) < independent + 0.01 + 1e-9


def test_very_high_rate_and_heavy_fees_converge():
    q = _quote(amount=D("100000.00"), annual_rate=D("1"), term=2, fees=FeeTerms(origination_rate=D("0.5")))
    independent = _npf_monthly_apr(q)
    assert independent > 300
    assert independent - 1e-4 <= float(q.apr) < independent + 0.01 + 1e-4


def test_seven_day_loan_with_a_deducted_fee_annualises_over_the_term():
    q = _quote(
        amount=D("1000.00"),
        method=RepaymentMethod.BULLET,
        term=7,
        term_unit=TermUnit.DAYS,
        annual_rate=None,
        daily_rate=D("0.0005"),
        fees=FeeTerms(origination_rate=D("0.02")),
    )
    # Repay 1,003.50 (3.50 interest) on 980.00 received: (1003.50 / 980 - 1) * 365 / 7 = 125.0362 %.
    assert q.total_repayable == D("1003.50")
    assert q.net_disbursement == D("980.00")
    assert q.apr == D("125.04")


def test_bullet_longer_than_a_year_compounds_yearly():
    q = _quote(method=RepaymentMethod.BULLET, term=24, annual_rate=D("0.10"))
    # 730 days of simple interest: 10,000 * 0.10 * 730 / 365 = 2,000.00, repaid after exactly two years:
    # (1 + i) ** 2 = 1.2 -> i = 9.5445 % a year, where simple interest would say 10 %.
    assert q.total_interest == D("2000.00")
    assert q.apr_unit_period == "year"
    assert q.apr == D("9.55")


def test_disclosed_apr_is_rounded_up_even_when_the_next_fen_is_a_hair_away():
    # One payment of 10,100.01 a month after receiving 10,000: i = 1.0001 %, so 12.0012 % a year -> 12.01, not 12.00.
    apr, _unit = disclosed_apr(
        start_date=START,
        advance=D("10000.00"),
        payments=[(date(2025, 2, 15), D("10100.01"))],
        unit=UnitPeriod.MONTH,
    )
    assert apr == D("12.01")


def test_exact_two_decimal_apr_is_not_pushed_up_by_float_error():
    # 0.1 + 0.2 style traps: i = 0.0575 % a month exactly is 0.69 % a year, shown as 0.69 and not 0.70.
    apr, _unit = disclosed_apr(
        start_date=START,
        advance=D("100000.00"),
        payments=[(date(2025, 2, 15), D("100057.50"))],
        unit=UnitPeriod.MONTH,
    )
    assert apr == D("0.69")


def test_disclosed_apr_repays_the_advance_and_the_figure_below_it_does_not():
    q = _quote(amount=D("37777.77"), term=29, annual_rate=D("0.1399"), fees=FeeTerms(origination_rate=D("0.0123")))
    payments = [line.payment for line in q.lines]

    def present_value(apr_percent: Decimal) -> Decimal:
        with localcontext(prec=60):
            monthly = apr_percent / 1200
            return sum(payment / (1 + monthly) ** k for k, payment in enumerate(payments, start=1))

    assert present_value(q.apr) <= q.net_disbursement < present_value(q.apr - D("0.01"))


def test_sales_share_apr_is_daily_irr_times_365():
    from lending.catalogue.money import SalesShareTerms

    q = quote(
        QuoteTerms(
            amount=D("10000.00"),
            start_date=START,
            method=RepaymentMethod.SALES_SHARE,
            sales_share=SalesShareTerms(
                fee_factor=D("1.08"),
                share_rate=D("0.10"),
                average_daily_sales=D("800.00"),
                daily_fee_rate=D("0.000333"),
            ),
        )
    )
    flows = [float(flow.amount) for flow in q.cash_flows]
    assert flows == [10000.0] + [-80.0] * 127 + [-55.79]
    independent = float(npf.irr(flows)) * 36500
    # The fee accrues at 0.000333 a day on what is outstanding and is paid first: the IRR is just under it.
    assert independent <= 0.000333 * 36500
    assert q.apr_unit_period == "day"
    assert q.apr == _ceiling(independent)


# Regulation Z, Appendix J (c): the published examples of the actuarial method, to the published hundredth. The
# unrounded APR (``_exact``) rounds half-up to the published figure; the disclosed figure is it rounded up.


def _exact(*, advance, payments, start, unit=UnitPeriod.MONTH) -> Decimal:
    from lending.catalogue.money.apr import actuarial_apr

    return actuarial_apr(start_date=start, advance=D(advance), payments=payments, unit=unit)


def _monthly(first: date, count: int, amount: str) -> list[tuple[date, Decimal]]:
    from lending.catalogue.money.dates import add_months

    return [(add_months(first, k), D(amount)) for k in range(count)]


@pytest.mark.parametrize(
    ("name", "start", "advance", "payments", "published"),
    [
        ("(c)(1)(i) regular first period", date(1978, 1, 10), "5000", _monthly(date(1978, 2, 10), 24, "230"), "9.69"),
        # Advanced 10 February, first payment 1 April: back from 1 April one whole month to 1 March, then the
        # 19 days from 10 February, 19/30 of a month; counting forward (22 days) would give a lower rate.
        ("(c)(1)(ii) long first period", date(1978, 2, 10), "6000", _monthly(date(1978, 4, 1), 36, "200"), "11.82"),
        (
            "(c)(2)(i) odd first payment",
            date(1978, 1, 10),
            "5000",
            [(date(1978, 2, 10), D("250")), *_monthly(date(1978, 3, 10), 23, "230")],
            "10.08",
        ),
        (
            "(c)(3)(i) odd final payment",
            date(1978, 1, 10),
            "5000",
            [*_monthly(date(1978, 2, 10), 23, "230"), (date(1980, 1, 10), D("280"))],
            "10.50",
        ),
        (
            "(c)(4)(i) odd first and final payments",
            date(1978, 1, 10),
            "5000",
            [(date(1978, 2, 10), D("250")), *_monthly(date(1978, 3, 10), 22, "230"), (date(1980, 1, 10), D("280"))],
            "10.90",
        ),
    ],
)
def test_appendix_j_examples_are_reproduced_to_the_published_hundredth(name, start, advance, payments, published):
    exact = _exact(advance=advance, payments=payments, start=start)
    assert exact.quantize(D("0.01"), rounding="ROUND_HALF_UP") == D(published), name
    disclosed, unit = disclosed_apr(start_date=start, advance=D(advance), payments=payments, unit=UnitPeriod.MONTH)
    assert unit is UnitPeriod.MONTH
    assert disclosed == exact.quantize(D("0.01"), rounding=ROUND_CEILING)


def test_appendix_j_single_advance_single_payment_is_annualised_over_its_days():
    # (c)(5)(i): 1,000 on 3 January 1978, 1,080 on 15 September 1978 (255 days): 80 / 1,000 * 365 / 255 = 11.45 %.
    payments = [(date(1978, 9, 15), D("1080"))]
    exact = _exact(advance="1000", payments=payments, start=date(1978, 1, 3), unit=UnitPeriod.TERM)
    assert exact.quantize(D("0.01"), rounding="ROUND_HALF_UP") == D("11.45")


def test_odd_first_period_is_counted_back_from_each_payment_so_the_apr_is_not_understated():
    # A fee-free 12 % loan from 28 February 2026, first due 2 March: counted forward, every payment after the
    # first looked a month and 2 days long (11.83 %). Counted back, each payment is whole months plus 2 days.
    q = _quote(amount=D("10000.00"), start_date=date(2026, 2, 28), first_due_date=date(2026, 3, 2))
    exact = _exact(
        advance="10000.00", payments=[(line.due_date, line.payment) for line in q.lines], start=date(2026, 2, 28)
    )
    assert q.apr == exact.quantize(D("0.01"), rounding=ROUND_CEILING)
    assert q.apr >= D("11.95")


def test_a_twelve_month_bullet_over_a_29_february_is_one_unit_period_a_year_not_365_366ths():
    # 100.00 repaid for 99.99 paid out, over 2020 (366 days): the year's rate is 0.010001 %, so 0.02 % disclosed.
    q = quote(
        QuoteTerms(
            amount=D("100.00"),
            term=12,
            start_date=date(2020, 1, 1),
            method=RepaymentMethod.BULLET,
            annual_rate=D("0"),
            fees=FeeTerms(origination_rate=D("0.0001")),
        )
    )
    assert q.net_disbursement == D("99.99")
    assert (q.apr, q.apr_unit_period) == (D("0.02"), "term")
