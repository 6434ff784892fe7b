"""The platform's ceiling on the annualised all-in cost (24 % by default): every product, grade, term and speed.

Instalment and single-payment loans are judged on every term and method the product allows; a sales-share advance
at every speed its sales can repay it, from the day after it is paid out to the 18-month limit. The demo's grids
stay within the ceiling, and so does a grid raised to the ceiling's very edge, where one step more is refused,
in the admin and in a quote, naming the grade and the rate.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.money import to_fen
from lending.catalogue.models import RATE_QUANTUM, LoanProduct
from lending.catalogue.money import sales_share_repayments
from lending.catalogue.money.apr import UnitPeriod, disclosed_apr
from lending.catalogue.money.dates import add_months
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS, highest_apr, maximum_fee
from lending.catalogue.services.demo import DEMO_PRODUCTS
from lending.catalogue.services.products import (
    product_ceiling_errors,
    product_grid_over_ceiling,
    product_save,
    product_terms_snapshot,
    quote_for_product,
    quote_for_snapshot,
    sales_share_daily_fee_rate,
)
from lending.catalogue.tests.factories import SalesShareProductFactory
from underwriting.choices import GRADES

pytestmark = pytest.mark.django_db

CEILING = Decimal("24.00")
D = Decimal


def demo(code: str, **changes) -> LoanProduct:
    terms = next(terms for terms in DEMO_PRODUCTS if terms["code"] == code)
    return LoanProduct(**{**terms, **changes})


def amounts_of(product: LoanProduct, *, between: bool = True) -> list[Decimal]:
    """The smallest and largest amounts, and a few odd ones between (rounding differs from amount to amount)."""
    low, high = product.amount_min, product.amount_max
    if not between:
        return [low, high]
    return [low, *(to_fen(low + (high - low) * D(share)) for share in ("0.0137", "0.3333", "0.7771")), high]


def instalment_aprs(product: LoanProduct, *, between: bool = True):
    """(grade, term, method, amount, APR) of every loan the product allows, at each grade; the APR is None when the
    quote refuses the loan (it never prices one above the ceiling)."""
    for grade in GRADES:
        snapshot = product_terms_snapshot(product=product, grade=grade)
        for term in product.allowed_terms:
            for method in product.repayment_methods:
                for amount in amounts_of(product, between=between):
                    try:
                        apr = quote_for_snapshot(
                            snapshot=snapshot, amount=amount, term=term, repayment_method=method
                        ).apr
                    except ValidationError as refused:
                        if "above the platform's ceiling of 24.00 %" not in str(refused):
                            raise  # refused for another reason: the product itself is wrong
                        apr = None
                    yield grade, term, method, amount, apr


def sales_share_costs(product: LoanProduct, start: date):
    """(grade, speed, amount, fee, maximum fee, APR) of advances repaid at each speed, at each grade.

    Speeds: the next day, in a week, at the merchant's average sales repaying in about a month, six months and a
    year (quoted, as an offer is), and on the last day of the 18-month limit with no sales before it.
    """
    share = product.sales_share_rate
    limit_days = (add_months(start, TERM_LIMIT_MONTHS) - start).days
    for grade in GRADES:
        snapshot = product_terms_snapshot(product=product, grade=grade)
        factor = product.price_for(grade)
        rate = sales_share_daily_fee_rate(fee_factor=factor, fee_days=product.sales_share_fee_days)
        for amount in amounts_of(product):
            most = maximum_fee(amount, factor)
            enough = amount + most + 1
            paths = {
                "next day": [enough],
                "in a week": [to_fen(amount / 10)] * 6 + [enough],
                "on the limit": [D("0.00")] * (limit_days - 1) + [enough],
            }
            for speed, path in paths.items():
                days = sales_share_repayments(
                    amount=amount, start_date=start, fee_factor=factor, daily_fee_rate=rate, deductions=path
                )
                assert days[-1].balance == 0
                payments = [(day.on, day.payment) for day in days if day.payment]
                apr, _unit = disclosed_apr(start_date=start, advance=amount, payments=payments, unit=UnitPeriod.DAY)
                yield grade, speed, amount, sum(day.fee for day in days), most, apr
            for days_to_repay in (30, 180, 365):
                sales = to_fen((amount + most) / days_to_repay / share)
                priced = quote_for_snapshot(
                    snapshot=snapshot, amount=amount, term=None, start_date=start, average_daily_sales=sales
                )
                yield grade, f"about {days_to_repay} days", amount, priced.total_fees, most, priced.apr


def test_every_demo_instalment_product_grade_term_and_method_stays_within_the_ceiling():
    for code in ("short-term-working-capital", "operating-loan", "instalment-loan"):
        aprs = list(instalment_aprs(demo(code)))
        assert aprs
        # Every loan is quoted (none refused) and none costs more than the ceiling.
        assert [row for row in aprs if row[-1] is None or row[-1] > CEILING] == [], code


def test_every_demo_sales_share_grade_and_speed_stays_within_the_ceiling_and_its_maximum_fee():
    costs = list(sales_share_costs(demo("sales-share-advance"), timezone.localdate()))
    assert len(costs) == len(GRADES) * 5 * 6
    assert [row for row in costs if row[-1] > CEILING or row[3] > row[4]] == []
    # Repaying faster costs less: the next day's fee is one day's, the slowest pays the most.
    by_speed = {(grade, speed, amount): fee for grade, speed, amount, fee, _most, _apr in costs}
    for grade, speed, amount in by_speed:
        if speed == "next day":
            assert by_speed[grade, speed, amount] < by_speed[grade, "about 30 days", amount]
            assert by_speed[grade, "about 365 days", amount] <= by_speed[grade, "on the limit", amount]


def test_the_demo_grids_pass_the_grid_check():
    for terms in DEMO_PRODUCTS:
        assert product_grid_over_ceiling(product=LoanProduct(**terms)) == [], terms["code"]


def _edge_price(product: LoanProduct, grade: str) -> Decimal:
    """The highest price (six places) ``grade`` can take and still pass the grid check: bisection."""
    prices = dict(product.prices)
    low, high = D(prices[grade]), product.rule.price_max
    product.prices = {**prices, grade: str(high)}
    assert product_grid_over_ceiling(product=product), "the kind's bound is within the ceiling: no edge to find"
    while high - low > RATE_QUANTUM:
        middle = ((low + high) / 2).quantize(RATE_QUANTUM)
        product.prices = {**prices, grade: str(middle)}
        low, high = (low, middle) if product_grid_over_ceiling(product=product) else (middle, high)
    product.prices = prices
    return low


@pytest.mark.parametrize("code", ["short-term-working-capital", "operating-loan", "instalment-loan"])
def test_at_the_ceilings_edge_every_loan_stays_within_it_and_one_step_more_is_refused(code):
    product = demo(code)
    edge = _edge_price(product, "E")
    product.prices = {**product.prices, "E": str(edge)}

    # The amounts the grid check judges are all quoted within the ceiling, one of them close to it: the check is
    # not loose.
    judged = [apr for *_rest, apr in instalment_aprs(product, between=False)]
    assert None not in judged
    assert CEILING - D("0.10") < max(judged) <= CEILING
    # Between them an amount's rounding can tip the APR a hundredth over: that loan is refused, never quoted.
    assert all(apr is None or apr <= CEILING for *_rest, apr in instalment_aprs(product))

    product.prices = {**product.prices, "E": str(edge + RATE_QUANTUM)}
    ((grade, apr),) = product_grid_over_ceiling(product=product)
    assert grade == "E"
    assert apr > CEILING
    assert product_ceiling_errors(product=product) == [
        f"Grade E: some loans this product allows would cost {apr:.2f} % a year (APR), above the platform's "
        "ceiling of 24.00 %."
    ]


def test_a_sales_share_advance_at_the_ceilings_edge_costs_at_most_the_ceiling_at_every_speed():
    # Spread over 200 days, grade E's fee factor 1.1314 accrues 0.1314 / 200 = 0.000657 a day: 23.98 % a year,
    # the highest six-place daily rate within 24 %.
    product = demo("sales-share-advance", sales_share_fee_days=200)
    product.prices = {**product.prices, "D": "1.100000", "E": "1.131400"}
    assert sales_share_daily_fee_rate(fee_factor=D("1.1314"), fee_days=200) == D("0.000657")
    assert product_grid_over_ceiling(product=product) == []

    costs = list(sales_share_costs(product, timezone.localdate()))
    assert max(apr for *_rest, apr in costs) <= CEILING
    assert max(apr for grade, *_rest, apr in costs if grade == "E") == highest_apr(D("0.000657")) == D("23.99")

    # One step more: 1.1316 / 200 = 0.000658 a day, 24.017 % a year.
    product.prices = {**product.prices, "E": "1.131600"}
    assert product_grid_over_ceiling(product=product) == [("E", D("24.02"))]
    assert product_ceiling_errors(product=product) == [
        "Grade E: an advance repaid the day after it is paid out would cost 24.02 % a year (APR), above the "
        "platform's ceiling of 24.00 %: lower the fee factor or spread the fee over more days."
    ]


def test_product_save_refuses_a_sales_share_grid_above_the_ceiling():
    product = SalesShareProductFactory.build(sales_share_fee_days=100)

    with pytest.raises(ValidationError) as caught:
        product_save(product=product)

    # 0.08 / 100 = 0.0008 a day (29.20 %), 0.11 / 100 (40.15 %), 0.15 / 100 (54.75 %): grades C, D and E.
    assert [message.split(":")[0] for message in caught.value.message_dict["prices"]] == [
        "Grade C",
        "Grade D",
        "Grade E",
    ]
    assert "29.20 %" in caught.value.message_dict["prices"][0]


def test_a_quote_priced_above_the_ceiling_is_refused_naming_the_grade_and_the_rate(settings):
    product = SalesShareProductFactory()
    settings.ANNUAL_COST_CEILING = Decimal("20.00")

    with pytest.raises(ValidationError) as caught:
        quote_for_product(product=product, amount="20000", term=None, average_daily_sales="3000", grade="E")

    # Grade E: 0.15 / 240 = 0.000625 a day, 22.82 % a year at the fastest, above a 20 % ceiling.
    assert caught.value.message_dict == {
        "product": [
            "Grade E: an advance repaid the day after it is paid out would cost 22.82 % a year (APR), above the "
            "platform's ceiling of 20.00 %: lower the fee factor or spread the fee over more days."
        ]
    }
    # Grade C (12.16 % at the fastest) is still quoted.
    assert quote_for_product(product=product, amount="20000", term=None, average_daily_sales="3000").apr <= 20


def test_a_counter_offer_price_above_the_ceiling_is_refused_by_the_quote():
    snapshot = product_terms_snapshot(product=SalesShareProductFactory(sales_share_fee_days=200), grade="D")
    snapshot["price"] = "1.150000"  # an officer's price: 0.00075 a day

    with pytest.raises(ValidationError) as caught:
        quote_for_snapshot(snapshot=snapshot, amount="20000", term=None, average_daily_sales="3000")

    assert caught.value.message_dict["product"][0].startswith("Grade D: an advance repaid the day after")
    assert "27.38 %" in caught.value.message_dict["product"][0]


def test_an_offer_kept_before_fees_were_spread_is_priced_at_the_ceilings_daily_rate():
    snapshot = product_terms_snapshot(product=SalesShareProductFactory(), grade="E")
    del snapshot["sales_share"]["fee_days"]

    priced = quote_for_snapshot(snapshot=snapshot, amount="20000", term=None, average_daily_sales="3000")

    # 24 % / 365 = 0.000657 a day (rounded down), and never more than the 3,000.00 the factor 1.15 allowed.
    assert (priced.sales_share.daily_fee_rate, priced.sales_share.maximum_fee) == (D("0.000657"), D("3000.00"))
    assert priced.apr <= CEILING


def test_a_sales_share_advance_needs_the_days_its_fee_is_spread_over_and_only_it_has_them():
    with pytest.raises(ValidationError) as caught:
        SalesShareProductFactory.build(sales_share_fee_days=None).full_clean()
    assert caught.value.message_dict["sales_share_fee_days"] == [
        "A sales-share advance needs the days its fee is spread over, from 1 to 548."
    ]

    with pytest.raises(ValidationError) as caught:
        demo("operating-loan", sales_share_fee_days=240).full_clean()
    assert caught.value.message_dict["sales_share_fee_days"] == [
        "Only a sales-share advance spreads its fee over days; leave it empty."
    ]


def test_the_quote_states_the_daily_rate_the_maximum_fee_and_the_highest_cost():
    product = SalesShareProductFactory()
    start = timezone.localdate() + timedelta(days=1)

    priced = quote_for_product(product=product, amount="20000", term=None, average_daily_sales="3000", start_date=start)

    data = priced.as_dict()["sales_share"]
    assert (data["daily_fee_rate"], data["daily_fee_percent"], data["maximum_fee"], data["highest_apr"]) == (
        "0.000333",
        "0.0333",
        "1600.00",
        "12.16",
    )
    assert Decimal(data["fee"]) < Decimal(data["maximum_fee"])
