"""Pre-approved limits: every verified merchant's, recomputed in batches with the active scorecard."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.models import Merchant
from merchants.services.demo import seed_merchants
from merchants.tests.factories import MerchantFactory
from underwriting.choices import FraudSignal, Outcome, ScorecardState
from underwriting.engine.decision import CreditRequest, Exposures, evaluate
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import FraudAlert, PolicyRule, PreApprovedLimit
from underwriting.selectors.decisions import preapproved_limit_for, scorecard_active
from underwriting.services.decisions import preapproved_limits_refresh
from underwriting.services.demo import RULES, underwriting_seed
from underwriting.tests.factories import add_sales, known_scorecard

AS_OF = datetime.date(2025, 7, 15)


@pytest.fixture(autouse=True)
def _fresh_cache():
    scorecard_cache_clear()


@pytest.fixture
def rules(db):
    return [PolicyRule.objects.create(**rule) for rule in RULES]


def verified_with_sales(gross: str, *, first: datetime.date = datetime.date(2024, 1, 1), days: int = 561):
    merchant = MerchantFactory(kyc_state="verified")
    add_sales(merchant, first=first, days=days, gross=gross)
    return merchant


def no_defaults(merchant_ids) -> set[int]:
    return set()


def limit_of(merchant: Merchant) -> tuple[Decimal, str]:
    limit = PreApprovedLimit.objects.get(merchant=merchant)
    return limit.amount, limit.grade


def test_known_histories_get_the_limits_worked_out_by_hand(rules):
    scorecard = known_scorecard(
        state=ScorecardState.ACTIVE, approve_min_score=Decimal(600), refer_min_score=Decimal(550)
    )
    strong = verified_with_sales("2000.00")  # 60,833.33 a month: line 91,200, scoring 630 at 1.5 months of sales
    modest = verified_with_sales("1000.00")  # 30,416.67 a month: line 45,600 scores 590, under 600
    young = verified_with_sales("2000.00", first=datetime.date(2025, 3, 1), days=130)  # 4 months: too young
    silent = MerchantFactory(kyc_state="verified")  # no sales at all

    refreshed = preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)

    assert refreshed == 4
    assert limit_of(strong) == (Decimal("91200.00"), "A")
    # The largest amount under one month of sales (30,400) scores 610: that is what is pre-approved.
    assert limit_of(modest) == (Decimal("30400.00"), "B")
    assert limit_of(young)[0] == Decimal("0.00")
    assert limit_of(silent) == (Decimal("0.00"), "")
    assert PreApprovedLimit.objects.get(merchant=strong).scorecard == scorecard


def test_the_limit_is_capped_by_the_setting(rules, settings):
    known_scorecard(state=ScorecardState.ACTIVE)
    settings.UNDERWRITING_PREAPPROVAL_CAP = "50000"
    strong = verified_with_sales("2000.00")

    preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)

    assert limit_of(strong)[0] == Decimal("50000.00")


def test_a_merchant_with_an_open_fraud_alert_or_in_default_is_not_pre_approved(rules):
    known_scorecard(state=ScorecardState.ACTIVE)
    flagged = verified_with_sales("2000.00")
    FraudAlert.objects.create(merchant=flagged, signal=FraudSignal.WINDOW_DRESSING)
    defaulted = verified_with_sales("2000.00")
    asked: list[list[int]] = []

    def in_default(merchant_ids):
        asked.append(list(merchant_ids))
        return {defaulted.pk} & set(merchant_ids)

    preapproved_limits_refresh(merchants_in_default=in_default, as_of=AS_OF)

    assert limit_of(flagged)[0] == Decimal("0.00")
    assert limit_of(defaulted)[0] == Decimal("0.00")
    assert sorted(asked[0]) == sorted([flagged.pk, defaulted.pk])  # lending is asked once per batch


def test_a_merchant_no_longer_verified_loses_its_limit_and_others_are_overwritten(rules):
    known_scorecard(state=ScorecardState.ACTIVE)
    strong = verified_with_sales("2000.00")
    suspended = MerchantFactory(kyc_state="suspended")
    PreApprovedLimit.objects.create(merchant=suspended, amount=Decimal("80000"), computed_at="2025-07-01T02:00+08:00")
    PreApprovedLimit.objects.create(merchant=strong, amount=Decimal("1"), computed_at="2025-07-01T02:00+08:00")

    preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)

    assert not PreApprovedLimit.objects.filter(merchant=suspended).exists()
    assert limit_of(strong)[0] == Decimal("91200.00")
    assert PreApprovedLimit.objects.count() == 1


def test_batches_give_the_same_limits_as_one_pass(rules):
    known_scorecard(state=ScorecardState.ACTIVE)
    merchants = [verified_with_sales(gross) for gross in ("500.00", "1000.00", "1500.00", "2000.00", "2500.00")]

    assert preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF, batch_size=1000) == 5
    one_pass = {m.pk: limit_of(m) for m in merchants}
    assert preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF, batch_size=2) == 5
    assert {m.pk: limit_of(m) for m in merchants} == one_pass


def test_the_queries_do_not_grow_with_the_number_of_merchants_in_a_batch(rules):
    known_scorecard(state=ScorecardState.ACTIVE)
    verified_with_sales("1000.00")
    preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)  # warm the scorecard cache

    with CaptureQueriesContext(connection) as one:
        preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)
    for _ in range(6):
        verified_with_sales("1000.00")
    with CaptureQueriesContext(connection) as seven:
        preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)

    assert len(seven.captured_queries) == len(one.captured_queries)


def test_without_an_active_scorecard_nothing_is_refreshed(rules):
    verified_with_sales("1000.00")

    assert preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF) == 0
    assert not PreApprovedLimit.objects.exists()


def test_on_demo_merchants_an_application_for_the_pre_approved_amount_is_approved(db):
    seed_merchants(count=6, seed=11, end_date=AS_OF - datetime.timedelta(days=1))
    underwriting_seed()

    assert preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF) == 6

    scorecard = scorecard_active()
    limits = {limit.merchant: limit for limit in PreApprovedLimit.objects.select_related("merchant")}
    assert len(limits) == 6
    assert sum(1 for limit in limits.values() if limit.amount > 0) >= 4
    for merchant, limit in limits.items():
        assert limit.amount % 100 == 0
        assert limit.amount <= Decimal("200000")
        if not limit.amount:
            continue
        request = CreditRequest(
            amount=limit.amount,
            term=12,
            term_unit="months",
            product_code="demo",
            amount_max=Decimal("500000"),
            prices_by_grade={},
        )
        draft = evaluate(merchant=merchant, request=request, exposures=Exposures(), as_of=AS_OF, scorecard=scorecard)
        assert draft.outcome == Outcome.APPROVE, (merchant, limit.amount, draft.reasons)
        assert draft.grade == limit.grade
        assert preapproved_limit_for(merchant=merchant) == limit


def test_a_chunk_of_merchants_refreshes_and_removes_limits_in_its_range_only(rules):
    known_scorecard(state=ScorecardState.ACTIVE)
    first, second, third = (verified_with_sales("2000.00") for _ in range(3))
    preapproved_limits_refresh(merchants_in_default=no_defaults, as_of=AS_OF)
    before = {limit.merchant_id: limit.computed_at for limit in PreApprovedLimit.objects.all()}
    Merchant.objects.filter(pk=first.pk).update(kyc_state="suspended")
    Merchant.objects.filter(pk=third.pk).update(kyc_state="suspended")

    refreshed = preapproved_limits_refresh(
        merchants_in_default=no_defaults, as_of=AS_OF, first_id=first.pk, last_id=second.pk
    )

    assert refreshed == 1
    after = {limit.merchant_id: limit.computed_at for limit in PreApprovedLimit.objects.all()}
    # The suspended merchant in the range loses its limit; the one outside keeps it, untouched, until its chunk runs.
    assert set(after) == {second.pk, third.pk}
    assert after[second.pk] > before[second.pk]
    assert after[third.pk] == before[third.pk]
