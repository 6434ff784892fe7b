"""A merchant's borrowing at a glance: each open loan as a card, and its credit line with what is left of it.

One place computes both, so the dashboard, the loans list and the apply flow state the same figures:

- a loan card: outstanding principal, the next payment (amount and date), progress (instalments paid of all),
  arrears (what is owed on instalments past their due date) and whether a payment is pending at the rail;
- the credit line: the pre-approved limit underwriting works out every night (the most an application is approved
  for automatically), less the principal still owed on open loans, which the nightly figure does not know about.
  When nothing is left the merchant is told why, in plain words, and what would change it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import translation
from django.utils.translation import gettext as _

from core.formatting import money
from core.money import MoneyField
from core.selectors.audit import audit_trail
from lending.servicing.models import (
    CollectionRequest,
    DeferralRequest,
    Instalment,
    Loan,
    LoanState,
    instalment_owed_expression,
)
from merchants.choices import KycState
from merchants.models import Merchant
from underwriting.engine.decision import (
    credit_line_for,
    default_auto_approve_ceiling,
    default_line_multiple,
    default_preapproval_cap,
)
from underwriting.engine.rules import RuleInputs, rules_evaluate
from underwriting.engine.scoring import score_features, scorecard_load
from underwriting.selectors.decisions import (
    fraud_alerts_blocking_count,
    policy_rules_active,
    preapproved_limit_for,
    scorecard_active,
)
from underwriting.selectors.features import merchant_features

ZERO = Decimal("0.00")
# Loans that still use the line: money is (or is about to be) out and not all of it has come back.
OPEN_STATES = (LoanState.PENDING_DISBURSEMENT, LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)
PAID = Instalment.Status.PAID
# At most this many score factors are named when the score is what stands in the way.
SCORE_FACTORS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class LoanCard:
    """One open loan as the merchant's pages summarise it."""

    loan: Loan
    outstanding_principal: Decimal
    next_due_date: datetime.date | None
    next_payment: Decimal | None  # what is still owed on the next instalment, less credit held
    next_deferral_pending: bool
    instalments_paid: int
    instalments_total: int
    principal_repaid: Decimal
    arrears: Decimal
    days_past_due: int
    payment_pending: bool

    @property
    def progress_percent(self) -> int:
        """Principal repaid, as a whole percentage of the loan (for the progress bar)."""
        if not self.loan.principal:
            return 0
        return int(self.principal_repaid * 100 / self.loan.principal)


def _money(expression) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=MoneyField())


def _upcoming(loan, on: datetime.date) -> QuerySet[Instalment]:
    """The loan's unpaid instalments not yet past their due date, in order: the first is the next payment."""
    return Instalment.objects.filter(loan=loan, due_date__gte=on).exclude(status=PAID).order_by("number")


def _open_loans(*, merchant: Merchant, on: datetime.date) -> QuerySet[Loan]:
    """The merchant's open loans with their figures, in one query (two correlated subqueries for the next line)."""
    upcoming = _upcoming(OuterRef("pk"), on).with_owed()
    unpaid_past_due = Q(instalments__due_date__lt=on) & ~Q(instalments__status=PAID)
    return (
        Loan.objects.filter(merchant=merchant, state__in=OPEN_STATES)
        .select_related("product")
        .annotate(
            card_outstanding=Sum(_money(F("instalments__principal_due") - F("instalments__principal_paid"))),
            card_repaid=Sum("instalments__principal_paid"),
            card_arrears=Sum(instalment_owed_expression("instalments__"), filter=unpaid_past_due),
            card_total=Count("instalments"),
            card_paid=Count("instalments", filter=Q(instalments__status=PAID)),
            card_next_due=Subquery(upcoming.values("due_date")[:1]),
            card_next_owed=Subquery(upcoming.values("owed")[:1], output_field=MoneyField()),
            card_next_deferral=Exists(
                DeferralRequest.objects.filter(
                    instalment=Subquery(_upcoming(OuterRef(OuterRef("pk")), on).values("pk")[:1]),
                    status=DeferralRequest.Status.PENDING,
                )
            ),
            card_pending=Exists(
                CollectionRequest.objects.filter(loan=OuterRef("pk"), status__in=CollectionRequest.OPEN)
            ),
        )
        .order_by("-id")
    )


def loan_cards(*, merchant: Merchant, on: datetime.date) -> list[LoanCard]:
    """The merchant's open loans (awaiting payout, active, overdue, defaulted), newest first, as cards."""
    cards = []
    for loan in _open_loans(merchant=merchant, on=on):
        next_owed = loan.card_next_owed
        if next_owed is not None:
            # Credit held pays the next instalment when it falls due: the merchant owes only the rest.
            next_owed = max(next_owed - (loan.credit_balance or ZERO), ZERO)
        cards.append(
            LoanCard(
                loan=loan,
                outstanding_principal=loan.card_outstanding or ZERO,
                next_due_date=loan.card_next_due,
                next_payment=next_owed,
                next_deferral_pending=loan.card_next_deferral,
                instalments_paid=loan.card_paid,
                instalments_total=loan.card_total,
                principal_repaid=loan.card_repaid or ZERO,
                arrears=loan.card_arrears or ZERO,
                days_past_due=loan.days_past_due,
                payment_pending=loan.card_pending,
            )
        )
    return cards


# The credit line.


@dataclass(frozen=True, slots=True)
class CreditLine:
    """The merchant's line as every page states it: pre-approved, owed on open loans, and what is left."""

    pre_approved: Decimal | None  # None: not worked out yet (the merchant was verified since last night)
    computed_at: datetime.datetime | None
    owed_on_open_loans: Decimal
    open_loans: int
    # Why nothing is left and what would change it, in the current language (empty when something is left).
    reasons: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def available(self) -> Decimal | None:
        """What can be borrowed now without an officer: the pre-approved limit less what open loans still owe."""
        if self.pre_approved is None:
            return None
        return max(self.pre_approved - self.owed_on_open_loans, ZERO)

    @property
    def is_zero(self) -> bool:
        return self.available is not None and self.available <= 0


def merchant_credit_line(
    *, merchant: Merchant, on: datetime.date, cards: list[LoanCard] | None = None, explain: bool = True
) -> CreditLine:
    """The merchant's credit line on ``on``; ``cards`` (from ``loan_cards``) saves reading the open loans again.

    With ``explain``, a line of 0 comes with its reasons and what would change it (a few more queries: the
    features, rules and score are worked out again for today, as the nightly job did).
    """
    if cards is None:
        cards = loan_cards(merchant=merchant, on=on)
    owed = sum((card.outstanding_principal for card in cards), ZERO)
    limit = preapproved_limit_for(merchant=merchant) if merchant.kyc_state == KycState.VERIFIED else None
    line = CreditLine(
        pre_approved=limit.amount if limit is not None else None,
        computed_at=limit.computed_at if limit is not None else None,
        owed_on_open_loans=owed,
        open_loans=len(cards),
    )
    if not explain or not line.is_zero:
        return line
    reasons, changes = _why_nothing_is_left(merchant=merchant, line=line, on=on, cards=cards)
    return CreditLine(
        pre_approved=line.pre_approved,
        computed_at=line.computed_at,
        owed_on_open_loans=owed,
        open_loans=len(cards),
        reasons=reasons,
        changes=changes,
    )


def _localised(item: dict | object, *, en: str = "message_en", zh: str = "message_zh") -> str:
    chinese = (translation.get_language() or "").startswith("zh")
    read = item.get if isinstance(item, dict) else lambda name, default="": getattr(item, name, default)
    return (read(zh, "") if chinese else "") or read(en, "")


def _why_nothing_is_left(
    *, merchant: Merchant, line: CreditLine, on: datetime.date, cards: list[LoanCard]
) -> tuple[list[str], list[str]]:
    """The reasons a merchant's line is 0, as the nightly job would find them today, and what would change it."""
    if line.pre_approved and line.pre_approved > 0:
        # The line is there; open loans use all of it.
        return (
            [
                _("Your open loans use the whole of it: %(owed)s of principal is still to be repaid.")
                % {"owed": money(line.owed_on_open_loans)}
            ],
            [_("It frees up as you repay: every yuan of principal repaid can be borrowed again.")],
        )
    features = merchant_features(merchant=merchant, as_of=on)
    if features.monthly_sales_avg <= 0:
        return (
            [_("There are no platform sales on file for the last 12 months, and the line is worked out from them.")],
            [
                _(
                    "Take payments through the platform: the line is %(multiple)s times your average month of "
                    "platform sales, worked out again every night."
                )
                % {"multiple": f"{default_line_multiple().normalize():f}"}
            ],
        )
    has_default = any(card.loan.state == LoanState.DEFAULTED for card in cards)
    cap = min(default_preapproval_cap(), default_auto_approve_ceiling())
    sales_line = credit_line_for(
        monthly_sales_avg=features.monthly_sales_avg, line_multiple=default_line_multiple(), caps={"cap": cap}
    ).amount
    rules = policy_rules_active()
    results = rules_evaluate(
        rules=rules,
        inputs=RuleInputs(
            kyc_state=merchant.kyc_state,
            months_active=features.months_active,
            industry=merchant.industry,
            requested_amount=sales_line,
            credit_line=sales_line,
            open_applications=0,
            has_defaulted_loan=has_default,
            blocking_fraud_alerts=fraud_alerts_blocking_count(merchant=merchant),
        ),
    )
    failed = [_localised(result) for result in results if not result.passed]
    history = _(
        "Your credit file is your trading on the platform: more months of steady sales, fewer refunds and more "
        "customers raise your score. You can apply again when your sales history has grown."
    )
    if failed:
        return failed, [_("Each reason above says what it asks for; the line is worked out again every night.")]
    scorecard = scorecard_active()
    if scorecard is None:
        return (
            [_("Automatic decisions are paused while our risk team updates its scorecard.")],
            [_("You can still apply: an officer reviews the application within one working day.")],
        )
    card = scorecard_load(scorecard)
    scored = score_features(features=features.with_requested_amount(sales_line), scorecard=card)
    reasons = [
        _(
            "Your score from your platform sales, %(score)s, is below %(level)s, the level at which we approve "
            "automatically. What costs the most points:"
        )
        % {"score": _points(scored.score), "level": _points(card.approve_min_score)},
        *(_localised(reason) for reason in scored.reasons[:SCORE_FACTORS_SHOWN]),
    ]
    return reasons, [history]


def _points(score: Decimal) -> str:
    return format(Decimal(score).normalize(), "f")


def deferrals_pending(*, loan: Loan) -> dict[int, datetime.date]:
    """The loan's instalments with a deferral request an officer has not decided yet: number -> date asked for."""
    return dict(
        DeferralRequest.objects.filter(loan=loan, status=DeferralRequest.Status.PENDING).values_list(
            "instalment__number", "requested_due_date"
        )
    )


# Partial prepayments, as the loan's page explains them.


@dataclass(frozen=True, slots=True)
class Prepayment:
    """One partial prepayment and what it did to the schedule, read from its audit row (both schedules are there)."""

    on: datetime.date
    keep: str  # "term": the same number of instalments, lower; "instalment": the same instalment, fewer of them
    principal_repaid: Decimal
    settled_number: int  # the line that became the day's settlement line
    first_number: int  # the re-computed lines, first to last
    last_number: int
    next_before: Decimal | None  # the payment due on the first re-computed line's date, before and after
    next_after: Decimal | None
    ends_before: datetime.date
    ends_after: datetime.date


def _line_payment(row: dict) -> Decimal:
    return Decimal(row["principal"]) + Decimal(row["interest"]) + Decimal(row["fee"])


def loan_prepayments(*, loan: Loan) -> list[Prepayment]:
    """The loan's partial prepayments, oldest first, each with the option applied and the schedule's change."""
    events = audit_trail(loan).filter(action="loan.reschedule", data__has_key="keep")
    prepayments = []
    for event in events:
        old = {row["number"]: row for row in event.data.get("old_schedule", [])}
        new = event.data.get("new_schedule", [])
        if not old or not new:
            continue
        changed = [row for row in new if old.get(row["number"]) != row]
        if len(changed) < 2:
            continue
        settled, recomputed = changed[0], changed[1:]
        before = next((row for row in old.values() if row["due_date"] == recomputed[0]["due_date"]), None)
        prepayments.append(
            Prepayment(
                on=datetime.date.fromisoformat(settled["due_date"]),
                keep=event.data["keep"],
                principal_repaid=Decimal(event.data.get("principal_repaid", "0")),
                settled_number=settled["number"],
                first_number=recomputed[0]["number"],
                last_number=recomputed[-1]["number"],
                next_before=_line_payment(before) if before else None,
                next_after=_line_payment(recomputed[0]),
                ends_before=datetime.date.fromisoformat(max(row["due_date"] for row in old.values())),
                ends_after=datetime.date.fromisoformat(recomputed[-1]["due_date"]),
            )
        )
    return prepayments


__all__ = [
    "OPEN_STATES",
    "CreditLine",
    "LoanCard",
    "Prepayment",
    "deferrals_pending",
    "loan_cards",
    "loan_prepayments",
    "merchant_credit_line",
]
