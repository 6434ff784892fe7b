"""Scoring on the hand-checkable ``known_scorecard`` (see factories): 500 points to start, 650 at best."""

import datetime
from decimal import Decimal

import pytest

from underwriting.choices import Feature, ScorecardState
from underwriting.engine.scoring import score_features, scorecard_cache_clear, scorecard_load
from underwriting.models import Scorecard, ScorecardBin
from underwriting.selectors.features import MerchantFeatures
from underwriting.tests.factories import ScorecardBinFactory, ScorecardFactory, known_scorecard


@pytest.fixture(autouse=True)
def _fresh_cache():
    scorecard_cache_clear()
    yield
    scorecard_cache_clear()


def features(**overrides) -> MerchantFeatures:
    values = {
        "months_active": 14,
        "sales_12m": Decimal("720000.00"),
        "monthly_sales_avg": Decimal("60000.00"),
        "sales_trend": Decimal("0.0200"),
        "sales_cv": Decimal("0.1000"),
        "refund_ratio": Decimal("0.0100"),
        "active_day_share": Decimal("0.9800"),
        "distinct_customers": 3000,
        "days_since_last_sale": 1,
        "seasonality": Decimal("1.2000"),
        "amount_to_monthly_sales": Decimal("0.5000"),
        "industry": "F5211",
        "as_of": datetime.date(2025, 7, 15),
        "first_sale_on": datetime.date(2024, 5, 1),
        "last_sale_on": datetime.date(2025, 7, 14),
        "trading_months": 12,
    }
    values.update(overrides)
    return MerchantFeatures(**values)


@pytest.mark.django_db
def test_a_merchant_in_every_best_bin_scores_the_maximum_with_grade_a_and_no_reasons():
    result = score_features(features=features(), scorecard=known_scorecard())

    assert result.score == Decimal("650.00")
    assert result.pd == Decimal("0.003523")  # odds 50 × 2^(50/20) = 282.8:1
    assert result.grade == "A"
    assert result.reasons == []
    assert result.points_by_feature == {
        Feature.MONTHS_ACTIVE: Decimal(60),
        Feature.MONTHLY_SALES_AVG: Decimal(40),
        Feature.REFUND_RATIO: Decimal(20),
        Feature.AMOUNT_TO_MONTHLY_SALES: Decimal(20),
        Feature.INDUSTRY: Decimal(10),
    }


@pytest.mark.django_db
def test_a_weak_file_scores_the_sum_of_its_bins_and_gets_the_four_costliest_reasons_worst_first():
    weak = features(
        months_active=8,
        monthly_sales_avg=Decimal("40000.00"),
        refund_ratio=Decimal("0.0500"),
        amount_to_monthly_sales=Decimal("1.2000"),
        industry="H6210",
    )

    result = score_features(features=weak, scorecard=known_scorecard())

    assert result.score == Decimal("530.00")  # 500 + 30 months, nothing else
    assert result.pd == Decimal("0.184522")
    assert result.grade == "E"
    assert [(r["feature"], r["points_lost"]) for r in result.reasons] == [
        (Feature.MONTHLY_SALES_AVG, "40.000"),
        (Feature.MONTHS_ACTIVE, "30.000"),
        (Feature.REFUND_RATIO, "20.000"),  # ties keep the features' order: refunds before the amount
        (Feature.AMOUNT_TO_MONTHLY_SALES, "20.000"),
    ]
    messages = [r["message_en"] for r in result.reasons]
    assert messages[0] == "Monthly sales below ¥50,000."
    assert messages[2] == "Refunds are 3 % of sales or more."
    assert result.reasons[0]["message_zh"] == "月销售额低于 5 万元。"


@pytest.mark.django_db
def test_a_bin_without_reason_text_gets_a_specific_message_for_its_feature():
    weak = features(months_active=8, amount_to_monthly_sales=Decimal("1.2000"))

    result = score_features(features=weak, scorecard=known_scorecard())

    by_feature = {r["feature"]: r["message_en"] for r in result.reasons}
    assert by_feature[Feature.MONTHS_ACTIVE] == (
        "The business has traded on the platform for 8 months; a longer history would score higher."
    )
    assert by_feature[Feature.AMOUNT_TO_MONTHLY_SALES] == (
        "The amount asked for is 1.20 times monthly sales; a smaller amount would score higher."
    )
    assert all("score too low" not in message.lower() for message in by_feature.values())


@pytest.mark.django_db
def test_a_value_that_cannot_be_measured_gets_the_worst_bin():
    thin = features(refund_ratio=None, amount_to_monthly_sales=None)

    result = score_features(features=thin, scorecard=known_scorecard())

    assert result.points_by_feature[Feature.REFUND_RATIO] == Decimal(0)
    assert result.points_by_feature[Feature.AMOUNT_TO_MONTHLY_SALES] == Decimal(0)
    assert result.score == Decimal("610.00")
    ratio_reason = next(r for r in result.reasons if r["feature"] == Feature.AMOUNT_TO_MONTHLY_SALES)
    assert ratio_reason["message_en"] == "No monthly sales in the last 12 full months to measure the amount against."


@pytest.mark.django_db
def test_an_industry_without_its_own_bin_falls_in_the_catch_all_category():
    scorecard = known_scorecard()

    assert score_features(features=features(industry="F5211"), scorecard=scorecard).score == Decimal("650.00")
    assert score_features(features=features(industry="P8391"), scorecard=scorecard).score == Decimal("640.00")
    assert score_features(features=features(industry=""), scorecard=scorecard).score == Decimal("640.00")


@pytest.mark.django_db
def test_numeric_bins_include_the_lower_edge_and_exclude_the_upper():
    scorecard = known_scorecard()

    at_edge = score_features(features=features(months_active=12), scorecard=scorecard)
    below = score_features(features=features(months_active=11), scorecard=scorecard)

    assert at_edge.points_by_feature[Feature.MONTHS_ACTIVE] == Decimal(60)
    assert below.points_by_feature[Feature.MONTHS_ACTIVE] == Decimal(30)


@pytest.mark.django_db
def test_grades_follow_the_pd_ceilings():
    scorecard = ScorecardFactory(intercept_points=Decimal(0))
    ScorecardBinFactory(scorecard=scorecard, feature=Feature.MONTHS_ACTIVE, points=Decimal(0))
    grades = {}
    for score in (620, 619, 600, 575, 560, 540):
        scorecard.intercept_points = Decimal(score)
        scorecard_cache_clear()
        grades[score] = score_features(features=features(), scorecard=scorecard).grade

    # PD at 620 is 0.99 %, at 619 1.02 %; B to 2.5 % (593), C to 5 % (572), D to 10 % (550.5).
    assert grades == {620: "A", 619: "B", 600: "B", 575: "C", 560: "D", 540: "E"}


@pytest.mark.django_db
def test_a_trained_scorecard_with_a_few_features_counts_only_those():
    trained = ScorecardFactory(source="trained", intercept_points=Decimal("512.5"))
    ScorecardBinFactory(scorecard=trained, feature=Feature.SALES_CV, upper=Decimal("0.2"), points=Decimal("31.2"))
    ScorecardBinFactory(scorecard=trained, feature=Feature.SALES_CV, lower=Decimal("0.2"), points=Decimal("-4.1"))

    assert score_features(features=features(sales_cv=Decimal("0.1")), scorecard=trained).score == Decimal("543.70")
    assert score_features(features=features(sales_cv=Decimal("0.35")), scorecard=trained).score == Decimal("508.40")


@pytest.mark.django_db
def test_an_active_scorecard_is_read_once_per_process(django_assert_num_queries):
    scorecard = known_scorecard(state=ScorecardState.ACTIVE)

    with django_assert_num_queries(1):
        scorecard_load(scorecard)
        score_features(features=features(), scorecard=scorecard)
        score_features(features=features(months_active=2), scorecard=scorecard)


@pytest.mark.django_db
def test_a_draft_is_read_afresh_so_edits_to_its_bins_count():
    draft = known_scorecard()
    assert score_features(features=features(), scorecard=draft).score == Decimal("650.00")

    ScorecardBin.objects.filter(scorecard=draft, feature=Feature.INDUSTRY, category="F5211").update(points=50)

    assert score_features(features=features(), scorecard=draft).score == Decimal("690.00")


@pytest.mark.django_db
def test_the_default_scorecard_is_seeded_once_active_with_a_reason_for_every_bin_that_costs_points():
    from underwriting.services.demo import underwriting_seed

    assert underwriting_seed() == {"scorecards": 1, "rules": 7}
    assert underwriting_seed() == {"scorecards": 0, "rules": 0}

    scorecard = Scorecard.objects.get(version=1)
    assert scorecard.state == ScorecardState.ACTIVE
    card = scorecard_load(scorecard)
    # Every feature but the year's total, which would count the merchant's size twice with the monthly average.
    assert set(card.bins) == set(Feature.values) - {Feature.SALES_12M}
    for feature, feature_bins in card.bins.items():
        best = max(bin_.points for bin_ in feature_bins)
        for bin_ in feature_bins:
            if bin_.points < best:
                assert bin_.reason_en, (feature, bin_.label)
                assert bin_.reason_zh, (feature, bin_.label)


@pytest.mark.django_db
def test_the_default_scorecard_approves_a_steady_shop_and_declines_a_thin_file():
    from underwriting.services.demo import underwriting_seed

    underwriting_seed()
    card = scorecard_load(Scorecard.objects.get(version=1))
    steady = features(monthly_sales_avg=Decimal("120000.00"), months_active=30, distinct_customers=5000)
    thin = features(
        months_active=3,
        monthly_sales_avg=Decimal("8000.00"),
        sales_trend=None,
        sales_cv=None,
        seasonality=None,
        distinct_customers=40,
        amount_to_monthly_sales=Decimal("4"),
        industry="P8391",
    )

    assert score_features(features=steady, scorecard=card).score >= card.approve_min_score
    weak = score_features(features=thin, scorecard=card)
    assert weak.score < card.refer_min_score
    assert weak.grade == "E"
    assert weak.reasons[0]["message_en"] == (
        "Fewer than 6 months of sales on the platform: too short a record to judge the business by."
    )
