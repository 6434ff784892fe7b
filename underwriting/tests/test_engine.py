"""The engine's outcomes on a known merchant: 2,000 yuan of sales a day since January 2024, decided on 15 July 2025.

Its average month is 60,833.33 yuan, so at the default multiple of 1.5 its credit line is 91,200 yuan. On the
``known_scorecard`` it scores 650 when it asks for less than a month of sales and 630 when it asks for more.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.tests.factories import MerchantFactory
from underwriting.choices import FraudSignal, Outcome
from underwriting.engine.decision import CreditRequest, Exposures, credit_line_for, evaluate
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import FraudAlert, PolicyRule
from underwriting.selectors import fraud_signals as fraud
from underwriting.services.demo import RULES
from underwriting.tests.factories import add_sales, known_scorecard

AS_OF = datetime.date(2025, 7, 15)
GRID = {
    "A": Decimal("0.080000"),
    "B": Decimal("0.100000"),
    "C": Decimal("0.120000"),
    "D": Decimal("0.150000"),
    "E": Decimal("0.180000"),
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    scorecard_cache_clear()


@pytest.fixture
def rules(db):
    return [PolicyRule.objects.create(**rule) for rule in RULES]


@pytest.fixture
def seller(db):
    shop = MerchantFactory(kyc_state="verified")
    add_sales(shop, first=datetime.date(2024, 1, 1), days=561, gross="2000.00", customers=20)
    return shop


@pytest.fixture
def no_fraud(monkeypatch):
    calls = []

    def detect(**kwargs):
        calls.append(kwargs)
        return []

    monkeypatch.setattr(fraud, "detect_signals", detect)
    return calls


def request_for(amount: str, **overrides) -> CreditRequest:
    fields = {
        "amount": Decimal(amount),
        "term": 12,
        "term_unit": "months",
        "product_code": "operating-loan",
        "amount_max": Decimal("500000.00"),
        "prices_by_grade": GRID,
        "auto_approve_ceiling": Decimal("300000.00"),
        "line_multiple": Decimal("1.5"),
        **overrides,
    }
    return CreditRequest(**fields)


def decide(merchant, request, *, scorecard=None, exposures=None):
    return evaluate(
        merchant=merchant,
        request=request,
        exposures=exposures or Exposures(),
        as_of=AS_OF,
        scorecard=scorecard or known_scorecard(),
    )


def test_a_good_merchant_asking_within_its_line_is_approved_at_its_grade_price(seller, rules, no_fraud):
    draft = decide(seller, request_for("30000"))

    assert draft.outcome == Outcome.APPROVE
    assert draft.score == Decimal("650.00")
    assert draft.grade == "A"
    assert draft.price_rate == Decimal("0.080000")
    assert draft.credit_line == Decimal("91200.00")  # 1.5 × 60,833.33 = 91,250.00, down to a whole 100
    assert draft.reasons == []
    assert [result["code"] for result in draft.snapshot["rules"]] == sorted(rule["code"] for rule in RULES)
    assert all(result["passed"] for result in draft.snapshot["rules"])
    assert draft.snapshot["features"]["monthly_sales_avg"] == "60833.33"
    assert draft.snapshot["credit_line"] == {
        "amount": "91200.00",
        "from_sales": "91250.00",
        "caps": {"product": "500000.00"},
        "binding": "sales",
    }


def test_the_engine_reads_but_never_writes(seller, rules, no_fraud):
    scorecard = known_scorecard()
    with CaptureQueriesContext(connection) as queries:
        decide(seller, request_for("30000"), scorecard=scorecard)

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert statements
    assert set(statements) == {"SELECT"}


def test_the_fraud_signals_get_the_features_and_the_request(seller, rules, no_fraud):
    decide(seller, request_for("30000", applications_last_30_days=2))

    (call,) = no_fraud
    assert call["merchant"] == seller
    assert call["requested_amount"] == Decimal("30000")
    assert call["applications_last_30_days"] == 2
    assert call["as_of"] == AS_OF
    assert call["features"].monthly_sales_avg == Decimal("60833.33")


def test_the_line_is_capped_by_the_product_and_every_exposure_limit(seller, rules, no_fraud):
    by_product = decide(seller, request_for("30000", amount_max=Decimal("50000.00")))
    by_industry = decide(
        seller, request_for("30000"), exposures=Exposures(industry=Decimal("42345.67"), portfolio=Decimal("1e9"))
    )
    exhausted = decide(seller, request_for("30000"), exposures=Exposures(merchant=Decimal("-500.00")))

    assert (by_product.credit_line, by_product.snapshot["credit_line"]["binding"]) == (Decimal("50000.00"), "product")
    assert (by_industry.credit_line, by_industry.snapshot["credit_line"]["binding"]) == (
        Decimal("42300.00"),
        "industry",
    )
    assert exhausted.credit_line == Decimal("0.00")
    assert exhausted.outcome == Outcome.REFER  # the amount-within-line rule refers it
    assert exhausted.reasons[0]["code"] == "amount-within-line"


def test_a_failed_decline_rule_declines_with_its_message_first(rules, no_fraud):
    draft_merchant = MerchantFactory(kyc_state="submitted")
    add_sales(draft_merchant, first=datetime.date(2024, 1, 1), days=561, gross="2000.00")

    draft = decide(draft_merchant, request_for("30000"))

    assert draft.outcome == Outcome.DECLINE
    assert draft.price_rate is None
    assert draft.reasons[0]["code"] == "kyc-verified"
    assert draft.reasons[0]["message_en"].startswith("Your business's identity check (KYC) is not verified.")
    assert draft.reasons[0]["message_zh"] == "贵商户的身份核验（KYC）尚未通过。核验通过后即可申请。"


def test_a_young_merchant_is_told_how_long_until_it_can_apply(rules, no_fraud):
    young = MerchantFactory(kyc_state="verified")
    add_sales(young, first=datetime.date(2025, 3, 1), days=130, gross="2000.00")

    draft = decide(young, request_for("30000"))

    assert draft.outcome == Outcome.DECLINE
    assert draft.reasons[0]["message_en"] == (
        "Your business has 4 months of sales on the platform; we lend from 6 months. "
        "Apply again once it has 6 months of sales."
    )
    # Then what cost points, so the merchant sees everything that would change the outcome.
    assert [reason["kind"] for reason in draft.reasons[1:]] == ["score"] * (len(draft.reasons) - 1)


def test_a_score_below_the_refer_level_declines_with_the_costliest_features(seller, rules, no_fraud):
    strict = known_scorecard(refer_min_score=Decimal(640), approve_min_score=Decimal(645))

    draft = decide(seller, request_for("70000"), scorecard=strict)  # 630: the amount is more than a month of sales

    assert draft.outcome == Outcome.DECLINE
    assert draft.reasons[0]["code"] == "score-below-refer-level"
    assert draft.reasons[0]["message_en"] == (
        "The score is below the lowest we lend at; the factors below cost the most points."
    )
    assert draft.reasons[1]["feature"] == "amount_to_monthly_sales"


@pytest.mark.parametrize(
    ("amount", "refer_at", "approve_at", "outcome"),
    [("70000", 640, 645, Outcome.DECLINE), ("30000", 600, 660, Outcome.REFER)],
)
def test_decline_and_referral_reasons_never_state_the_score_or_the_band_cut_offs(
    seller, rules, no_fraud, amount, refer_at, approve_at, outcome
):
    card = known_scorecard(refer_min_score=Decimal(refer_at), approve_min_score=Decimal(approve_at))

    draft = decide(seller, request_for(amount), scorecard=card)

    assert draft.outcome == outcome
    said = " ".join(reason[key] for reason in draft.reasons for key in ("message_en", "message_zh"))
    for number in (refer_at, approve_at, int(draft.score)):
        assert str(number) not in said
    # The officers still see both, beside the decision.
    assert draft.snapshot["scorecard"]["refer_min_score"] == str(Decimal(refer_at))
    assert draft.snapshot["score"]["score"] == str(draft.score)


def test_a_score_in_the_grey_band_is_referred(seller, rules, no_fraud):
    grey = known_scorecard(refer_min_score=Decimal(600), approve_min_score=Decimal(660))

    draft = decide(seller, request_for("30000"), scorecard=grey)

    assert draft.outcome == Outcome.REFER
    assert draft.price_rate == GRID["A"]
    assert draft.reasons[0]["code"] == "score-in-grey-band"


def test_an_amount_above_the_automatic_ceiling_is_referred(seller, rules, no_fraud):
    draft = decide(seller, request_for("30000", auto_approve_ceiling=Decimal("20000.00")))

    assert draft.outcome == Outcome.REFER
    assert draft.reasons[0]["message_en"] == (
        "Amounts above ¥20,000.00 are approved by an officer; ¥30,000.00 was asked for."
    )


def test_an_amount_above_the_line_is_referred_by_the_amount_within_line_rule(seller, rules, no_fraud):
    draft = decide(seller, request_for("100000"))

    assert draft.outcome == Outcome.REFER
    assert draft.reasons[0]["code"] == "amount-within-line"
    assert "¥100,000.00" in draft.reasons[0]["message_en"]
    assert "¥91,200.00" in draft.reasons[0]["message_en"]


def test_an_amount_above_the_line_is_declined_when_the_risk_manager_says_so(seller, rules, no_fraud):
    PolicyRule.objects.filter(code="amount-within-line").update(outcome=Outcome.DECLINE)

    assert decide(seller, request_for("100000")).outcome == Outcome.DECLINE


def test_a_fraud_signal_refers_an_otherwise_approved_application(seller, rules, monkeypatch):
    hit = fraud.SignalHit(
        signal=FraudSignal.WINDOW_DRESSING,
        details={"ratio": "4.10"},
        message_en="Sales in 2025-06 were 4.10 times the median month.",
        message_zh="2025年6月销售额是中位数的 4.10 倍。",
    )
    monkeypatch.setattr(fraud, "detect_signals", lambda **kwargs: [hit])

    draft = decide(seller, request_for("30000"))

    assert draft.outcome == Outcome.REFER
    assert draft.fraud_hits == [hit]
    assert draft.reasons[0]["code"] == "fraud.window_dressing"
    assert draft.snapshot["fraud_signals"][0]["details"] == {"ratio": "4.10"}


def test_an_open_fraud_alert_declines_through_the_no_fraud_flag_rule(seller, rules, no_fraud):
    FraudAlert.objects.create(merchant=seller, signal=FraudSignal.SHARED_BANK_ACCOUNT)

    draft = decide(seller, request_for("30000"))

    assert draft.outcome == Outcome.DECLINE
    assert draft.reasons[0]["code"] == "no-fraud-flag"


def test_a_cleared_alert_does_not_count(seller, rules, no_fraud):
    FraudAlert.objects.create(merchant=seller, signal=FraudSignal.SHARED_BANK_ACCOUNT, status="cleared")

    assert decide(seller, request_for("30000")).outcome == Outcome.APPROVE


def test_inactive_rules_are_not_applied(seller, rules, no_fraud):
    PolicyRule.objects.filter(code="amount-within-line").update(is_active=False)

    draft = decide(seller, request_for("100000"))

    assert draft.outcome == Outcome.APPROVE
    assert "amount-within-line" not in [result["code"] for result in draft.snapshot["rules"]]


def test_the_line_is_rounded_down_to_a_whole_hundred_yuan():
    line = credit_line_for(monthly_sales_avg=Decimal("12345.67"), line_multiple=Decimal("1.5"), caps={})

    assert line.from_sales == Decimal("18518.51")
    assert line.amount == Decimal("18500.00")


def test_a_request_with_a_float_or_a_zero_amount_is_refused():
    with pytest.raises(TypeError, match="amount must be a Decimal"):
        CreditRequest(
            amount=1000.0, term=6, term_unit="months", product_code="p", amount_max=Decimal(1), prices_by_grade={}
        )
    with pytest.raises(ValueError, match="amount must be above zero"):
        request_for("0")
    with pytest.raises(ValueError, match="unknown grades"):
        request_for("1000", prices_by_grade={"Z": Decimal("0.1")})


def test_the_line_multiple_and_the_ceiling_default_to_the_settings(settings):
    settings.UNDERWRITING_LINE_MULTIPLE = "2"
    settings.UNDERWRITING_AUTO_APPROVE_CEILING = 150000

    request = CreditRequest(
        amount=Decimal("1000"),
        term=6,
        term_unit="months",
        product_code="p",
        amount_max=Decimal("50000"),
        prices_by_grade=GRID,
    )

    assert request.line_multiple == Decimal("2")
    assert request.auto_approve_ceiling == Decimal("150000")
