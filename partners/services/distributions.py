"""Every allocation of a co-funded loan's payments shared among its lenders, to the fen.

Called inside the transaction that books the allocations (servicing's ``allocations_booked`` signal, with the loan
locked), so the distributions commit or roll back with the money itself. Each allocation not yet distributed is
distributed once, in the order it was booked; each gets one row per lender that receives a part of it, and always a
row for the platform (0.00 when the partners take it all), so "distributed" is simply "has distributions".

The rules, per component:

* principal: pro rata to each share's OUTSTANDING share principal (its principal less the principal already
  distributed to it), by the largest remainder: each lender gets its exact part rounded down to the fen, and the
  fens left go one each to the largest fractions (ties: the platform first, then partners by priority). No share
  is ever paid more than it has outstanding, and the payment that clears the loan clears every share exactly;
* interest: a partner earns its own annual rate on its outstanding share principal, by the day (actual/365), from
  the loan's start date. From each interest allocation a partner is paid what it has earned up to the due date of
  the instalment that interest pays (or up to the day the money came in, if that is earlier) and has not yet been
  paid, but never more than its pro rata part of the allocation (the allocation x its outstanding share principal /
  the loan's, rounded down): a bank is paid its rate for the time its money was out and never for days ahead, what
  one payment could not pay it is caught up from the next interest the borrower pays, and it never takes more of a
  payment than its money earned of it. The rest is the platform's margin. Interest credited back on an early
  payoff (a negative allocation) is taken back from each partner in full as far as it was paid beyond what it
  earned to the new due date (never more than the refund in all), and the platform bears the rest;
* fees and late fees: by each partner's agreement (``fee_rule``): "platform" leaves its part to the platform;
  "pro_rata" pays it its share of the loan's principal of the fee (largest remainder over all shares);
* credit (money held for the borrower): the platform's, as custodian. Spending it books new allocations (a
  negative credit line and the components it pays), which are distributed by the rules above.

So for every co-funded loan, at every moment, Σ distributions == Σ allocations == Σ payments. A loan without shares
(the platform's alone) has no distributions. A write-off is not a payment: it distributes nothing, and each lender's
loss is its outstanding share principal (``partners.selectors.money.lender_losses``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from core.money import FEN
from lending.servicing.models import Allocation, Loan
from partners.models import Distribution, FeeRule, LoanShare, WebhookEventType
from partners.services.webhooks import webhook_event_record

ZERO = Decimal("0.00")
DAYS_IN_YEAR = 365
C = Allocation.Component


def _down(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_DOWN)


@dataclass
class _Lender:
    """A share as the distribution run sees it: its principal events and the interest it has been paid."""

    share: LoanShare
    principal_paid: list[tuple[date, Decimal]] = field(default_factory=list)
    interest_paid: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.share.principal - sum((amount for _on, amount in self.principal_paid), ZERO)

    def earned(self, *, start: date, until: date) -> Decimal:
        """Interest at the share's rate on its outstanding principal for each day from ``start`` to ``until``,
        principal repaid counting as repaid from its value date; rounded down to the fen once, at the end."""
        rate = self.share.interest_rate or Decimal(0)
        if until <= start or not rate:
            return ZERO
        balance = self.share.principal
        principal_days = Decimal(0)
        cursor = start
        for on, amount in sorted(self.principal_paid):
            if on >= until:
                break
            if on > cursor:
                principal_days += balance * (on - cursor).days
                cursor = on
            balance -= amount
        principal_days += balance * (until - cursor).days
        return _down(principal_days * rate / DAYS_IN_YEAR)


def largest_remainder(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``amount`` (signed, in fen) by ``weights`` so the parts sum exactly to it: each part is its exact
    share rounded towards zero, and the fens left go one each to the largest remainders (the earlier on a tie)."""
    total = sum(weights, Decimal(0))
    if not total:
        raise ValueError("largest_remainder needs a positive weight")
    sign = -1 if amount < 0 else 1
    fens = int(abs(amount) / FEN)
    exact = [Decimal(fens) * weight / total for weight in weights]
    parts = [int(value) for value in exact]
    left = fens - sum(parts)
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - parts[k]), k))
    for k in order[:left]:
        parts[k] += 1
    return [sign * part * FEN for part in parts]


def loan_allocations_distribute(*, loan: Loan, on: date) -> list[Distribution]:
    """Distribute every allocation of ``loan`` not yet distributed (see the module's rules); returns the new rows.

    Runs inside the transaction that booked the allocations, with the loan locked by the caller (the signal's
    sender). Idempotent: an allocation already distributed is never touched again (one row per allocation and
    share, a unique constraint). Records a "loan.repayment" webhook for each partner paid something, per payment.
    """
    shares = list(LoanShare.objects.filter(loan=loan).select_related("partner", "agreement"))
    if not shares:
        return []
    with transaction.atomic():
        pending = list(
            Allocation.objects.filter(payment__loan=loan, distributions__isnull=True)
            .select_related("instalment", "payment")
            .order_by("pk")
        )
        if not pending:
            return []
        shares.sort(key=lambda share: (share.partner is not None, getattr(share.partner, "priority", 0), share.pk))
        lenders = [_Lender(share=share) for share in shares]
        by_share = {lender.share.pk: lender for lender in lenders}
        for share_id, component, value_date, amount in Distribution.objects.filter(
            loan=loan, component__in=(C.PRINCIPAL, C.INTEREST)
        ).values_list("share_id", "component", "value_date", "amount"):
            if component == C.PRINCIPAL:
                by_share[share_id].principal_paid.append((value_date, amount))
            else:
                by_share[share_id].interest_paid += amount
        business_date = timezone.localdate()
        rows: list[Distribution] = []
        for allocation in pending:
            parts = _split(allocation, lenders, loan=loan, on=on)
            for lender, amount in zip(lenders, parts, strict=True):
                if lender.share.partner_id is not None and not amount:
                    continue
                if allocation.component == C.PRINCIPAL:
                    lender.principal_paid.append((on, amount))
                elif allocation.component == C.INTEREST:
                    lender.interest_paid += amount
                rows.append(
                    Distribution(
                        allocation=allocation,
                        share=lender.share,
                        loan=loan,
                        payment=allocation.payment,
                        partner=lender.share.partner,
                        component=allocation.component,
                        amount=amount,
                        value_date=on,
                        business_date=business_date,
                    )
                )
        Distribution.objects.bulk_create(rows)
        _record_repayment_webhooks(loan=loan, rows=rows, pending=pending)
    return rows


def _split(allocation: Allocation, lenders: list[_Lender], *, loan: Loan, on: date) -> list[Decimal]:
    """One allocation's parts, one per lender (the platform's first); they sum exactly to the allocation."""
    amount = allocation.amount
    component = allocation.component
    if component == C.PRINCIPAL:
        weights = [max(lender.outstanding, ZERO) for lender in lenders]
        if not sum(weights, ZERO):
            weights = [lender.share.principal for lender in lenders]
        return largest_remainder(amount, weights)
    if component in (C.FEE, C.PENALTY):
        parts = largest_remainder(amount, [lender.share.principal for lender in lenders])
        kept = [ZERO] + [
            part if lender.share.agreement is not None and lender.share.agreement.fee_rule == FeeRule.PRO_RATA else ZERO
            for lender, part in zip(lenders[1:], parts[1:], strict=True)
        ]
        kept[0] = amount - sum(kept, ZERO)
        return kept
    if component == C.INTEREST:
        return _interest_parts(allocation, lenders, loan=loan, on=on)
    # Credit held for the borrower, and anything else: the platform's, as custodian.
    return [amount] + [ZERO] * (len(lenders) - 1)


def _interest_parts(allocation: Allocation, lenders: list[_Lender], *, loan: Loan, on: date) -> list[Decimal]:
    amount = allocation.amount
    # Earned up to the due date of the line paid, and never beyond the day the money came in: a partner's money
    # that is repaid early earns nothing for the days it is back.
    until = min(allocation.instalment.due_date, on) if allocation.instalment_id else on
    total_outstanding = sum((max(lender.outstanding, ZERO) for lender in lenders), ZERO)
    parts = [ZERO] * len(lenders)
    left = abs(amount)
    for k, lender in enumerate(lenders):
        if lender.share.partner_id is None:
            continue
        if total_outstanding:
            fraction = max(lender.outstanding, ZERO) / total_outstanding
        else:
            fraction = lender.share.principal / loan.principal
        cap = _down(abs(amount) * fraction)
        earned = lender.earned(start=loan.start_date, until=until)
        if amount > 0:
            part = min(cap, max(earned - lender.interest_paid, ZERO), left)
        else:
            # Interest credited back: the partner returns all it was paid beyond what it earned to the new due
            # date (no pro rata cap here: rounding it down would let a small share keep a fen it never earned).
            part = min(max(lender.interest_paid - earned, ZERO), left)
        left -= part
        parts[k] = part if amount > 0 else -part
    parts[0] = amount - sum(parts, ZERO)
    return parts


def _record_repayment_webhooks(*, loan: Loan, rows: list[Distribution], pending: list[Allocation]) -> None:
    """One "loan.repayment" event per partner and payment whose new allocations paid it something."""
    first_allocation: dict[int, int] = {}
    for allocation in pending:
        first_allocation.setdefault(allocation.payment_id, allocation.pk)
    paid: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    partners = {}
    value_dates: dict[int, date] = {}
    for row in rows:
        if row.partner_id is None:
            continue
        partners[row.partner_id] = row.partner
        paid[(row.partner_id, row.payment_id)][row.component] += row.amount
        value_dates[row.payment_id] = row.value_date
    for (partner_id, payment_id), components in paid.items():
        total = sum(components.values(), ZERO)
        webhook_event_record(
            partner=partners[partner_id],
            event=WebhookEventType.REPAYMENT,
            # The payment, and the first allocation of this run: credit spent later books new allocations on the
            # payment that brought it in, a second event for the same payment.
            key=f"repayment:{payment_id}:{first_allocation[payment_id]}",
            payload={
                "loan_id": loan.pk,
                "payment_id": payment_id,
                "value_date": value_dates[payment_id].isoformat(),
                "amounts": {component: f"{value:.2f}" for component, value in sorted(components.items())},
                "total": f"{total:.2f}",
            },
        )


def loan_funded_notify(*, loan: Loan, paid_on: date) -> None:
    """At payout (inside its transaction): a "loan.funded" webhook for each partner of the loan."""
    for share in LoanShare.objects.filter(loan=loan, partner__isnull=False).select_related("partner"):
        webhook_event_record(
            partner=share.partner,
            event=WebhookEventType.FUNDING,
            key=f"funded:{loan.pk}",
            payload={
                "loan_id": loan.pk,
                "paid_on": paid_on.isoformat(),
                "share": f"{share.share:.4f}",
                "principal": f"{share.principal:.2f}",
                "interest_rate": f"{share.interest_rate:.6f}" if share.interest_rate is not None else None,
                "agreement_version": share.agreement.version if share.agreement_id else None,
                "maturity_date": loan.maturity_date.isoformat(),
            },
        )


def on_allocations_booked(sender, *, loan: Loan, on: date, **kwargs) -> None:
    """Receiver of ``lending.servicing.signals.allocations_booked``."""
    loan_allocations_distribute(loan=loan, on=on)


def on_loan_activated(sender, *, loan: Loan, paid_on: date, **kwargs) -> None:
    """Receiver of ``lending.servicing.signals.loan_activated``."""
    loan_funded_notify(loan=loan, paid_on=paid_on)
