"""The decision engine: data in, a decision out, nothing written.

``evaluate`` gathers the merchant's features, runs the active policy rules, scores the features with the given
scorecard, looks for fraud signals, sizes the credit line and decides:

1. a failed rule whose outcome is *decline* → decline (reasons: the failed rules' messages, which say what would
   change the outcome);
2. a score below the scorecard's ``refer_min_score`` → decline (reasons: the features that cost the most points);
3. otherwise refer when any of these holds, each adding its reason: the score is in the grey band
   (``refer_min_score`` ≤ score < ``approve_min_score``), the amount is above the automatic-approval ceiling, a
   failed rule's outcome is *refer* (``amount-within-line`` is one: it decides what an amount above the credit line
   means), a fraud signal fired;
4. otherwise approve.

The reasons a merchant reads never state the score band's cut-offs (``refer_min_score``, ``approve_min_score``) or
the score itself: knowing the exact line would let an applicant tune the amount asked until it is just crossed. They
say which side of the line the score fell and which features cost the most points; the officers see the score and
the scorecard's cut-offs in the back office.

The credit line is ``line_multiple`` × average monthly sales, capped by the product's maximum and by every exposure
headroom lending passes in, rounded down to a whole 100 yuan. The price is the product grid's price for the grade.

``services.decision_make`` stores what this returns; ``preapproval`` is the same arithmetic for the nightly
pre-approved limits, where there is no application yet.

Settings (read when used, with these defaults): ``UNDERWRITING_LINE_MULTIPLE`` (1.5),
``UNDERWRITING_AUTO_APPROVE_CEILING`` (300000), ``UNDERWRITING_PREAPPROVAL_CAP`` (200000).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from core.money import FEN, to_fen
from merchants.models import Merchant
from underwriting.choices import GRADES, Feature, Outcome, RuleKind
from underwriting.engine.rules import RuleInputs, RuleResult, rules_evaluate
from underwriting.engine.scoring import LoadedScorecard, ScoreResult, score_features, scorecard_load
from underwriting.models import PolicyRule, Scorecard
from underwriting.selectors import fraud_signals as fraud
from underwriting.selectors.decisions import fraud_alerts_blocking_count, policy_rules_active
from underwriting.selectors.features import MerchantFeatures, merchant_features

LINE_ROUNDING = Decimal(100)
DEFAULT_LINE_MULTIPLE = "1.5"
DEFAULT_AUTO_APPROVE_CEILING = "300000"
DEFAULT_PREAPPROVAL_CAP = "200000"
SNAPSHOT_VERSION = 1


def _decimal_setting(name: str, default: str) -> Decimal:
    # Through str() so that a float in settings (1.5) becomes Decimal("1.5"), not its binary expansion.
    return Decimal(str(getattr(settings, name, default)))


def default_line_multiple() -> Decimal:
    return _decimal_setting("UNDERWRITING_LINE_MULTIPLE", DEFAULT_LINE_MULTIPLE)


def default_auto_approve_ceiling() -> Decimal:
    return _decimal_setting("UNDERWRITING_AUTO_APPROVE_CEILING", DEFAULT_AUTO_APPROVE_CEILING)


def default_preapproval_cap() -> Decimal:
    return _decimal_setting("UNDERWRITING_PREAPPROVAL_CAP", DEFAULT_PREAPPROVAL_CAP)


@dataclass(frozen=True, slots=True)
class CreditRequest:
    """What lending asks the engine: the terms applied for, the product's bounds and grid, the applicant's record."""

    amount: Decimal
    term: int | None
    term_unit: str
    product_code: str
    amount_max: Decimal  # the product's maximum amount
    prices_by_grade: dict[str, Decimal]  # the product's price grid, one price per grade A–E
    auto_approve_ceiling: Decimal = field(default_factory=default_auto_approve_ceiling)
    # The merchant's other applications still in progress, not counting this one.
    open_applications: int = 0
    # Applications the merchant made in the last 30 days, this one included (a fraud signal counts them).
    applications_last_30_days: int = 0
    has_defaulted_loan: bool = False
    line_multiple: Decimal = field(default_factory=default_line_multiple)

    def __post_init__(self) -> None:
        for name in ("amount", "amount_max", "auto_approve_ceiling", "line_multiple"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise TypeError(f"CreditRequest.{name} must be a Decimal, not {type(value).__name__}.")
        if self.amount <= 0:
            raise ValueError(f"CreditRequest.amount must be above zero; it is {self.amount}.")
        if self.line_multiple < 0:
            raise ValueError(f"CreditRequest.line_multiple cannot be negative; it is {self.line_multiple}.")
        unknown = sorted(set(self.prices_by_grade) - set(GRADES))
        if unknown:
            raise ValueError(f"CreditRequest.prices_by_grade has unknown grades {unknown}; grades are {GRADES}.")

    def as_dict(self) -> dict:
        return {
            "amount": str(self.amount),
            "term": self.term,
            "term_unit": self.term_unit,
            "product_code": self.product_code,
            "amount_max": str(self.amount_max),
            "prices_by_grade": {grade: str(price) for grade, price in self.prices_by_grade.items()},
            "auto_approve_ceiling": str(self.auto_approve_ceiling),
            "open_applications": self.open_applications,
            "applications_last_30_days": self.applications_last_30_days,
            "has_defaulted_loan": self.has_defaulted_loan,
            "line_multiple": str(self.line_multiple),
        }


@dataclass(frozen=True, slots=True)
class Exposures:
    """How much more may be lent before each exposure limit is reached; None means no limit applies."""

    merchant: Decimal | None = None
    industry: Decimal | None = None
    region: Decimal | None = None
    partner: Decimal | None = None
    portfolio: Decimal | None = None

    def caps(self) -> dict[str, Decimal]:
        return {
            name: value
            for name in ("merchant", "industry", "region", "partner", "portfolio")
            if (value := getattr(self, name)) is not None
        }

    def as_dict(self) -> dict[str, str | None]:
        return {
            name: None if getattr(self, name) is None else str(getattr(self, name))
            for name in ("merchant", "industry", "region", "partner", "portfolio")
        }


@dataclass(frozen=True, slots=True)
class CreditLine:
    amount: Decimal
    from_sales: Decimal
    caps: dict[str, Decimal]
    binding: str  # "sales" or the name of the cap that set the line

    def as_dict(self) -> dict:
        return {
            "amount": str(self.amount),
            "from_sales": str(self.from_sales),
            "caps": {name: str(value) for name, value in self.caps.items()},
            "binding": self.binding,
        }


@dataclass(frozen=True, slots=True)
class DecisionDraft:
    """A decision before it is stored: everything ``Decision`` needs, and the snapshot of its inputs."""

    outcome: str
    grade: str
    pd: Decimal
    score: Decimal
    credit_line: Decimal
    price_rate: Decimal | None
    requested_amount: Decimal
    reasons: list[dict]
    rule_results: list[RuleResult]
    fraud_hits: list[fraud.SignalHit]
    score_result: ScoreResult
    features: MerchantFeatures
    scorecard_id: int
    snapshot: dict


def credit_line_for(*, monthly_sales_avg: Decimal, line_multiple: Decimal, caps: dict[str, Decimal]) -> CreditLine:
    """Line = multiple × monthly sales, capped by every cap (a negative headroom is zero), down to 100 yuan."""
    from_sales = to_fen(monthly_sales_avg * line_multiple)
    amount, binding = from_sales, "sales"
    for name, cap in caps.items():
        cap = max(cap, Decimal(0))
        if cap < amount:
            amount, binding = cap, name
    return CreditLine(amount=_round_down(amount), from_sales=from_sales, caps=dict(caps), binding=binding)


def _round_down(amount: Decimal) -> Decimal:
    """Down to a whole 100 yuan: a line is never more than the sales and the caps allow."""
    return to_fen((amount / LINE_ROUNDING).to_integral_value(rounding=ROUND_FLOOR) * LINE_ROUNDING)


def evaluate(
    *,
    merchant: Merchant,
    request: CreditRequest,
    exposures: Exposures,
    as_of: datetime.date,
    scorecard: Scorecard | LoadedScorecard,
    features: MerchantFeatures | None = None,
    rules: Sequence[PolicyRule] | None = None,
) -> DecisionDraft:
    """Decide one application; reads the sales, rules, alerts and identities it needs, writes nothing.

    ``features`` and ``rules`` may be passed in when the caller already has them (they are otherwise read here).
    """
    card = scorecard if isinstance(scorecard, LoadedScorecard) else scorecard_load(scorecard)
    if features is None:
        features = merchant_features(merchant=merchant, as_of=as_of, requested_amount=request.amount)
    else:
        features = features.with_requested_amount(request.amount)
    rules = policy_rules_active() if rules is None else list(rules)

    line = credit_line_for(
        monthly_sales_avg=features.monthly_sales_avg,
        line_multiple=request.line_multiple,
        caps={"product": request.amount_max, **exposures.caps()},
    )
    needs_alerts = any(rule.kind == RuleKind.NO_FRAUD_FLAG for rule in rules)
    rule_results = rules_evaluate(
        rules=rules,
        inputs=RuleInputs(
            kyc_state=merchant.kyc_state,
            months_active=features.months_active,
            industry=merchant.industry,
            requested_amount=request.amount,
            credit_line=line.amount,
            open_applications=request.open_applications,
            has_defaulted_loan=request.has_defaulted_loan,
            blocking_fraud_alerts=fraud_alerts_blocking_count(merchant=merchant) if needs_alerts else 0,
        ),
    )
    scored = score_features(features=features, scorecard=card)
    hits = fraud.detect_signals(
        merchant=merchant,
        features=features,
        requested_amount=request.amount,
        applications_last_30_days=request.applications_last_30_days,
        as_of=as_of,
    )
    outcome, reasons = _outcome(request=request, card=card, rule_results=rule_results, scored=scored, hits=hits)
    price = request.prices_by_grade.get(scored.grade) if outcome != Outcome.DECLINE else None
    snapshot = {
        "version": SNAPSHOT_VERSION,
        "as_of": as_of.isoformat(),
        "features": features.as_dict(),
        "rules": [result.as_dict() for result in rule_results],
        "fraud_signals": [
            {"signal": hit.signal, "details": hit.details, "message_en": hit.message_en, "message_zh": hit.message_zh}
            for hit in hits
        ],
        "request": request.as_dict(),
        "exposures": exposures.as_dict(),
        "credit_line": line.as_dict(),
        "scorecard": {
            "id": card.id,
            "version": card.version,
            "name": card.name,
            "approve_min_score": str(card.approve_min_score),
            "refer_min_score": str(card.refer_min_score),
            "intercept_points": str(card.intercept_points),
        },
        "score": {
            "score": str(scored.score),
            "pd": str(scored.pd),
            "grade": scored.grade,
            "points": scored.lines_as_dicts(),
        },
    }
    return DecisionDraft(
        outcome=outcome,
        grade=scored.grade,
        pd=scored.pd,
        score=scored.score,
        credit_line=line.amount,
        price_rate=Decimal(price) if price is not None else None,
        requested_amount=request.amount,
        reasons=reasons,
        rule_results=rule_results,
        fraud_hits=hits,
        score_result=scored,
        features=features,
        scorecard_id=card.id,
        snapshot=snapshot,
    )


def _outcome(
    *,
    request: CreditRequest,
    card: LoadedScorecard,
    rule_results: list[RuleResult],
    scored: ScoreResult,
    hits: list[fraud.SignalHit],
) -> tuple[str, list[dict]]:
    failed = [result for result in rule_results if not result.passed]
    declined_by_rule = [result for result in failed if result.outcome == Outcome.DECLINE]
    if declined_by_rule:
        return Outcome.DECLINE, [_rule_reason(result) for result in declined_by_rule] + scored.reasons

    if scored.score < card.refer_min_score:
        lead = _bilingual(
            "score-below-refer-level",
            "score",
            lambda: _("The score is below the lowest we lend at; the factors below cost the most points."),
        )
        return Outcome.DECLINE, [lead, *scored.reasons]

    referrals = [_rule_reason(result) for result in failed]
    if scored.score < card.approve_min_score:
        referrals.append(
            _bilingual(
                "score-in-grey-band",
                "referral",
                lambda: _(
                    "The score is in the range where an officer reviews the application; the factors below cost "
                    "the most points."
                ),
            )
        )
    if request.amount > request.auto_approve_ceiling:
        referrals.append(
            _bilingual(
                "amount-above-auto-ceiling",
                "referral",
                lambda: _("Amounts above ¥%(ceiling)s are approved by an officer; ¥%(amount)s was asked for."),
                ceiling=f"{request.auto_approve_ceiling:,.2f}",
                amount=f"{request.amount:,.2f}",
            )
        )
    referrals.extend(
        {
            "code": f"fraud.{hit.signal}",
            "kind": "fraud",
            "feature": "",
            "points_lost": None,
            "message_en": hit.message_en,
            "message_zh": hit.message_zh,
        }
        for hit in hits
    )
    if referrals:
        return Outcome.REFER, referrals + scored.reasons
    return Outcome.APPROVE, scored.reasons


def _rule_reason(result: RuleResult) -> dict:
    return {
        "code": result.code,
        "kind": "rule",
        "feature": "",
        "points_lost": None,
        "message_en": result.message_en,
        "message_zh": result.message_zh,
    }


def _bilingual(code: str, kind: str, message: Callable[[], str], **params) -> dict:
    """A reason in both languages from one translatable English source (Chinese comes from the catalogue)."""
    texts = {}
    for key, language in (("message_en", "en"), ("message_zh", "zh-hans")):
        with translation.override(language):
            texts[key] = message() % params
    return {"code": code, "kind": kind, "feature": "", "points_lost": None, **texts}


@dataclass(frozen=True, slots=True)
class PreApproval:
    amount: Decimal
    grade: str
    score: Decimal


def preapproval(
    *,
    features: MerchantFeatures,
    kyc_state: str,
    industry: str,
    rules: Sequence[PolicyRule],
    scorecard: LoadedScorecard,
    blocking_fraud_alerts: int,
    has_defaulted_loan: bool,
    cap: Decimal,
    line_multiple: Decimal,
) -> PreApproval:
    """The most a merchant can be shown before it applies: an application for it would be approved automatically.

    The line (sales × multiple, capped by ``cap``, down to 100 yuan) is the first candidate; when the scorecard
    bins the requested amount against monthly sales, the amounts just under each of those bins' upper edges are
    the next ones, largest first. The first candidate that reaches ``approve_min_score`` is pre-approved. Every rule
    must pass (rules do not depend on the amount, and every candidate is within the line), otherwise nothing is
    pre-approved (amount 0). Fraud signals are not searched here (they need queries per merchant); alerts already
    raised count through the rules.
    """
    nothing = Decimal("0.00")
    average = features.monthly_sales_avg
    line = credit_line_for(monthly_sales_avg=average, line_multiple=line_multiple, caps={"pre-approval": cap}).amount
    if line <= 0:
        return PreApproval(amount=nothing, grade="", score=Decimal(0))
    results = rules_evaluate(
        rules=rules,
        inputs=RuleInputs(
            kyc_state=kyc_state,
            months_active=features.months_active,
            industry=industry,
            requested_amount=line,
            credit_line=line,
            open_applications=0,
            has_defaulted_loan=has_defaulted_loan,
            blocking_fraud_alerts=blocking_fraud_alerts,
        ),
    )
    edges = {
        _round_down(average * bin_.upper - FEN)
        for bin_ in scorecard.bins.get(Feature.AMOUNT_TO_MONTHLY_SALES, ())
        if bin_.upper is not None and bin_.upper > 0
    }
    candidates = [line, *sorted((amount for amount in edges if 0 < amount < line), reverse=True)]
    scored = score_features(features=features.with_requested_amount(line), scorecard=scorecard)
    if any(not result.passed for result in results):
        return PreApproval(amount=nothing, grade=scored.grade, score=scored.score)
    for amount in candidates:
        if amount != line:
            scored = score_features(features=features.with_requested_amount(amount), scorecard=scorecard)
        if scored.score >= scorecard.approve_min_score:
            return PreApproval(amount=amount, grade=scored.grade, score=scored.score)
    return PreApproval(amount=nothing, grade=scored.grade, score=scored.score)


__all__ = [
    "CreditLine",
    "CreditRequest",
    "DecisionDraft",
    "Exposures",
    "PreApproval",
    "credit_line_for",
    "default_auto_approve_ceiling",
    "default_line_multiple",
    "default_preapproval_cap",
    "evaluate",
    "preapproval",
]
