import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from core.selectors.audit import audit_trail
from merchants.tests.factories import MerchantFactory
from underwriting.choices import FraudSignal, Outcome, ScorecardState
from underwriting.engine.decision import CreditRequest, Exposures
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import Decision, FraudAlert, PolicyRule
from underwriting.selectors import fraud_signals as fraud
from underwriting.services import decisions as services
from underwriting.services.decisions import NoActiveScorecardError, decision_make
from underwriting.services.demo import RULES
from underwriting.tests.factories import add_sales, known_scorecard

AS_OF = datetime.date(2025, 7, 15)
GRID = {grade: Decimal(price) for grade, price in zip("ABCDE", ["0.08", "0.10", "0.12", "0.15", "0.18"], strict=True)}


@pytest.fixture(autouse=True)
def _fresh_cache():
    scorecard_cache_clear()


@pytest.fixture
def active_scorecard(db):
    for rule in RULES:
        PolicyRule.objects.create(**rule)
    return known_scorecard(state=ScorecardState.ACTIVE)


@pytest.fixture
def seller(db):
    shop = MerchantFactory(kyc_state="verified")
    add_sales(shop, first=datetime.date(2024, 1, 1), days=561, gross="2000.00", customers=20)
    return shop


def request_for(amount: str = "30000", **overrides) -> CreditRequest:
    return CreditRequest(
        amount=Decimal(amount),
        term=12,
        term_unit="months",
        product_code="operating-loan",
        amount_max=Decimal("500000.00"),
        prices_by_grade=GRID,
        auto_approve_ceiling=Decimal("300000.00"),
        line_multiple=Decimal("1.5"),
        **overrides,
    )


def test_a_decision_is_stored_with_everything_it_was_made_from(seller, active_scorecard):
    decision = decision_make(
        merchant=seller,
        request=request_for(),
        exposures=Exposures(portfolio=Decimal("5000000.00")),
        application_id=4321,
        as_of=AS_OF,
    )

    decision.refresh_from_db()
    assert decision.outcome == Outcome.APPROVE
    assert decision.application_id == 4321
    assert decision.grade == "A"
    assert decision.score == Decimal("650.00")
    assert decision.probability_of_default == Decimal("0.003523")
    assert decision.requested_amount == Decimal("30000.00")
    assert decision.credit_line == Decimal("91200.00")
    assert decision.price_rate == Decimal("0.080000")
    assert decision.scorecard == active_scorecard
    assert decision.decided_by is None
    assert decision.duration_ms > 0
    snapshot = decision.snapshot
    assert snapshot["scorecard"]["version"] == active_scorecard.version
    assert snapshot["features"]["months_active"] == 18
    assert len(snapshot["rules"]) == len(RULES)
    assert snapshot["request"]["amount"] == "30000"
    assert snapshot["exposures"]["portfolio"] == "5000000.00"
    assert snapshot["fraud_signals"] == []
    assert snapshot["as_of"] == "2025-07-15"
    assert snapshot["duration_ms"] == str(decision.duration_ms)
    assert datetime.datetime.fromisoformat(snapshot["decided_at"]) == decision.decided_at


def test_one_audit_row_records_the_decision(seller, active_scorecard, loan_officer):
    decision = decision_make(
        merchant=seller, request=request_for("100000"), exposures=Exposures(), by=loan_officer, as_of=AS_OF
    )

    (event,) = audit_trail(decision)
    assert event.action == "decision.make"
    assert event.actor == loan_officer
    assert event.to_state == Outcome.REFER
    assert "¥91,200.00" in event.reason
    assert event.data["scorecard_version"] == active_scorecard.version
    assert decision.decided_by == loan_officer


def test_a_stored_decision_cannot_be_changed(seller, active_scorecard):
    decision = decision_make(merchant=seller, request=request_for(), exposures=Exposures(), as_of=AS_OF)

    decision.outcome = Outcome.DECLINE
    with pytest.raises(ValueError, match="immutable"):
        decision.save()

    decision.refresh_from_db()
    assert decision.outcome == Outcome.APPROVE


def test_without_an_active_scorecard_nothing_is_decided(seller, db):
    known_scorecard(state=ScorecardState.RETIRED)

    with pytest.raises(NoActiveScorecardError, match="a risk manager must activate one"):
        decision_make(merchant=seller, request=request_for(), exposures=Exposures())

    assert not Decision.objects.exists()


def test_a_fraud_signal_raises_one_open_alert_linked_to_the_decision(seller, active_scorecard, monkeypatch):
    hit = fraud.SignalHit(
        signal=FraudSignal.APPLICATION_VELOCITY,
        details={"applications_last_30_days": 4, "threshold": 3},
        message_en="4 loan applications in the last 30 days.",
        message_zh="过去 30 天内提交了 4 笔贷款申请。",
    )
    monkeypatch.setattr(fraud, "detect_signals", lambda **kwargs: [hit])

    first = decision_make(merchant=seller, request=request_for(), exposures=Exposures(), as_of=AS_OF)

    assert first.outcome == Outcome.REFER
    alert = FraudAlert.objects.get(merchant=seller)
    assert (alert.signal, alert.status, alert.decision) == (FraudSignal.APPLICATION_VELOCITY, "open", first)
    assert audit_trail(first).get().data["fraud_alerts_raised"] == [alert.pk]

    # The open alert now fails the no-fraud-flag rule, and the same signal does not open a second alert.
    second = decision_make(merchant=seller, request=request_for(), exposures=Exposures(), as_of=AS_OF)
    assert second.outcome == Outcome.DECLINE
    assert second.reasons[0]["code"] == "no-fraud-flag"
    assert FraudAlert.objects.filter(merchant=seller, status="open").count() == 1


def test_a_failure_while_storing_leaves_nothing_half_saved(seller, active_scorecard, monkeypatch):
    hit = fraud.SignalHit(signal=FraudSignal.WINDOW_DRESSING, details={}, message_en="x", message_zh="x")
    monkeypatch.setattr(fraud, "detect_signals", lambda **kwargs: [hit])

    def broken_audit(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_record", broken_audit)

    with pytest.raises(RuntimeError):
        decision_make(merchant=seller, request=request_for(), exposures=Exposures(), as_of=AS_OF)

    assert not Decision.objects.exists()
    assert not FraudAlert.objects.exists()
    assert not AuditEvent.objects.filter(action="decision.make").exists()


def _queries_for_one_decision(merchant) -> int:
    with CaptureQueriesContext(connection) as queries:
        decision_make(merchant=merchant, request=request_for("20000"), exposures=Exposures(), as_of=AS_OF)
    return len(queries.captured_queries)


def test_the_queries_per_decision_do_not_grow_with_the_length_of_the_history(active_scorecard):
    month_of_sales = MerchantFactory(kyc_state="verified")
    add_sales(month_of_sales, first=AS_OF - datetime.timedelta(days=30), days=30)
    two_years_of_sales = MerchantFactory(kyc_state="verified")
    add_sales(two_years_of_sales, first=AS_OF - datetime.timedelta(days=730), days=730)
    _queries_for_one_decision(MerchantFactory(kyc_state="verified"))  # warm the caches (content types, bins)

    short = _queries_for_one_decision(month_of_sales)
    long = _queries_for_one_decision(two_years_of_sales)

    assert short == long
    assert long <= 14


def test_a_decision_with_two_years_of_history_stays_within_its_query_budget(
    active_scorecard, django_assert_max_num_queries
):
    merchant = MerchantFactory(kyc_state="verified")
    add_sales(merchant, first=AS_OF - datetime.timedelta(days=730), days=730)
    _queries_for_one_decision(MerchantFactory(kyc_state="verified"))

    # Features 2, scorecard 1, rules 1, fraud alerts 1, fraud signals 2, the decision 1, the audit row 1, savepoints.
    with django_assert_max_num_queries(14):
        decision_make(merchant=merchant, request=request_for("20000"), exposures=Exposures(), as_of=AS_OF)
