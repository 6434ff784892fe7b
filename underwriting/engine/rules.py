"""Policy rules: the knock-outs a risk manager configures, evaluated against one application's inputs.

Each active ``PolicyRule`` is one ``RuleKind`` with its own threshold, parameters, outcome when it fails
(decline or refer) and the message the merchant reads, in English and Chinese. A message may name
``{value}`` (what was measured) and ``{threshold}`` (what the rule asks for), so it can say what would change
the outcome: "… traded for {value} months; we lend from {threshold} months."

Evaluation is pure: the inputs are gathered by the caller (``underwriting.engine.decision``), nothing is read here.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from merchants.choices import KycState
from underwriting.choices import Outcome, RuleKind
from underwriting.models import PolicyRule


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """Everything the rules look at, for one merchant and one requested amount."""

    kyc_state: str
    months_active: int
    industry: str
    requested_amount: Decimal
    credit_line: Decimal
    # The merchant's other applications still in progress, not counting the one being decided.
    open_applications: int
    has_defaulted_loan: bool
    # Fraud alerts on the merchant that are open or confirmed (before this decision raises any).
    blocking_fraud_alerts: int


@dataclass(frozen=True, slots=True)
class RuleResult:
    code: str
    kind: str
    passed: bool
    outcome: str  # what a failure means: decline or refer
    # What the merchant is told, filled in, when the rule failed; empty when it passed, so that no table of results
    # (the decision's snapshot is shown to officers) can put a failure's wording beside "passed".
    message_en: str
    message_zh: str
    value: object
    threshold: object

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "kind": self.kind,
            "passed": self.passed,
            "outcome": self.outcome,
            "message_en": self.message_en,
            "message_zh": self.message_zh,
            "value": _jsonable(self.value),
            "threshold": _jsonable(self.threshold),
        }


def rules_evaluate(*, rules: Iterable[PolicyRule], inputs: RuleInputs) -> list[RuleResult]:
    """The result of every rule given (the caller passes the active ones), in the rules' order."""
    results = []
    for rule in rules:
        check = _CHECKS.get(rule.kind)
        if check is None:
            # A kind this code does not know (a newer database, an older process): it must not pass silently.
            passed, value, threshold = False, rule.kind, None
        else:
            passed, value, threshold = check(rule, inputs)
        shown = {"value": _shown(value), "threshold": _shown(threshold)}
        results.append(
            RuleResult(
                code=rule.code,
                kind=rule.kind,
                passed=passed,
                outcome=rule.outcome if rule.outcome in (Outcome.DECLINE, Outcome.REFER) else Outcome.REFER,
                message_en="" if passed else _fill(rule.message_en, shown),
                message_zh="" if passed else _fill(rule.message_zh, shown),
                value=value,
                threshold=threshold,
            )
        )
    return results


# Each check returns (passed, the value measured, the threshold it was held to).


def _kyc_verified(rule: PolicyRule, inputs: RuleInputs):
    return inputs.kyc_state == KycState.VERIFIED, inputs.kyc_state, KycState.VERIFIED.value


def _min_months_active(rule: PolicyRule, inputs: RuleInputs):
    # An empty threshold cannot be saved (PolicyRule.clean); if one is there anyway it asks for nothing.
    threshold = int(rule.threshold or 0)
    return inputs.months_active >= threshold, inputs.months_active, threshold


def _no_default(rule: PolicyRule, inputs: RuleInputs):
    return not inputs.has_defaulted_loan, inputs.has_defaulted_loan, False


def _no_fraud_flag(rule: PolicyRule, inputs: RuleInputs):
    return inputs.blocking_fraud_alerts == 0, inputs.blocking_fraud_alerts, 0


def _industry_not_excluded(rule: PolicyRule, inputs: RuleInputs):
    excluded = [str(code) for code in (rule.parameters or {}).get("industries", [])]
    return inputs.industry not in excluded, inputs.industry, excluded


def _amount_within_line(rule: PolicyRule, inputs: RuleInputs):
    return inputs.requested_amount <= inputs.credit_line, inputs.requested_amount, inputs.credit_line


def _max_open_applications(rule: PolicyRule, inputs: RuleInputs):
    if rule.threshold is None:
        return True, inputs.open_applications, None
    threshold = int(rule.threshold)
    return inputs.open_applications <= threshold, inputs.open_applications, threshold


_CHECKS = {
    RuleKind.KYC_VERIFIED: _kyc_verified,
    RuleKind.MIN_MONTHS_ACTIVE: _min_months_active,
    RuleKind.NO_DEFAULT: _no_default,
    RuleKind.NO_FRAUD_FLAG: _no_fraud_flag,
    RuleKind.INDUSTRY_NOT_EXCLUDED: _industry_not_excluded,
    RuleKind.AMOUNT_WITHIN_LINE: _amount_within_line,
    RuleKind.MAX_OPEN_APPLICATIONS: _max_open_applications,
}


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value != value.to_integral_value() or abs(value) >= 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(message: str, values: dict[str, str]) -> str:
    """Put the measured value and the threshold into a message; a malformed template is shown as written."""
    try:
        return string.Formatter().vformat(message, (), _Blank(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        return message


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


__all__ = ["RuleInputs", "RuleResult", "rules_evaluate"]
