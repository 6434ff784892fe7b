"""Co-insurance in figures: premiums, claims, and the loss before and after insurance, overall and per lender.

Definitions (every figure in yuan, to the fen):

- A loan is *lost* when it has a claim, or is defaulted or written off. Its *loss before insurance* is the principal
  still owed plus the interest due and unpaid: as the claim fixed it on the day it opened, or today for a lost
  loan without a claim.
- *Paid by insurers*: what insurers paid on settled claims; *passed back*: their share of later recoveries
  (``ClaimRecoveryShare``). The *loss after insurance* is the loss before, less what insurers paid, plus what was
  passed back to them.
- Per lender: each loan's loss, insurer payment and passed-back share are split by the lenders' shares of the loan
  (``loan_participations``); a loan without shares is the platform's alone.
- Premiums: the borrower's (withheld from its payout, a pass-through to the insurer) and the platform's (its cost).
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from core.money import FEN
from lending.servicing.models import Instalment, LoanState
from partners.models import ClaimRecoveryShare, ClaimState, InsuranceClaim, InsuranceCover, PremiumPayer
from partners.selectors.exposure import loan_participations

ZERO = Decimal("0.00")
LOST_LOAN_STATES = (LoanState.DEFAULTED, LoanState.WRITTEN_OFF)


def _fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def insurance_costs() -> dict:
    """Premiums by who pays them: ``platform`` (a cost in the portfolio figures) and ``borrower`` (withheld from the
    payout), each ``{"total", "loans", "by_insurer": {code: total}}``."""
    result = {}
    for payer in PremiumPayer.values:
        covers = InsuranceCover.objects.filter(premium_payer=payer)
        totals = covers.aggregate(total=Sum("premium"), loans=Count("id"))
        by_insurer = dict(
            covers.values("insurer__code").annotate(total=Sum("premium")).values_list("insurer__code", "total")
        )
        result[payer] = {
            "total": totals["total"] or ZERO,
            "loans": totals["loans"],
            "by_insurer": {code: total or ZERO for code, total in sorted(by_insurer.items())},
        }
    return result


@dataclass
class LossFigures:
    loss_before: Decimal = ZERO
    paid_by_insurers: Decimal = ZERO
    passed_back: Decimal = ZERO

    @property
    def loss_after(self) -> Decimal:
        return self.loss_before - self.paid_by_insurers + self.passed_back


@dataclass
class InsurancePortfolio:
    overall: LossFigures
    by_lender: dict[str, LossFigures]
    premiums: dict
    claims_by_state: dict[str, dict]
    loans_lost: int
    loans_covered: int = 0


def _lost_without_claim() -> dict[int, Decimal]:
    """Lost loans with no claim: their loss today (principal owed + interest due and unpaid)."""
    today = timezone.localdate()
    rows = (
        Instalment.objects.filter(loan__state__in=LOST_LOAN_STATES, loan__insurance_claim__isnull=True)
        .values("loan_id")
        .annotate(
            principal=Sum(F("principal_due") - F("principal_paid")),
            interest=Sum(F("interest_due") - F("interest_paid"), filter=Q(due_date__lte=today)),
        )
    )
    return {row["loan_id"]: max(row["principal"] or ZERO, ZERO) + max(row["interest"] or ZERO, ZERO) for row in rows}


def insurance_portfolio() -> InsurancePortfolio:
    """The co-insurance figures of the whole portfolio (see the module's docstring for each definition)."""
    per_loan: dict[int, LossFigures] = defaultdict(LossFigures)
    claims = InsuranceClaim.objects.values_list("loan_id", "state", "principal_lost", "interest_lost", "settled_amount")
    for loan_id, state, principal, interest, settled in claims:
        figures = per_loan[loan_id]
        figures.loss_before += principal + interest
        if state == ClaimState.SETTLED:
            figures.paid_by_insurers += settled or ZERO
    for loan_id, total in (
        ClaimRecoveryShare.objects.values("claim__loan_id")
        .annotate(total=Sum("amount"))
        .values_list("claim__loan_id", "total")
    ):
        per_loan[loan_id].passed_back += total
    for loan_id, loss in _lost_without_claim().items():
        per_loan[loan_id].loss_before += loss

    overall = LossFigures()
    by_lender: dict[str, LossFigures] = defaultdict(LossFigures)
    participations = loan_participations(loan_ids=per_loan)
    for loan_id, figures in per_loan.items():
        overall.loss_before += figures.loss_before
        overall.paid_by_insurers += figures.paid_by_insurers
        overall.passed_back += figures.passed_back
        for code, fraction in participations[loan_id].lender_fractions.items():
            lender = by_lender[code]
            lender.loss_before += figures.loss_before * fraction
            lender.paid_by_insurers += figures.paid_by_insurers * fraction
            lender.passed_back += figures.passed_back * fraction
    for lender in by_lender.values():
        lender.loss_before = _fen(lender.loss_before)
        lender.paid_by_insurers = _fen(lender.paid_by_insurers)
        lender.passed_back = _fen(lender.passed_back)

    by_state = {
        state: {"label": str(label), "claims": 0, "claimable": ZERO, "settled": ZERO}
        for state, label in ClaimState.choices
    }
    for row in InsuranceClaim.objects.values("state").annotate(
        claims=Count("id"), claimable=Sum("claimable"), settled=Sum("settled_amount")
    ):
        by_state[row["state"]] = {
            **by_state[row["state"]],
            "claims": row["claims"],
            "claimable": row["claimable"] or ZERO,
            "settled": row["settled"] or ZERO,
        }
    return InsurancePortfolio(
        overall=overall,
        by_lender=dict(sorted(by_lender.items())),
        premiums=insurance_costs(),
        claims_by_state=by_state,
        loans_lost=len(per_loan),
        loans_covered=InsuranceCover.objects.count(),
    )


def claims_for_insurer(*, user):
    """The claims the insurer behind ``user`` may see: its own, once submitted (an opened claim is the platform's
    draft). Nothing for an account that is not an insurer's."""
    insurer = getattr(user, "insurer", None) if getattr(user, "is_authenticated", False) else None
    if insurer is None:
        return InsuranceClaim.objects.none()
    return (
        InsuranceClaim.objects.filter(cover__insurer=insurer)
        .exclude(state=ClaimState.OPENED)
        .select_related("loan", "cover__agreement")
    )


__all__ = ["InsurancePortfolio", "LossFigures", "claims_for_insurer", "insurance_costs", "insurance_portfolio"]
