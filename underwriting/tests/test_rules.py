from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from underwriting.choices import Outcome, RuleKind
from underwriting.engine.rules import RuleInputs, rules_evaluate
from underwriting.models import PolicyRule

GOOD = RuleInputs(
    kyc_state="verified",
    months_active=14,
    industry="F5211",
    requested_amount=Decimal("50000.00"),
    credit_line=Decimal("60000.00"),
    open_applications=0,
    has_defaulted_loan=False,
    blocking_fraud_alerts=0,
)


def rule(kind: str, **fields) -> PolicyRule:
    fields.setdefault("outcome", Outcome.DECLINE)
    fields.setdefault("message_en", "value {value}, threshold {threshold}")
    fields.setdefault("message_zh", "数值 {value}，要求 {threshold}")
    return PolicyRule(code=kind.replace("_", "-"), kind=kind, **fields)


def evaluate_one(policy: PolicyRule, inputs: RuleInputs = GOOD):
    (result,) = rules_evaluate(rules=[policy], inputs=inputs)
    return result


def test_kyc_verified_fails_for_a_merchant_under_review():
    assert evaluate_one(rule(RuleKind.KYC_VERIFIED)).passed
    failed = evaluate_one(rule(RuleKind.KYC_VERIFIED), replace(GOOD, kyc_state="submitted"))
    assert not failed.passed
    assert failed.value == "submitted"
    assert failed.outcome == Outcome.DECLINE


def test_min_months_active_passes_at_the_threshold_and_fails_below_with_the_numbers_in_the_message():
    policy = rule(
        RuleKind.MIN_MONTHS_ACTIVE,
        threshold=Decimal(6),
        message_en="{value} months of sales; we lend from {threshold} months.",
        message_zh="{value} 个月销售记录；满 {threshold} 个月可申请。",
    )
    passed = evaluate_one(policy, replace(GOOD, months_active=6))
    assert passed.passed
    # A passed rule has nothing to tell anyone: its failure message is not filled in.
    assert (passed.message_en, passed.message_zh) == ("", "")
    assert passed.as_dict()["message_en"] == ""

    failed = evaluate_one(policy, replace(GOOD, months_active=4))

    assert not failed.passed
    assert failed.message_en == "4 months of sales; we lend from 6 months."
    assert failed.message_zh == "4 个月销售记录；满 6 个月可申请。"
    assert (failed.value, failed.threshold) == (4, 6)


def test_no_default_fails_when_lending_reports_a_defaulted_loan():
    assert evaluate_one(rule(RuleKind.NO_DEFAULT)).passed
    assert not evaluate_one(rule(RuleKind.NO_DEFAULT), replace(GOOD, has_defaulted_loan=True)).passed


def test_no_fraud_flag_fails_with_an_open_or_confirmed_alert():
    assert evaluate_one(rule(RuleKind.NO_FRAUD_FLAG)).passed
    failed = evaluate_one(rule(RuleKind.NO_FRAUD_FLAG), replace(GOOD, blocking_fraud_alerts=2))
    assert not failed.passed
    assert failed.value == 2


def test_industry_not_excluded_fails_only_for_a_listed_industry():
    policy = rule(RuleKind.INDUSTRY_NOT_EXCLUDED, parameters={"industries": ["F5292", "P8391"]})
    assert evaluate_one(policy).passed
    assert not evaluate_one(policy, replace(GOOD, industry="P8391")).passed
    assert evaluate_one(rule(RuleKind.INDUSTRY_NOT_EXCLUDED, parameters={"industries": []})).passed


def test_amount_within_line_refers_an_amount_above_the_line_with_both_amounts_in_the_message():
    policy = rule(
        RuleKind.AMOUNT_WITHIN_LINE,
        outcome=Outcome.REFER,
        message_en="You asked for ¥{value}; your line is ¥{threshold}.",
    )
    assert evaluate_one(policy, replace(GOOD, requested_amount=Decimal("60000.00"))).passed

    failed = evaluate_one(policy, replace(GOOD, requested_amount=Decimal("80000.00")))

    assert not failed.passed
    assert failed.outcome == Outcome.REFER
    assert failed.message_en == "You asked for ¥80,000.00; your line is ¥60,000.00."
    assert failed.as_dict()["threshold"] == "60000.00"


def test_max_open_applications_allows_up_to_the_threshold():
    policy = rule(RuleKind.MAX_OPEN_APPLICATIONS, threshold=Decimal(1))
    assert evaluate_one(policy, replace(GOOD, open_applications=1)).passed
    assert not evaluate_one(policy, replace(GOOD, open_applications=2)).passed


def test_every_rule_gives_a_result_in_the_order_given():
    policies = [
        rule(RuleKind.KYC_VERIFIED),
        rule(RuleKind.MIN_MONTHS_ACTIVE, threshold=Decimal(24)),
        rule(RuleKind.NO_DEFAULT),
    ]

    results = rules_evaluate(rules=policies, inputs=GOOD)

    assert [(r.code, r.passed) for r in results] == [
        ("kyc-verified", True),
        ("min-months-active", False),
        ("no-default", True),
    ]


def test_a_message_with_a_stray_brace_is_shown_as_written():
    policy = rule(RuleKind.NO_DEFAULT, message_en="Repay {the loan first")

    assert evaluate_one(policy, replace(GOOD, has_defaulted_loan=True)).message_en == "Repay {the loan first"


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"kind": RuleKind.MIN_MONTHS_ACTIVE}, "threshold", "needs a threshold"),
        ({"kind": RuleKind.MIN_MONTHS_ACTIVE, "threshold": Decimal("2.5")}, "threshold", "whole number"),
        ({"kind": RuleKind.MAX_OPEN_APPLICATIONS, "threshold": Decimal(-1)}, "threshold", "whole number"),
        ({"kind": RuleKind.INDUSTRY_NOT_EXCLUDED, "parameters": {"industries": ["X9999"]}}, "parameters", "X9999"),
        ({"kind": RuleKind.INDUSTRY_NOT_EXCLUDED, "parameters": {"industries": "F5292"}}, "parameters", "industries"),
        ({"kind": RuleKind.NO_DEFAULT, "outcome": Outcome.APPROVE}, "outcome", "decline or refer"),
        ({"kind": RuleKind.NO_DEFAULT, "message_en": "Sorry {name}"}, "message_en", "{name}"),
        ({"kind": RuleKind.NO_DEFAULT, "message_zh": "抱歉 {value"}, "message_zh", "brace"),
    ],
)
def test_an_incomplete_rule_cannot_be_saved_and_the_message_names_the_field(fields, field, text):
    policy = rule(fields.pop("kind"), **fields)

    with pytest.raises(ValidationError) as caught:
        policy.clean()

    assert field in caught.value.message_dict
    assert text in " ".join(caught.value.message_dict[field])
