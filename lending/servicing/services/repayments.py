"""Repayments: money received for a loan, where it goes, payoff quotes and prepayments.

Invariants this module protects:

- Nothing is lost or counted twice. Every payment's allocations sum exactly to its amount: instalment components
  (``lending.catalogue.money.waterfall`` decides which) plus what is held as credit. When held credit is spent
  later, the spending is booked on the payment that brought the money in (a negative ``credit`` allocation and the
  instalment components it paid), so that stays true, and the loan's ``credit_balance`` always equals the sum of its
  payments' ``credit`` allocations.
- A payment is recorded once: it is idempotent by ``(loan, source, external_reference)``. The same reference with
  the same amount returns the first payment and changes nothing; with a different amount it is refused
  (``PaymentReferenceReused``, naming nothing but this loan's own payment). The unique constraint is the backstop.
- Every write locks the loan first (``select_for_update``), then its instalments, in number order.
- No component is ever paid beyond what is due on it; the schedule's principal always sums to the loan's.

Entry points (all keyword-only, each one transaction):

- ``payment_record(*, loan, amount, received_on, source, external_reference, by=None, kind="regular")``: a
  repayment from the portal, the API, an officer or the sales-share sweep. It pays what is due on or before
  ``received_on`` and the current instalment (the first one not yet due); anything beyond that is held as credit.
  An overdue loan with nothing past due any more is cured; a loan with everything paid is paid off (a defaulted
  one is recovered).
- ``credit_apply(*, loan, on)``: spend the credit held on instalments due on or before ``on`` (the daily job calls
  it on each due date; see ``lending.servicing.selectors.repayments.loans_with_credit_due``).
- ``payoff_quote(*, loan, on)``: what pays the loan off on that date, and only that date.
- ``loan_pay_off(...)`` and ``loan_prepay_partial(...)``: full payoff, and partial prepayment that re-amortises
  the rest of the schedule (shorter term, or lower instalment).
- ``collectable_amount(...)``: what a merchant's "pay now" may ask the rail for, checked before anything is taken.

Who calls them: never a merchant. A payment is booked when the rail confirms a collection
(``collection_requests``), when the platform withholds a share of sales (the daily job), or when an officer
records a bank transfer (``bank_transfers``). ``received_on`` is never in the future and never before the day the
loan was paid out or the last day the nightly job has already serviced it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.money import FEN, to_fen
from core.services.audit import audit_record
from core.services.notices import notify
from lending.catalogue.models import PrepaymentPolicy, PriceBasis
from lending.catalogue.money import QuoteError, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.money.dates import add_months
from lending.catalogue.money.schedules import days_interest
from lending.catalogue.money.waterfall import Outstanding, allocate
from lending.servicing.models import Allocation, Instalment, Loan, LoanState, Payment, PaymentSource
from lending.servicing.selectors.loans import schedule_rows
from lending.servicing.services.sales_share_fees import sales_share_fee_book_loan, sales_share_fee_owed
from lending.servicing.signals import allocations_booked

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
L = LoanState
# Collections still take money from a defaulted loan; nothing else is paid into a closed or unpaid-out loan.
PAYABLE_STATES = (L.ACTIVE, L.OVERDUE, L.DEFAULTED)
PREPAYABLE_STATES = (L.ACTIVE, L.OVERDUE)
# A sales-share advance's fee accrues while it is active or overdue (the nightly sweep's states).
ACCRUING_SALES_SHARE = (L.ACTIVE, L.OVERDUE)
KEEP_TERM, KEEP_INSTALMENT = "term", "instalment"
REFERENCE_MAX_LENGTH = Payment._meta.get_field("external_reference").max_length
C = Allocation.Component


class RepaymentConflict(StateConflict):
    """The loan's state does not allow this payment (HTTP 409); the message says why and what to do."""


class PaymentReferenceReused(RepaymentConflict):
    """The external reference was already used for a different payment."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="reference_reused")


class PrepaymentNotAllowed(RepaymentConflict):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="prepayment_not_allowed")


# Input checks: a clear message naming the field.


def checked_amount(amount: object, *, field: str = "amount") -> Decimal:
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if isinstance(amount, float | bool) or value is None or not value.is_finite():
        raise ValidationError({field: [_("Enter an amount in yuan such as 1200.50.")]})
    if value <= 0 or value != value.quantize(FEN) or value > Decimal("999999999999.99"):
        raise ValidationError({field: [_("Enter an amount above 0.00 with at most two decimal places.")]})
    return value.quantize(FEN)


def _checked_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip() or len(reference.strip()) > REFERENCE_MAX_LENGTH:
        raise ValidationError(
            {
                "external_reference": [
                    _("Give the payment's reference from your system: 1 to %(max)d characters.")
                    % {"max": REFERENCE_MAX_LENGTH}
                ]
            }
        )
    return reference.strip()


def _checked_source(source: object) -> str:
    if source not in PaymentSource.values:
        raise ValidationError(
            {"source": [_("Choose a payment source: %(choices)s.") % {"choices": ", ".join(PaymentSource.values)}]}
        )
    return str(source)


def checked_received_on(loan: Loan, received_on: object) -> date:
    """The day money was received for ``loan`` (locked): not before the payout, and not before the last day the
    nightly job has already serviced (its late fees and arrears stand on what was paid by then). A date in the
    future is refused where a date comes in from outside (an officer's form, a rail's answer)."""
    if not isinstance(received_on, date):
        raise ValidationError({"received_on": [_("Give the date the money was received, as YYYY-MM-DD.")]})
    earliest = max(filter(None, [loan.start_date, loan.serviced_on]))
    if received_on < earliest:
        raise ValidationError(
            {
                "received_on": [
                    _(
                        "Loan #%(id)s has been serviced up to %(date)s: money received before then cannot be booked "
                        "on it; give %(date)s or later."
                    )
                    % {"id": loan.pk, "date": earliest.isoformat()}
                ]
            }
        )
    return received_on


# Locks and reads under the lock.


def _locked(loan: Loan) -> tuple[Loan, list[Instalment]]:
    locked = Loan.objects.select_for_update().select_related("merchant").get(pk=loan.pk)
    instalments = list(Instalment.objects.select_for_update().filter(loan=locked).order_by("number"))
    return locked, instalments


def _existing_payment(*, loan: Loan, source: str, reference: str, amount: Decimal) -> Payment | None:
    existing = Payment.objects.filter(loan=loan, source=source, external_reference=reference).first()
    if existing is None:
        return None
    if existing.amount != amount:
        raise PaymentReferenceReused(
            _(
                "The reference %(reference)s was already used for a payment of %(amount)s yuan on %(date)s. "
                "Each payment needs its own reference."
            )
            % {"reference": reference, "amount": existing.amount, "date": existing.received_on.isoformat()}
        )
    return existing


def _owed(instalment: Instalment) -> Outstanding:
    return Outstanding(
        key=instalment.pk,
        fee=instalment.owed("fee"),
        penalty=instalment.owed("penalty"),
        interest=instalment.owed("interest"),
        principal=instalment.owed("principal"),
    )


def _is_paid(instalment: Instalment) -> bool:
    return _owed(instalment).total == 0


# Booking allocations.

_PAID_FIELD = {C.FEE: "fee_paid", C.PENALTY: "penalty_paid", C.INTEREST: "interest_paid", C.PRINCIPAL: "principal_paid"}


def _book(
    *, lines: list[tuple[Payment, int, str, Decimal]], instalments: list[Instalment], on: date
) -> set[Instalment]:
    """Add allocations ``(payment, instalment pk, component, amount)`` to the rows and to the instalments."""
    by_pk = {row.pk: row for row in instalments}
    touched: set[Instalment] = set()
    for _payment, instalment_pk, component, amount in lines:
        row = by_pk[instalment_pk]
        field = _PAID_FIELD[component]
        setattr(row, field, getattr(row, field) + amount)
        touched.add(row)
    Allocation.objects.bulk_create(
        Allocation(payment=payment, instalment_id=pk, component=component, amount=amount)
        for payment, pk, component, amount in lines
    )
    for row in touched:
        if _is_paid(row):
            row.status = Instalment.Status.PAID
            row.paid_on = row.paid_on or on
        elif row.status != Instalment.Status.OVERDUE:
            # An overdue instalment stays overdue until it is paid in full: the daily job counts its days past due.
            row.status = Instalment.Status.PARTLY_PAID
        row.save(update_fields=["principal_paid", "interest_paid", "fee_paid", "penalty_paid", "status", "paid_on"])
    return touched


def _pay(
    *, payment: Payment, amount: Decimal, targets: list[Instalment], instalments: list[Instalment], loan: Loan, on: date
) -> Decimal:
    """Allocate a new payment over ``targets``; the rest is held as credit. Returns that rest."""
    waterfall = allocate(outstanding=[_owed(row) for row in targets], amount=amount)
    _book(
        lines=[(payment, line.key, line.component, line.amount) for line in waterfall.allocations],
        instalments=instalments,
        on=on,
    )
    if waterfall.credit:
        Allocation.objects.create(payment=payment, instalment=None, component=C.CREDIT, amount=waterfall.credit)
        loan.credit_balance += waterfall.credit
    return waterfall.credit


def _spend_credit(*, loan: Loan, targets: list[Instalment], instalments: list[Instalment], on: date) -> Decimal:
    """Spend held credit on ``targets``, booked on the payments that brought it in (oldest first)."""
    if loan.credit_balance <= 0 or not targets:
        return ZERO
    waterfall = allocate(outstanding=[_owed(row) for row in targets], amount=loan.credit_balance)
    spent = waterfall.allocated
    if not spent:
        return ZERO
    sources = [
        [Payment(pk=row["payment"]), row["net"]]
        for row in Allocation.objects.filter(payment__loan=loan, component=C.CREDIT)
        .values("payment")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
        .order_by("payment")
    ]
    if sum((net for _payment, net in sources), ZERO) != loan.credit_balance:
        # The books and the balance disagree: stop rather than spend money nobody can trace.
        raise RepaymentConflict(_("The loan's credit balance does not match its payments; ask an officer."))
    lines: list[tuple[Payment, int, str, Decimal]] = []
    drawn: dict[int, Decimal] = {}
    index = 0
    for line in waterfall.allocations:
        left = line.amount
        while left:
            source = sources[index]
            take = min(left, source[1])
            lines.append((source[0], line.key, line.component, take))
            drawn[source[0].pk] = drawn.get(source[0].pk, ZERO) + take
            source[1] -= take
            left -= take
            if not source[1]:
                index += 1
    _book(lines=lines, instalments=instalments, on=on)
    Allocation.objects.bulk_create(
        Allocation(payment_id=payment_id, instalment=None, component=C.CREDIT, amount=-amount)
        for payment_id, amount in drawn.items()
    )
    loan.credit_balance -= spent
    return spent


def _due_by(instalments: list[Instalment], on: date) -> list[Instalment]:
    return [row for row in instalments if row.due_date <= on and not _is_paid(row)]


def _settle_state(*, loan: Loan, instalments: list[Instalment], on: date, by: User | None, reason: str) -> None:
    """After money came in: pay off (or recover) a fully paid loan, cure an overdue one with nothing past due."""
    from_state = loan.state
    if all(_is_paid(row) for row in instalments):
        if loan.state == L.DEFAULTED:
            loan.recover()
            action = "loan.recover"
        else:
            loan.pay_off()
            action = "loan.pay_off"
    elif loan.state == L.OVERDUE and not any(row.due_date < on and not _is_paid(row) for row in instalments):
        loan.cure()
        action = "loan.cure"
    else:
        return
    loan.save()
    audit_record(subject=loan, action=action, by=by, from_state=from_state, to_state=loan.state, reason=reason)


def _notify_payment(loan: Loan, payment: Payment) -> None:
    if payment.source == PaymentSource.SALES_SHARE:
        # A deduction a day would flood the inbox; the sales-share job tells the merchant about its sweeps.
        return
    notify(
        user_id=loan.merchant.owner_id,
        title=_("Payment of %(amount)s yuan received") % {"amount": payment.amount},
        body=_("We received %(amount)s yuan for loan #%(id)s on %(date)s. Thank you.")
        % {"amount": payment.amount, "id": loan.pk, "date": payment.received_on.isoformat()},
        url=reverse("lending:repayment-history", args=[loan.pk]),
    )


def _new_payment(
    *, loan: Loan, amount: Decimal, received_on: date, source: str, reference: str, by: User | None, kind: str
) -> Payment:
    try:
        with transaction.atomic():
            return Payment.objects.create(
                loan=loan,
                amount=amount,
                received_on=received_on,
                source=source,
                kind=kind,
                external_reference=reference,
                recorded_by=by if getattr(by, "is_authenticated", False) else None,
            )
    except IntegrityError:
        # The loan is locked, so this loan's payment with the reference would have been found: a backstop only.
        raise PaymentReferenceReused(
            _("The reference %(reference)s was already used for another payment of this loan.")
            % {"reference": reference}
        ) from None


def _audit_payment(*, loan: Loan, payment: Payment, by: User | None, credit: Decimal) -> None:
    allocations_booked.send(sender=Loan, loan=loan, on=payment.received_on)
    audit_record(
        subject=loan,
        action="payment.record",
        by=by,
        data={
            "payment_id": payment.pk,
            "amount": f"{payment.amount:.2f}",
            "source": payment.source,
            "kind": payment.kind,
            "external_reference": payment.external_reference,
            "received_on": payment.received_on.isoformat(),
            "held_as_credit": f"{credit:.2f}",
            "credit_balance": f"{loan.credit_balance:.2f}",
        },
    )


# Payments.


def payment_record(
    *,
    loan: Loan,
    amount: Decimal,
    received_on: date,
    source: str,
    external_reference: str,
    by: User | None = None,
    kind: str = Payment.Kind.REGULAR,
) -> Payment:
    """Record money received for ``loan`` and allocate it; idempotent by ``(source, external_reference)``.

    Pays, in the loan's waterfall order, every instalment due on or before ``received_on`` (oldest first), then
    the current one (the first unpaid one not yet due): paying before the due date pays the next instalment.
    Anything beyond that is held as credit, spent when the next instalment falls due (``credit_apply``). A
    sales-share advance has no interest that depends on time, so its payments run on through all its lines.
    """
    amount = checked_amount(amount)
    source = _checked_source(source)
    reference = _checked_reference(external_reference)
    with transaction.atomic():
        locked, instalments = _locked(loan)
        existing = _existing_payment(loan=locked, source=source, reference=reference, amount=amount)
        if existing is not None:
            return existing
        checked_received_on(locked, received_on)
        # Money collected after a write-off is a recovery, allocated like any payment; the loan stays written off.
        if locked.state not in (*PAYABLE_STATES, L.WRITTEN_OFF):
            raise RepaymentConflict(
                _("Loan #%(id)s is %(state)s: it takes no payments.")
                % {"id": locked.pk, "state": locked.get_state_display()}
            )
        if locked.repayment_method == RepaymentMethod.SALES_SHARE and locked.state in ACCRUING_SALES_SHARE:
            # The fee owed on the day it is received, not the lines' projection (the nightly sweep may not have run).
            sales_share_fee_book_loan(loan=locked, instalments=instalments, on=received_on)
        payment = _new_payment(
            loan=locked, amount=amount, received_on=received_on, source=source, reference=reference, by=by, kind=kind
        )
        # Credit held is older money: it pays what has fallen due before the new payment does.
        _spend_credit(loan=locked, targets=_due_by(instalments, received_on), instalments=instalments, on=received_on)
        unpaid = [row for row in instalments if not _is_paid(row)]
        if locked.repayment_method == RepaymentMethod.SALES_SHARE:
            targets = unpaid
        else:
            targets = [row for row in unpaid if row.due_date <= received_on]
            current = next((row for row in unpaid if row.due_date > received_on), None)
            if current is not None:
                targets.append(current)
        credit = _pay(
            payment=payment, amount=amount, targets=targets, instalments=instalments, loan=locked, on=received_on
        )
        locked.save(update_fields=["credit_balance"])
        _audit_payment(loan=locked, payment=payment, by=by, credit=credit)
        _settle_state(loan=locked, instalments=instalments, on=received_on, by=by, reason=_("payment received"))
        _notify_payment(locked, payment)
    return payment


def credit_apply(*, loan: Loan, on: date) -> Decimal:
    """Spend the loan's held credit on its instalments due on or before ``on``; returns the amount spent.

    For the daily job: call it for each loan of ``loans_with_credit_due(on=...)`` on (or after) a due date.
    Idempotent: with nothing due or no credit it changes nothing and writes nothing. The spending is booked on
    the payments that brought the credit in, so every payment's allocations still sum to its amount.
    """
    with transaction.atomic():
        locked, instalments = _locked(loan)
        if locked.state not in PAYABLE_STATES or locked.credit_balance <= 0:
            return ZERO
        spent = _spend_credit(loan=locked, targets=_due_by(instalments, on), instalments=instalments, on=on)
        if not spent:
            return ZERO
        locked.save(update_fields=["credit_balance"])
        allocations_booked.send(sender=Loan, loan=locked, on=on)
        audit_record(
            subject=locked,
            action="payment.credit_apply",
            data={"on": on.isoformat(), "spent": f"{spent:.2f}", "credit_balance": f"{locked.credit_balance:.2f}"},
        )
        _settle_state(loan=locked, instalments=instalments, on=on, by=None, reason=_("credit held applied"))
    return spent


# Payoff quotes.


@dataclass(frozen=True, slots=True)
class PayoffQuote:
    """What pays a loan off on ``on`` (and only on that date): the parts, and ``total`` net of credit held."""

    loan_id: int
    on: date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    penalties: Decimal
    prepayment_fee: Decimal
    credit: Decimal
    total: Decimal
    interest_refund: Decimal = ZERO  # interest paid ahead for days not used, included in ``credit``

    def as_dict(self) -> dict[str, object]:
        return {
            "loan": self.loan_id,
            "valid_on": self.on.isoformat(),
            "principal": f"{self.principal:.2f}",
            "interest": f"{self.interest:.2f}",
            "fees": f"{self.fees:.2f}",
            "penalties": f"{self.penalties:.2f}",
            "prepayment_fee": f"{self.prepayment_fee:.2f}",
            "credit": f"{self.credit:.2f}",
            "interest_refund": f"{self.interest_refund:.2f}",
            "total": f"{self.total:.2f}",
        }


@dataclass(frozen=True, slots=True)
class _Period:
    """The instalment period ``on`` falls in, and what of it is settled early."""

    current: Instalment | None  # the first instalment due after ``on``; None when everything has fallen due
    later: list[Instalment]  # the instalments after it
    accrued_interest: Decimal  # interest accrued to ``on`` in the current period, still unpaid
    interest_paid: Decimal  # interest already paid on the current and later instalments
    early_principal: Decimal  # principal not yet due, still unpaid
    interest_refund: Decimal = ZERO  # interest paid ahead of ``on`` beyond what accrued: credited back


def _day_count(loan: Loan) -> tuple[Decimal | None, Decimal | None, int]:
    """The loan's one day count: (annual rate, daily rate, days in a year), as its signed terms state them."""
    terms = loan.terms or {}
    days_in_year = 360 if terms.get("day_count") == "actual_360" else 365
    rates = _rate_terms(loan)
    return rates.get("annual_rate"), rates.get("daily_rate"), days_in_year


def _last_restructure(loan: Loan, on: date) -> tuple[date, Decimal] | None:
    """The start date and rate of the newest restructure accepted on or before ``on``: interest on its schedule
    accrues from that date, at that rate."""
    from lending.servicing.models import RestructureProposal

    proposal = (
        RestructureProposal.objects.filter(loan=loan, status=RestructureProposal.Status.ACCEPTED)
        .order_by("-decided_at", "-pk")
        .first()
    )
    if proposal is None:
        return None
    start = date.fromisoformat(proposal.terms["start_date"])
    return (start, Decimal(proposal.terms["annual_rate"])) if start <= on else None


def _accrued(loan: Loan, remaining: list[Instalment], period_start: date, on: date) -> Decimal:
    """Interest on the principal of ``remaining`` for each day from ``period_start`` to ``on`` that it was
    outstanding, by the loan's day count: principal paid ahead counts as repaid from the day it was received."""
    annual_rate, daily_rate, days_in_year = _day_count(loan)
    restructure = _last_restructure(loan, on)
    if restructure is not None and restructure[0] >= period_start:
        period_start, annual_rate, daily_rate = restructure[0], restructure[1], None
    if on <= period_start:
        return ZERO
    balance = sum((row.principal_due for row in remaining), ZERO)
    repaid = (
        Allocation.objects.filter(instalment__in=remaining, component=C.PRINCIPAL, payment__received_on__lt=on)
        .values_list("payment__received_on", "amount")
        .order_by("payment__received_on")
    )
    segments: list[tuple[date, Decimal]] = []
    for received_on, amount in repaid:
        if received_on <= period_start:
            balance -= amount
        else:
            segments.append((received_on, amount))
    total, since = Decimal(0), period_start
    for received_on, amount in [*segments, (on, ZERO)]:
        total += days_interest(
            balance=balance,
            days=(received_on - since).days,
            annual_rate=annual_rate,
            daily_rate=daily_rate,
            days_in_year=days_in_year,
        )
        balance -= amount
        since = received_on
    return to_fen(total)


def _prepayment_terms(loan: Loan) -> tuple[str, Decimal]:
    terms = loan.terms or {}
    prepayment = terms.get("prepayment") or {}
    policy = prepayment.get("policy", terms.get("prepayment_policy", PrepaymentPolicy.ALLOWED))
    rate = Decimal(str(prepayment.get("fee_rate", terms.get("prepayment_fee_rate", "0"))))
    return policy, rate


def _period(loan: Loan, instalments: list[Instalment], on: date) -> _Period:
    if on < loan.start_date:
        raise ValidationError(
            {
                "on": [
                    _("Choose a date on or after the loan's start, %(start)s.") % {"start": loan.start_date.isoformat()}
                ]
            }
        )
    # The current period's instalment: the first not yet due, or one falling due today that was paid ahead (its
    # interest for the days after its principal came back is credited, as it would be a day earlier).
    position = next(
        (k for k, row in enumerate(instalments) if row.due_date > on or (row.due_date == on and _is_paid(row))),
        None,
    )
    if position is None:
        return _Period(None, [], ZERO, ZERO, ZERO)
    current, later = instalments[position], instalments[position + 1 :]
    remaining = [current, *later]
    early_principal = sum((row.owed("principal") for row in remaining), ZERO)
    interest_paid = sum((row.interest_paid for row in remaining), ZERO)
    if loan.repayment_method == RepaymentMethod.SALES_SHARE:
        # A fixed fee, whatever the time taken: nothing accrues by the day and nothing is waived.
        return _Period(current, later, ZERO, interest_paid, early_principal)
    period_start = instalments[position - 1].due_date if position else loan.start_date
    # One day count for the schedule and for settling early: the interest to ``on`` on the principal outstanding.
    # A fee-priced loan charges no interest: its fees of lines not yet due are waived instead.
    accrued = _accrued(loan, remaining, period_start, on)
    return _Period(
        current,
        later,
        max(accrued - interest_paid, ZERO),
        interest_paid,
        early_principal,
        interest_refund=max(interest_paid - accrued, ZERO),
    )


def _prepayment_fee(loan: Loan, principal_repaid_early: Decimal) -> Decimal:
    if principal_repaid_early <= 0:
        return ZERO
    policy, rate = _prepayment_terms(loan)
    if policy == PrepaymentPolicy.NOT_ALLOWED:
        raise PrepaymentNotAllowed(
            _("This loan's contract does not allow early repayment: pay each instalment on its due date.")
        )
    if policy == PrepaymentPolicy.ALLOWED_WITH_FEE:
        return to_fen(principal_repaid_early * rate)
    return ZERO


def _quote(loan: Loan, instalments: list[Instalment], on: date) -> tuple[PayoffQuote, _Period]:
    period = _period(loan, instalments, on)
    sales_share = loan.repayment_method == RepaymentMethod.SALES_SHARE
    past = [row for row in instalments if row.due_date <= on]
    principal = sum((row.owed("principal") for row in instalments), ZERO)
    interest = sum((row.owed("interest") for row in past), ZERO) + period.accrued_interest
    # Fees of instalments not yet due are the price of time not used, and are waived; a sales-share advance owes
    # the fee accrued by the day.
    if sales_share:
        # The fee accrued to ``on`` by the contract's daily rule, whatever the lines still carry.
        fees = sales_share_fee_owed(loan=loan, instalments=instalments, on=on)
    else:
        fees = sum((row.owed("fee") for row in past), ZERO)
    penalties = sum((row.owed("penalty") for row in instalments), ZERO)
    prepayment_fee = _prepayment_fee(loan, period.early_principal)
    # Interest paid ahead for days not used is credited back, beside any credit held.
    credit = loan.credit_balance + period.interest_refund
    total = max(principal + interest + fees + penalties + prepayment_fee - credit, ZERO)
    return (
        PayoffQuote(
            loan_id=loan.pk,
            on=on,
            principal=principal,
            interest=interest,
            fees=fees,
            penalties=penalties,
            prepayment_fee=prepayment_fee,
            credit=credit,
            total=total,
            interest_refund=period.interest_refund,
        ),
        period,
    )


def payoff_quote(*, loan: Loan, on: date) -> PayoffQuote:
    """What pays ``loan`` off in full on ``on``: valid for that date only (interest accrues by the day).

    Outstanding principal, plus unpaid interest, fees and late fees of instalments already due, plus interest
    accrued to ``on`` in the current period (actual days over the period's days of its scheduled interest, or
    the daily rate for day-rate products), plus the contract's early-repayment fee on the principal repaid early,
    minus credit held. Refused (``PrepaymentNotAllowed``) when the contract forbids early repayment.
    """
    loan = Loan.objects.get(pk=loan.pk)
    if loan.state not in PAYABLE_STATES:
        raise RepaymentConflict(
            _("Loan #%(id)s is %(state)s: there is nothing to pay off.")
            % {"id": loan.pk, "state": loan.get_state_display()}
        )
    instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
    return _quote(loan, instalments, on)[0]


def _settle_current(
    *, loan: Loan, period: _Period, on: date, principal: Decimal, prepayment_fee: Decimal
) -> Instalment:
    """Turn the current instalment into the early settlement line, due ``on``; the later lines are removed.

    Money already paid on later lines moves onto it (with its allocations), so nothing paid is lost. Its interest
    is what accrued to ``on`` (never less than was paid), its fee what was paid plus the early-repayment fee.
    """
    current = period.current
    later = period.later
    later_pks = [row.pk for row in later]
    Allocation.objects.filter(instalment_id__in=later_pks).update(instalment=current)
    for field in ("principal_paid", "fee_paid", "penalty_paid", "penalty_due"):
        setattr(current, field, getattr(current, field) + sum((getattr(row, field) for row in later), ZERO))
    current.interest_paid = period.interest_paid
    current.interest_due = period.interest_paid + period.accrued_interest
    current.fee_due = current.fee_paid + prepayment_fee
    current.principal_due = current.principal_paid + principal
    current.due_date = on
    if period.interest_refund:
        _refund_interest(loan=loan, instalment=current, amount=period.interest_refund)
    current.save()
    Instalment.objects.filter(pk__in=later_pks).delete()
    return current


def _refund_interest(*, loan: Loan, instalment: Instalment, amount: Decimal) -> None:
    """Credit back ``amount`` of interest paid on ``instalment`` for days the money was not used.

    Booked on the payments that paid it (newest first): a negative interest allocation and the same amount held
    as credit, so each payment still sums to its amount and the credit balance to the credit allocations.
    """
    left = amount
    paid = (
        Allocation.objects.filter(instalment=instalment, component=C.INTEREST)
        .values("payment")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
        .order_by("-payment")
    )
    rows = []
    for row in paid:
        take = min(left, row["net"])
        rows.append(Allocation(payment_id=row["payment"], instalment=instalment, component=C.INTEREST, amount=-take))
        rows.append(Allocation(payment_id=row["payment"], instalment=None, component=C.CREDIT, amount=take))
        left -= take
        if not left:
            break
    Allocation.objects.bulk_create(rows)
    refunded = amount - left
    instalment.interest_paid -= refunded
    instalment.interest_due -= refunded
    loan.credit_balance += refunded


def _pay_off_checks(loan: Loan, states: tuple[str, ...]) -> None:
    if loan.state not in states:
        raise RepaymentConflict(
            _("Loan #%(id)s is %(state)s: it cannot be repaid early.")
            % {"id": loan.pk, "state": loan.get_state_display()}
        )


def loan_pay_off(
    *,
    loan: Loan,
    amount: Decimal,
    on: date,
    external_reference: str,
    by: User | None,
    source: str,
) -> Payment:
    """Pay the loan off in full on ``on`` with ``amount`` (at least the payoff quote for that date).

    Settles everything: the current instalment becomes the settlement line (interest to ``on``), later lines are
    removed (their unaccrued interest and fees waived), credit held is spent first, and the loan is paid off. A
    surplus stays as credit held, to be refunded (the audit row says so). Idempotent by the reference.
    """
    amount = checked_amount(amount)
    source = _checked_source(source)
    reference = _checked_reference(external_reference)
    with transaction.atomic():
        locked, instalments = _locked(loan)
        existing = _existing_payment(loan=locked, source=source, reference=reference, amount=amount)
        if existing is not None:
            return existing
        checked_received_on(locked, on)
        _pay_off_checks(locked, PAYABLE_STATES)
        if locked.repayment_method == RepaymentMethod.SALES_SHARE and locked.state in ACCRUING_SALES_SHARE:
            sales_share_fee_book_loan(loan=locked, instalments=instalments, on=on)
        payoff, period = _quote(locked, instalments, on)
        if amount < payoff.total:
            raise ValidationError(
                {
                    "amount": [
                        _("Paying off on %(date)s takes %(total)s yuan; %(amount)s is not enough.")
                        % {"date": on.isoformat(), "total": payoff.total, "amount": amount}
                    ]
                }
            )
        old_schedule = schedule_rows(instalments)
        if period.current is not None and locked.repayment_method != RepaymentMethod.SALES_SHARE:
            _settle_current(
                loan=locked,
                period=period,
                on=on,
                principal=period.early_principal,
                prepayment_fee=payoff.prepayment_fee,
            )
            instalments = list(Instalment.objects.filter(loan=locked).order_by("number"))
        elif payoff.prepayment_fee and period.current is not None:
            period.current.fee_due += payoff.prepayment_fee
            period.current.save(update_fields=["fee_due"])
        payment = _new_payment(
            loan=locked,
            amount=amount,
            received_on=on,
            source=source,
            reference=reference,
            by=by,
            kind=Payment.Kind.FULL_PAYOFF,
        )
        unpaid = [row for row in instalments if not _is_paid(row)]
        _spend_credit(loan=locked, targets=unpaid, instalments=instalments, on=on)
        unpaid = [row for row in instalments if not _is_paid(row)]
        surplus = _pay(payment=payment, amount=amount, targets=unpaid, instalments=instalments, loan=locked, on=on)
        locked.maturity_date = on
        locked.save(update_fields=["credit_balance", "maturity_date"])
        _audit_payment(loan=locked, payment=payment, by=by, credit=surplus)
        audit_record(
            subject=locked,
            action="loan.reschedule",
            by=by,
            reason=_("paid off early"),
            data={
                "quote": payoff.as_dict(),
                "old_schedule": old_schedule,
                "new_schedule": schedule_rows(instalments),
                "refund_due": f"{locked.credit_balance:.2f}",
            },
        )
        _settle_state(loan=locked, instalments=instalments, on=on, by=by, reason=_("paid off early"))
        _notify_payment(locked, payment)
    return payment


# Partial prepayment.


@dataclass(frozen=True, slots=True)
class PrepaymentPlan:
    """How a partial prepayment splits: interest accrued, early-repayment fee, principal repaid, credit left."""

    accrued_interest: Decimal
    prepayment_fee: Decimal
    principal: Decimal
    credit: Decimal
    balance_after: Decimal


def _rate_terms(loan: Loan) -> dict[str, Decimal]:
    terms = loan.terms or {}
    basis = terms.get("price_basis")
    if basis == PriceBasis.DAILY_RATE:
        return {"daily_rate": Decimal(terms["price"])}
    if basis == PriceBasis.ANNUAL_RATE:
        return {"annual_rate": Decimal(terms["price"])}
    return {"annual_rate": Decimal(0)}  # fee-priced: the periodic fees stay as scheduled


def _prepayment_plan(
    loan: Loan, instalments: list[Instalment], amount: Decimal, on: date
) -> tuple[PrepaymentPlan, _Period]:
    if loan.repayment_method not in (
        RepaymentMethod.EQUAL_INSTALMENT,
        RepaymentMethod.EQUAL_PRINCIPAL,
        RepaymentMethod.INTEREST_FIRST,
    ):
        raise RepaymentConflict(
            _("Partial prepayment is for loans repaid in monthly instalments; this one can only be paid off in full."),
            code="partial_prepayment_unavailable",
        )
    due = sum((_owed(row).total for row in _due_by(instalments, on)), ZERO)
    if due:
        raise RepaymentConflict(
            _("Pay the %(due)s yuan already due first; then you can repay early.") % {"due": due}, code="arrears"
        )
    period = _period(loan, instalments, on)
    if period.current is None or period.early_principal <= 0:
        raise RepaymentConflict(_("Nothing is left to repay early on this loan."), code="nothing_to_prepay")
    _policy, rate = _prepayment_terms(loan)
    _prepayment_fee(loan, period.early_principal)  # refuses when the contract forbids it
    with_fee = _prepayment_terms(loan)[0] == PrepaymentPolicy.ALLOWED_WITH_FEE
    available = amount - period.accrued_interest
    # The principal is the most that ``available`` repays with its fee; a fen that cannot buy principal and fee
    # together is held as credit rather than dropped.
    principal = (available / (1 + rate) if with_fee else available).quantize(FEN, rounding=ROUND_DOWN)
    fee = to_fen(principal * rate) if with_fee else ZERO
    while principal > 0 and principal + fee > available:
        principal -= FEN
        fee = to_fen(principal * rate) if with_fee else ZERO
    if principal <= 0:
        raise ValidationError(
            {
                "amount": [
                    _("The interest accrued to %(date)s is %(interest)s yuan: pay more than that to repay principal.")
                    % {"date": on.isoformat(), "interest": period.accrued_interest}
                ]
            }
        )
    if principal >= period.early_principal:
        raise ValidationError({"amount": [_("That repays the whole loan: choose to pay it off in full instead.")]})
    plan = PrepaymentPlan(
        accrued_interest=period.accrued_interest,
        prepayment_fee=fee,
        principal=principal,
        credit=available - principal - fee,
        balance_after=period.early_principal - principal,
    )
    return plan, period


def _reamortised(loan: Loan, period: _Period, balance: Decimal, keep: str, on: date) -> list:
    """New schedule lines for ``balance`` from ``on``, on the old due dates (the same number, or fewer)."""
    old = [period.current, *period.later]
    method = RepaymentMethod(loan.repayment_method)
    first_due = old[0].due_date

    def lines_for(count: int):
        return quote(
            QuoteTerms(
                amount=balance,
                start_date=on,
                method=method,
                term=count,
                day_count=(loan.terms or {}).get("day_count", "actual_365"),
                first_due_date=None if first_due == add_months(on, 1) else first_due,
                **_rate_terms(loan),
            )
        ).lines

    if keep == KEEP_TERM:
        return list(lines_for(len(old)))
    if method is RepaymentMethod.INTEREST_FIRST:
        raise ValidationError({"keep": [_("An interest-first loan keeps its term: choose a lower instalment.")]})
    # Keep the instalment: the fewest instalments whose regular payment is no more than the old one's.
    reference = old[1] if len(old) > 1 else old[0]
    for count in range(1, len(old) + 1):
        lines = lines_for(count)
        regular = lines[1] if len(lines) > 1 else lines[0]
        if method is RepaymentMethod.EQUAL_PRINCIPAL:
            fits = lines[0].principal <= old[0].principal_due
        else:
            fits = regular.principal + regular.interest <= reference.principal_due + reference.interest_due
        if fits:
            return list(lines)
    return list(lines_for(len(old)))


def loan_prepay_partial(
    *,
    loan: Loan,
    amount: Decimal,
    on: date,
    external_reference: str,
    by: User | None,
    keep: str = KEEP_TERM,
    source: str,
) -> Payment:
    """Repay part of the principal early and re-amortise the rest.

    The amount pays the interest accrued to ``on`` in the current period, then the early-repayment fee and the
    principal it buys (a fen that cannot buy both is held as credit). The current instalment becomes the
    settlement line of that day; the unpaid lines after it are replaced by the money engine's schedule for the
    remaining balance, on the old due dates: ``keep="term"`` keeps their number (a lower instalment),
    ``keep="instalment"`` keeps the payment and drops lines from the end (a shorter term). The principal of the
    whole schedule still sums exactly to the loan's. Audited with both schedules.
    """
    amount = checked_amount(amount)
    source = _checked_source(source)
    reference = _checked_reference(external_reference)
    if keep not in (KEEP_TERM, KEEP_INSTALMENT):
        raise ValidationError(
            {"keep": [_("Choose what to keep: “term” (lower instalment) or “instalment” (shorter term).")]}
        )
    with transaction.atomic():
        locked, instalments = _locked(loan)
        existing = _existing_payment(loan=locked, source=source, reference=reference, amount=amount)
        if existing is not None:
            return existing
        checked_received_on(locked, on)
        _pay_off_checks(locked, PREPAYABLE_STATES)
        plan, period = _prepayment_plan(locked, instalments, amount, on)
        try:
            lines = _reamortised(locked, period, plan.balance_after, keep, on)
        except QuoteError as error:
            raise ValidationError({"amount": [str(error.message)]}) from None
        old_schedule = schedule_rows(instalments)
        # Read before the current line becomes the settlement line (its due date moves to ``on``).
        old_lines = [(row.due_date, row.fee_due) for row in (period.current, *period.later)]
        current = _settle_current(
            loan=locked, period=period, on=on, principal=plan.principal, prepayment_fee=plan.prepayment_fee
        )
        fee_priced = (locked.terms or {}).get("price_basis") == PriceBasis.MONTHLY_FEE_RATE
        Instalment.objects.bulk_create(
            Instalment(
                loan=locked,
                number=current.number + k,
                # The old due dates: the engine's would drift from the month-end anchor of the original schedule.
                due_date=old_lines[k - 1][0],
                principal_due=line.principal,
                interest_due=line.interest,
                fee_due=old_lines[k - 1][1] if fee_priced else line.fee,
            )
            for k, line in enumerate(lines, start=1)
        )
        instalments = list(Instalment.objects.filter(loan=locked).order_by("number"))
        payment = _new_payment(
            loan=locked,
            amount=amount,
            received_on=on,
            source=source,
            reference=reference,
            by=by,
            kind=Payment.Kind.PARTIAL_PREPAYMENT,
        )
        targets = [row for row in instalments if row.pk == current.pk]
        credit = _pay(payment=payment, amount=amount, targets=targets, instalments=instalments, loan=locked, on=on)
        locked.maturity_date = instalments[-1].due_date
        locked.save(update_fields=["credit_balance", "maturity_date"])
        _audit_payment(loan=locked, payment=payment, by=by, credit=credit)
        audit_record(
            subject=locked,
            action="loan.reschedule",
            by=by,
            reason=_("partial prepayment, keeping the %(keep)s") % {"keep": keep},
            data={
                "keep": keep,
                "accrued_interest": f"{plan.accrued_interest:.2f}",
                "prepayment_fee": f"{plan.prepayment_fee:.2f}",
                "principal_repaid": f"{plan.principal:.2f}",
                "balance_after": f"{plan.balance_after:.2f}",
                "old_schedule": old_schedule,
                "new_schedule": schedule_rows(instalments),
            },
        )
        _settle_state(loan=locked, instalments=instalments, on=on, by=by, reason=_("partial prepayment"))
        _notify_payment(locked, payment)
    return payment


# What the merchant may ask the rail to collect ("pay now"; see ``collection_requests``).

PAY_DUE, PAY_OTHER, PAY_OFF, PAY_PREPAY = "due", "other", "payoff", "prepay"


def amount_due_now(*, loan: Loan, on: date) -> Decimal:
    """What is due now: everything due on or before ``on`` and unpaid, less credit held. An instalment due later
    is not due now (paying it early is "another amount"), so on the day of payout nothing is."""
    instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
    due = [row for row in instalments if row.due_date <= on and not _is_paid(row)]
    return max(sum((_owed(row).total for row in due), ZERO) - loan.credit_balance, ZERO)


def collectable_amount(*, loan: Loan, purpose: str, amount: object, on: date) -> Decimal:
    """The amount a collection for ``purpose`` may ask for on ``on``, checked before anything is taken.

    ``due``: what is due now (refused when nothing is). ``payoff``: exactly today's payoff quote (a typed amount
    that differs is refused, naming the quote). ``other``: up to what pays the loan off today. ``prepay``: an amount
    the contract's prepayment terms accept today. Raises ``ValidationError`` naming ``amount`` (or ``purpose``), or
    ``RepaymentConflict`` when the loan's state or contract does not allow it.
    """
    if loan.state not in PAYABLE_STATES:
        raise RepaymentConflict(
            _("Loan #%(id)s is %(state)s: it takes no payments.") % {"id": loan.pk, "state": loan.get_state_display()}
        )
    instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
    if purpose == PAY_DUE:
        due = amount_due_now(loan=loan, on=on)
        if not due:
            raise ValidationError({"amount": [_("Nothing is due now.")]})
        return due
    if purpose not in (PAY_OTHER, PAY_OFF, PAY_PREPAY):
        raise ValidationError({"purpose": [_("Choose what to pay: due, other, payoff or prepay.")]})
    if purpose == PAY_OFF:
        _pay_off_checks(loan, PAYABLE_STATES)
    payoff = _quote(loan, instalments, on)[0].total
    if purpose == PAY_OFF:
        if amount is None:
            return payoff
        value = checked_amount(amount)
        if value != payoff:
            raise ValidationError(
                {
                    "amount": [
                        _("Paying off on %(date)s takes exactly %(total)s yuan; %(amount)s is not that amount.")
                        % {"date": on.isoformat(), "total": payoff, "amount": value}
                    ]
                }
            )
        return value
    value = checked_amount(amount)
    if value > payoff:
        raise ValidationError(
            {
                "amount": [
                    _("%(amount)s yuan is more than the whole loan: %(total)s pays it off today.")
                    % {"amount": value, "total": payoff}
                ]
            }
        )
    if purpose == PAY_PREPAY:
        _prepayment_plan(loan, instalments, value, on)
    return value


__all__ = [
    "KEEP_INSTALMENT",
    "KEEP_TERM",
    "PAY_DUE",
    "PAY_OFF",
    "PAY_OTHER",
    "PAY_PREPAY",
    "PaymentReferenceReused",
    "PayoffQuote",
    "PrepaymentNotAllowed",
    "PrepaymentPlan",
    "RepaymentConflict",
    "amount_due_now",
    "checked_amount",
    "checked_received_on",
    "collectable_amount",
    "credit_apply",
    "loan_pay_off",
    "loan_prepay_partial",
    "payment_record",
    "payoff_quote",
]
