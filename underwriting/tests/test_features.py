"""Features on hand-computed histories; the decision date is 15 July 2025, so "the year" is July 2024 - June 2025."""

import datetime
import json
from decimal import Decimal

import pytest

from merchants.tests.factories import MerchantFactory
from underwriting.selectors.features import MerchantFeatures, compute_features, merchant_features
from underwriting.tests.factories import add_monthly_sales, add_sales

AS_OF = datetime.date(2025, 7, 15)


def month(year: int, month_number: int) -> datetime.date:
    return datetime.date(year, month_number, 1)


@pytest.mark.django_db
def test_empty_history_has_zeros_and_unmeasurable_values_as_none(merchant):
    features = merchant_features(merchant=merchant, as_of=AS_OF, requested_amount=Decimal("50000"))

    assert features.months_active == 0
    assert features.sales_12m == Decimal("0.00")
    assert features.monthly_sales_avg == Decimal("0.00")
    assert features.distinct_customers == 0
    assert features.trading_months == 0
    for unmeasurable in (
        "sales_trend",
        "sales_cv",
        "refund_ratio",
        "active_day_share",
        "days_since_last_sale",
        "seasonality",
        "amount_to_monthly_sales",
        "first_sale_on",
        "last_sale_on",
    ):
        assert getattr(features, unmeasurable) is None, unmeasurable
    assert features.industry == "F5211"


@pytest.mark.django_db
def test_one_day_in_the_running_month_counts_for_recency_but_not_for_the_year(merchant):
    add_sales(merchant, first=datetime.date(2025, 7, 10), days=1, gross="500.00", customers=7)

    features = merchant_features(merchant=merchant, as_of=AS_OF)

    assert features.months_active == 0
    assert features.sales_12m == Decimal("0.00")
    assert features.monthly_sales_avg == Decimal("0.00")
    assert features.days_since_last_sale == 5
    assert features.distinct_customers == 7
    assert features.active_day_share is None  # the first sale is after the year: nothing to share out
    assert features.first_sale_on == features.last_sale_on == datetime.date(2025, 7, 10)


@pytest.mark.django_db
def test_one_day_in_the_year_is_one_trading_month(merchant):
    add_sales(merchant, first=datetime.date(2025, 6, 20), days=1, gross="3000.00", refunds="30.00")

    features = merchant_features(merchant=merchant, as_of=AS_OF, requested_amount=Decimal("6000"))

    assert features.months_active == 0  # 20 June to 15 July is not a full month
    assert features.sales_12m == Decimal("3000.00")
    assert features.trading_months == 1
    assert features.monthly_sales_avg == Decimal("3000.00")
    assert features.sales_trend is None  # nothing in January - March to compare April - June with
    assert features.sales_cv is None  # fewer than three trading months
    assert features.seasonality is None
    assert features.refund_ratio == Decimal("0.0100")
    assert features.active_day_share == Decimal("0.0909")  # 1 day with sales of the 11 from 20 to 30 June
    assert features.days_since_last_sale == 25
    assert features.amount_to_monthly_sales == Decimal("2.0000")


@pytest.mark.django_db
def test_steady_daily_sales_over_eighteen_months(merchant):
    # 1,000 yuan and 10 yuan of refunds every day from 1 January 2024 to 14 July 2025.
    add_sales(merchant, first=datetime.date(2024, 1, 1), days=561, gross="1000.00", refunds="10.00", customers=10)

    features = merchant_features(merchant=merchant, as_of=AS_OF, requested_amount=Decimal("15208.34"))

    assert features.months_active == 18
    assert features.sales_12m == Decimal("365000.00")  # 365 days from July 2024 to June 2025
    assert features.monthly_sales_avg == Decimal("30416.67")
    assert features.sales_trend == Decimal("0.0111")  # April - June 91 days against January - March 90 days
    assert features.sales_cv == Decimal("0.0283")  # months of 28, 30 and 31 days: only the calendar varies
    assert features.seasonality == Decimal("1.0192")  # a 31-day month against the average month
    assert features.refund_ratio == Decimal("0.0100")
    assert features.active_day_share == Decimal("1.0000")
    assert features.distinct_customers == 890  # 17 April - 14 July: 89 days of 10 customers
    assert features.days_since_last_sale == 1
    assert features.amount_to_monthly_sales == Decimal("0.5000")


@pytest.mark.django_db
def test_monthly_totals_with_a_gap_give_trend_volatility_and_seasonality(merchant):
    add_monthly_sales(
        merchant,
        {
            month(2024, 10): "10000",
            month(2024, 11): "10000",
            month(2024, 12): "10000",
            # January 2025: no sales at all; it counts as a zero month.
            month(2025, 2): "20000",
            month(2025, 3): "20000",
            month(2025, 4): "30000",
            month(2025, 5): "30000",
            month(2025, 6): "30000",
        },
        refunds="100",
    )

    features = merchant_features(merchant=merchant, as_of=AS_OF)

    assert features.months_active == 9
    assert features.trading_months == 9  # October - June; July - September 2024 are before the first sale
    assert features.sales_12m == Decimal("160000.00")
    assert features.monthly_sales_avg == Decimal("17777.78")
    assert features.sales_trend == Decimal("1.2500")  # 90,000 against 40,000
    assert features.sales_cv == Decimal("0.5796")
    assert features.seasonality == Decimal("1.6875")  # 30,000 against 17,777.78
    assert features.refund_ratio == Decimal("0.0050")  # 800 of 160,000
    assert features.active_day_share == Decimal("0.0293")  # 8 days with sales of 273 from 1 October
    assert features.days_since_last_sale == 44


@pytest.mark.django_db
def test_falling_sales_give_a_negative_trend(merchant):
    add_monthly_sales(
        merchant, {month(2025, m): total for m, total in zip(range(1, 7), ["40000"] * 3 + ["30000"] * 3, strict=True)}
    )

    assert merchant_features(merchant=merchant, as_of=AS_OF).sales_trend == Decimal("-0.2500")


@pytest.mark.django_db
def test_days_on_file_without_sales_are_not_sales(merchant):
    add_sales(merchant, first=datetime.date(2025, 1, 1), days=10, gross="0.00")
    add_sales(merchant, first=datetime.date(2025, 3, 1), days=1, gross="800.00")
    add_sales(merchant, first=datetime.date(2025, 6, 1), days=30, gross="0.00")

    features = merchant_features(merchant=merchant, as_of=AS_OF)

    assert features.first_sale_on == features.last_sale_on == datetime.date(2025, 3, 1)
    assert features.months_active == 4
    assert features.days_since_last_sale == 136
    assert features.trading_months == 4  # March - June
    assert features.active_day_share == Decimal("0.0082")  # 1 of the 122 days from 1 March to 30 June


@pytest.mark.django_db
def test_nothing_after_the_decision_date_is_read(merchant):
    add_sales(merchant, first=datetime.date(2024, 1, 1), days=561)
    before = merchant_features(merchant=merchant, as_of=AS_OF)

    add_sales(merchant, first=AS_OF + datetime.timedelta(days=1), days=60, gross="99999.00", customers=999)

    assert merchant_features(merchant=merchant, as_of=AS_OF) == before


@pytest.mark.django_db
def test_months_active_counts_whole_months_only(merchant):
    add_sales(merchant, first=datetime.date(2025, 1, 31), days=1)

    assert merchant_features(merchant=merchant, as_of=datetime.date(2025, 2, 28)).months_active == 0
    assert merchant_features(merchant=merchant, as_of=datetime.date(2025, 3, 30)).months_active == 1
    assert merchant_features(merchant=merchant, as_of=datetime.date(2025, 3, 31)).months_active == 2


@pytest.mark.django_db
def test_many_merchants_with_long_histories_take_the_same_three_queries(django_assert_num_queries):
    short = MerchantFactory()
    add_sales(short, first=datetime.date(2025, 6, 1), days=30)
    with django_assert_num_queries(3):
        compute_features(merchant_ids=[short.pk], as_of=AS_OF)

    merchants = [MerchantFactory() for _ in range(4)]
    for seller in merchants:
        add_sales(seller, first=datetime.date(2023, 7, 1), days=745)
    with django_assert_num_queries(3):
        features = compute_features(merchant_ids=[short.pk, *(m.pk for m in merchants)], as_of=AS_OF)

    assert len(features) == 5
    assert {features[m.pk].sales_12m for m in merchants} == {Decimal("365000.00")}
    assert features[short.pk].sales_12m == Decimal("30000.00")


@pytest.mark.django_db
def test_one_merchant_takes_two_queries_when_its_industry_is_known(merchant, django_assert_num_queries):
    add_sales(merchant, first=datetime.date(2023, 7, 1), days=745)

    with django_assert_num_queries(2):
        merchant_features(merchant=merchant, as_of=AS_OF)


@pytest.mark.django_db
def test_features_are_json_friendly_and_come_back_the_same(merchant):
    add_sales(merchant, first=datetime.date(2024, 1, 1), days=561, refunds="10.00")
    features = merchant_features(merchant=merchant, as_of=AS_OF, requested_amount=Decimal("20000"))

    stored = json.loads(json.dumps(features.as_dict()))

    assert stored["sales_12m"] == "365000.00"
    assert stored["months_active"] == 18
    assert stored["as_of"] == "2025-07-15"
    assert MerchantFeatures.from_dict(stored) == features


@pytest.mark.django_db
def test_another_requested_amount_only_changes_the_amount_ratio(merchant):
    add_sales(merchant, first=datetime.date(2024, 1, 1), days=561)
    features = merchant_features(merchant=merchant, as_of=AS_OF)

    larger = features.with_requested_amount(Decimal("60833.34"))

    assert features.amount_to_monthly_sales is None
    assert larger.amount_to_monthly_sales == Decimal("2.0000")
    assert larger.monthly_sales_avg == features.monthly_sales_avg


@pytest.mark.django_db
def test_one_merchant_read_alone_has_the_same_features_as_in_a_batch(merchant):
    add_sales(merchant, first=datetime.date(2023, 11, 5), days=600, gross="1234.56", refunds="7.89", customers=12)
    other = MerchantFactory()
    add_sales(other, first=datetime.date(2024, 8, 1), days=200)

    alone = merchant_features(merchant=merchant, as_of=AS_OF, requested_amount=Decimal("25000"))
    batch = compute_features(
        merchant_ids=[merchant.pk, other.pk], as_of=AS_OF, requested_amounts={merchant.pk: Decimal("25000")}
    )

    assert alone == batch[merchant.pk]
