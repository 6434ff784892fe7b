"""Restructuring: an officer proposes a new schedule for a loan in difficulty; the merchant accepts or declines.

What is re-scheduled (the "capitalised balance"), as of the day of the proposal:

- all unpaid principal, on every instalment (due or not yet due);
- plus the unpaid interest, fees and late fees of the instalments already due on that day (arrears are folded
  into the new principal, so the new schedule charges interest on them);
- the interest and fees of instalments not yet due are NOT capitalised: they are dropped, because the new
  schedule charges its own interest from the day of the proposal. Credit held on the loan stays held; the daily
  job spends it on the new instalments as they fall due.

The new schedule is the money engine's equal instalments for that balance over ``term`` months at
``annual_rate``, starting on the day of the proposal, first due on ``first_due_date``; its principal column sums
exactly to the capitalised balance (the engine guarantees it, and acceptance checks it again).

Acceptance replaces every unpaid instalment: a line with nothing paid on it is deleted; a line with money
paid on it (or a deferral request pointing at it) is kept with what is due cut down to what was paid, so it is
paid and nothing is counted twice. The new lines follow, numbered after the last kept one. An overdue loan is
cured; a defaulted one stays defaulted (only a payment recovers it). Late fees charged after the proposal are
waived by accepting it (they accrue on lines the restructure replaces); any payment in between makes the
proposal stale and acceptance is refused, so the officer proposes again on the new balance.

The loan's ``principal`` stays the signed figure; the audit rows carry both schedules and the balance.

Concessions need a second officer (``lending.servicing.services.concessions``): a proposal priced below the product's
grid for the loan's grade (``restructure_grid``), or forgiving the arrears' fees or late fees (``forgive_fees``,
``forgive_late_fees``: left out of the capitalised balance), waits as ``awaiting_approval``, unseen by the merchant,
until another officer with ``lending.second_approve_concession`` approves it (``restructure_approve``: then the
merchant is told) or rejects it with a reason (``restructure_reject``: the loan is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from core.services.notices import notify
from lending.catalogue.models import PriceBasis, RepaymentMethodChoice
from lending.catalogue.money import FeeTerms, Quote, QuoteError, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.money.types import DayCount
from lending.catalogue.services.products import annual_cost_ceiling
from lending.servicing.models import Concession, DeferralRequest, Instalment, Loan, LoanState, RestructureProposal
from lending.servicing.selectors.loans import schedule_rows
from lending.servicing.services.concessions import (
    concession_audit_data,
    concession_checker_check,
    concession_checkers_notify,
    concession_create,
    concession_locked,
    concession_maker_notify,
    concession_reason_checked,
)

if TYPE_CHECKING:
    from accounts.models import User

L = LoanState
P = RestructureProposal.Status
PROPOSE_PERMISSION = "lending.propose_restructure"
RESTRUCTURABLE_STATES = (L.ACTIVE, L.OVERDUE, L.DEFAULTED)
REASON_MAX_LENGTH = 2000
ZERO = Decimal("0.00")
COMPONENTS = ("principal", "interest", "fee", "penalty")


class RestructureConflict(StateConflict):
    """The loan or the proposal is not in a state that allows this step (HTTP 409)."""


@dataclass(frozen=True)
class CapitalisedBalance:
    principal: Decimal
    interest: Decimal
    fee: Decimal
    penalty: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee + self.penalty

    def as_dict(self) -> dict[str, str]:
        return {**{name: f"{getattr(self, name):.2f}" for name in COMPONENTS}, "total": f"{self.total:.2f}"}


def capitalised_balance(*, instalments: list[Instalment], on: date) -> CapitalisedBalance:
    """All unpaid principal; unpaid interest, fees and late fees of the lines due on or before ``on``."""
    due = [row for row in instalments if row.due_date <= on]
    return CapitalisedBalance(
        principal=sum((row.owed("principal") for row in instalments), ZERO),
        interest=sum((row.owed("interest") for row in due), ZERO),
        fee=sum((row.owed("fee") for row in due), ZERO),
        penalty=sum((row.owed("penalty") for row in due), ZERO),
    )


def _proposal_url(proposal: RestructureProposal) -> str:
    return reverse("lending:restructure-proposal", args=[proposal.loan_id, proposal.pk])


# Input checks: a clear message naming the field.


def _checked_term(term: object) -> int:
    if isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= 60:
        raise ValidationError({"term": [_("Enter the new term as a whole number of months from 1 to 60.")]})
    return term


def _checked_rate(annual_rate: object) -> Decimal:
    try:
        value = annual_rate if isinstance(annual_rate, Decimal) else Decimal(str(annual_rate))
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if isinstance(annual_rate, float | bool) or value is None or not value.is_finite() or not 0 <= value <= 1:
        raise ValidationError(
            {"annual_rate": [_("Enter the yearly interest rate as a fraction from 0 to 1, such as 0.12 for 12 %.")]}
        )
    return value


def _checked_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError({name: [_("Answer yes or no.")]})
    return value


def _checked_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [_("Say why the loan is restructured: 1 to %(max)d characters.") % {"max": REASON_MAX_LENGTH}]}
        )
    return reason.strip()


def _new_quote(*, balance: Decimal, on: date, term: int, annual_rate: Decimal, first_due_date: date):
    if not isinstance(first_due_date, date):
        raise ValidationError({"first_due_date": [_("Enter the first due date as YYYY-MM-DD.")]})
    try:
        priced = quote(
            QuoteTerms(
                amount=balance,
                start_date=on,
                method=RepaymentMethod.EQUAL_INSTALMENT,
                term=term,
                annual_rate=annual_rate,
                first_due_date=first_due_date,
            )
        )
    except QuoteError as error:
        field = error.field if error.field in ("term", "annual_rate", "first_due_date") else "__all__"
        raise ValidationError({field: [str(error.message)]}) from None
    ceiling = annual_cost_ceiling()
    if priced.apr > ceiling:
        raise ValidationError(
            {
                "annual_rate": [
                    _("This plan's APR would be %(apr)s %%, above the platform's ceiling of %(ceiling)s %% a year.")
                    % {"apr": f"{priced.apr:.2f}", "ceiling": f"{ceiling:.2f}"}
                ]
            }
        )
    return priced


def restructure_grid(
    *, loan: Loan, annual_rate: Decimal, priced: Quote, balance: Decimal, on: date, term: int, first_due_date: date
) -> dict:
    """The product's price grid for the loan's grade against the proposed plan; ``below`` says it is a concession.

    A rate-priced product compares rates exactly: the annual rate with the grid's (a daily rate counted over the
    product's year). A fee-priced one (a monthly fee on the amount, no interest) compares the all-in APR of this very
    balance and schedule at the grid's fee. A grid that cannot be read or priced counts as below it: the second
    officer decides, never nobody.
    """
    product = loan.product
    grid: dict[str, object] = {"grade": loan.grade, "price_basis": product.price_basis, "price": None, "below": True}
    try:
        price = product.price_for(loan.grade)
    except (KeyError, TypeError, ArithmeticError, ValueError):
        return grid
    grid["price"] = str(price)
    if product.price_basis == PriceBasis.ANNUAL_RATE:
        grid.update(annual_rate=str(price), below=annual_rate < price)
    elif product.price_basis == PriceBasis.DAILY_RATE:
        floor = price * DayCount(product.day_count).days_in_year
        grid.update(annual_rate=str(floor), below=annual_rate < floor)
    else:
        try:
            at_grid = quote(
                QuoteTerms(
                    amount=balance,
                    start_date=on,
                    method=RepaymentMethod.EQUAL_INSTALMENT,
                    term=term,
                    annual_rate=Decimal(0),
                    first_due_date=first_due_date,
                    fees=FeeTerms(periodic_rate=price),
                )
            )
        except QuoteError:
            return grid
        grid.update(apr=f"{at_grid.apr:.2f}", below=priced.apr < at_grid.apr)
    return grid


def _locked_loan(loan: Loan) -> tuple[Loan, list[Instalment]]:
    locked = Loan.objects.select_for_update().select_related("merchant").get(pk=loan.pk)
    instalments = list(Instalment.objects.select_for_update().filter(loan=locked).order_by("number"))
    return locked, instalments


def _check_loan(loan: Loan) -> None:
    if loan.state not in RESTRUCTURABLE_STATES:
        raise RestructureConflict(
            _("Loan #%(id)s is %(state)s: only an active, overdue or defaulted loan can be restructured.")
            % {"id": loan.pk, "state": loan.get_state_display()}
        )
    if loan.repayment_method == RepaymentMethodChoice.SALES_SHARE:
        raise RestructureConflict(
            _("A sales-share advance is repaid from sales; it cannot be restructured into instalments."),
            code="sales_share",
        )


# Proposing.


def restructure_propose(
    *,
    loan: Loan,
    by: User,
    term: int,
    annual_rate: Decimal,
    first_due_date: date,
    reason: str,
    forgive_fees: bool = False,
    forgive_late_fees: bool = False,
    on: date | None = None,
) -> RestructureProposal:
    """Propose equal instalments for the capitalised balance; the merchant is told and decides.

    ``forgive_fees`` and ``forgive_late_fees`` leave the arrears' fees and late fees out of the balance. A
    proposal below the grid or forgiving anything waits for a second officer instead, and the merchant is told
    nothing until then (``restructure_approve``).
    """
    if not by.has_perm(PROPOSE_PERMISSION):
        raise PermissionDenied(_("You may not propose restructures."))
    on = on or timezone.localdate()
    errors: dict[str, list[str]] = {}
    checked: dict[str, object] = {}
    for name, check, value in (
        ("term", _checked_term, term),
        ("annual_rate", _checked_rate, annual_rate),
        ("reason", _checked_reason, reason),
        ("forgive_fees", lambda value: _checked_flag("forgive_fees", value), forgive_fees),
        ("forgive_late_fees", lambda value: _checked_flag("forgive_late_fees", value), forgive_late_fees),
    ):
        try:
            checked[name] = check(value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked, instalments = _locked_loan(loan)
        _check_loan(locked)
        if RestructureProposal.objects.filter(loan=locked, status__in=RestructureProposal.OPEN_STATUSES).exists():
            raise RestructureConflict(_proposal_open_message(locked), code="proposal_open")
        outstanding = capitalised_balance(instalments=instalments, on=on)
        forgiven = CapitalisedBalance(
            principal=ZERO,
            interest=ZERO,
            fee=outstanding.fee if checked["forgive_fees"] else ZERO,
            penalty=outstanding.penalty if checked["forgive_late_fees"] else ZERO,
        )
        balance = CapitalisedBalance(
            **{name: getattr(outstanding, name) - getattr(forgiven, name) for name in COMPONENTS}
        )
        if balance.total <= 0:
            raise RestructureConflict(_("Nothing is left to restructure on this loan."), code="nothing_owed")
        priced = _new_quote(
            balance=balance.total,
            on=on,
            term=checked["term"],
            annual_rate=checked["annual_rate"],
            first_due_date=first_due_date,
        )
        grid = restructure_grid(
            loan=locked,
            annual_rate=checked["annual_rate"],
            priced=priced,
            balance=balance.total,
            on=on,
            term=checked["term"],
            first_due_date=first_due_date,
        )
        needs_second_approval = bool(grid["below"]) or forgiven.total > 0
        try:
            with transaction.atomic():
                proposal = RestructureProposal.objects.create(
                    loan=locked,
                    status=P.AWAITING_APPROVAL if needs_second_approval else P.PROPOSED,
                    terms={
                        "method": RepaymentMethod.EQUAL_INSTALMENT.value,
                        "term": checked["term"],
                        "annual_rate": str(checked["annual_rate"]),
                        "start_date": on.isoformat(),
                        "first_due_date": first_due_date.isoformat(),
                        "outstanding": outstanding.as_dict(),
                        "forgiven": forgiven.as_dict(),
                        "capitalised": balance.as_dict(),
                        "grid": grid,
                        "apr": f"{priced.apr:.2f}",
                        "total_interest": f"{priced.total_interest:.2f}",
                        "total_repayable": f"{priced.total_repayable:.2f}",
                    },
                    schedule=[line.as_dict() for line in priced.lines],
                    reason=checked["reason"],
                    proposed_by=by,
                )
        except IntegrityError:
            # The partial unique index: another officer proposed at the same moment.
            raise RestructureConflict(_proposal_open_message(locked), code="proposal_open") from None
        concession = None
        if needs_second_approval:
            concession = concession_create(
                kind=Concession.Kind.RESTRUCTURE,
                loan=locked,
                restructure=proposal,
                by=by,
                reason=checked["reason"],
                terms={
                    "proposal_id": proposal.pk,
                    "annual_rate": str(checked["annual_rate"]),
                    "apr": f"{priced.apr:.2f}",
                    "grid": grid,
                    "forgiven": forgiven.as_dict(),
                    "capitalised": balance.as_dict(),
                },
            )
        audit_record(
            subject=locked,
            action="restructure.propose",
            by=by,
            reason=checked["reason"],
            data={
                "proposal_id": proposal.pk,
                "concession_id": concession.pk if concession else None,
                **proposal.terms,
                "schedule": proposal.schedule,
            },
        )
        if concession is not None:
            concession_checkers_notify(
                concession=concession,
                title=_("A restructure awaits your second approval"),
                body=_(
                    "%(maker)s proposes to restructure loan #%(id)s at %(rate)s a year, forgiving %(forgiven)s yuan."
                )
                % {"maker": by, "id": locked.pk, "rate": checked["annual_rate"], "forgiven": forgiven.total},
            )
        else:
            _notify_proposed(proposal)
    return proposal


def _proposal_open_message(loan: Loan) -> str:
    return _("Loan #%(id)s already has an open restructure proposal.") % {"id": loan.pk}


def _notify_proposed(proposal: RestructureProposal) -> None:
    """Tell the merchant about a proposal it can now decide on."""
    terms = proposal.terms
    notify(
        user_id=proposal.loan.merchant.owner_id,
        title=_("A new repayment plan is proposed for loan #%(id)s") % {"id": proposal.loan_id},
        body=_(
            "We propose to re-schedule the %(balance)s yuan outstanding over %(term)d monthly instalments of "
            "about %(payment)s yuan. Review it and accept or decline."
        )
        % {
            "balance": terms["capitalised"]["total"],
            "term": terms["term"],
            "payment": proposal.schedule[0]["payment"],
        },
        url=_proposal_url(proposal),
    )


# The second officer's decision.


def _locked_for_decision(concession: Concession, by: User) -> tuple[Concession, RestructureProposal]:
    concession = concession_locked(concession)
    if concession.kind != Concession.Kind.RESTRUCTURE:
        raise RestructureConflict(_("This concession is not a restructure."))
    proposal = (
        RestructureProposal.objects.select_for_update()
        .select_related("loan__merchant")
        .get(pk=concession.restructure_id)
    )
    concession_checker_check(concession=concession, by=by, merchant_owner_id=proposal.loan.merchant.owner_id)
    if proposal.status != P.AWAITING_APPROVAL:
        raise RestructureConflict(
            _("This proposal is %(status)s, not awaiting a second approval.")
            % {"status": proposal.get_status_display().lower()},
            code="proposal_decided",
        )
    return concession, proposal


def restructure_approve(*, concession: Concession, by: User, on: date | None = None) -> RestructureProposal:
    """Second approval of a restructure concession: the proposal goes to the merchant, who accepts or declines.

    Refused (``RestructureConflict``) when the proposal went stale meanwhile (its first due date passed, or the
    loan's balance changed): reject it and propose again. One audit row, on the proposal.
    """
    on = on or timezone.localdate()
    with transaction.atomic():
        concession, proposal = _locked_for_decision(concession, by)
        loan, instalments = _locked_loan(proposal.loan)
        _check_loan(loan)
        _check_current(proposal, instalments, on)
        proposal.status = P.PROPOSED
        proposal.save(update_fields=["status"])
        concession.approve(by=by)
        concession.save()
        audit_record(
            subject=proposal,
            action="restructure.approve",
            by=by,
            from_state=P.AWAITING_APPROVAL,
            to_state=P.PROPOSED,
            reason=proposal.reason,
            data={
                **concession_audit_data(concession),
                "grid": proposal.terms.get("grid"),
                "forgiven": proposal.terms.get("forgiven"),
            },
        )
        concession_maker_notify(concession=concession)
        _notify_proposed(proposal)
    return proposal


def restructure_reject(*, concession: Concession, by: User, reason: str) -> RestructureProposal:
    """The second officer refuses the restructure, saying why; the loan and its schedule are unchanged and the
    merchant never hears of it. One audit row, on the proposal."""
    reason = concession_reason_checked(reason, message=_("Say why the restructure is rejected: the officer is told."))
    with transaction.atomic():
        concession, proposal = _locked_for_decision(concession, by)
        proposal.status = P.REJECTED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        concession.reject(by=by, note=reason)
        concession.save()
        audit_record(
            subject=proposal,
            action="restructure.reject",
            by=by,
            from_state=P.AWAITING_APPROVAL,
            to_state=P.REJECTED,
            reason=reason,
            data=concession_audit_data(concession),
        )
        concession_maker_notify(concession=concession)
    return proposal


# The merchant's decision.


def _locked_proposal(proposal: RestructureProposal, by: User) -> RestructureProposal:
    locked = RestructureProposal.objects.select_for_update().select_related("loan__merchant").get(pk=proposal.pk)
    if locked.loan.merchant.owner_id != getattr(by, "pk", None):
        raise PermissionDenied(_("Only the merchant's owner can decide on this proposal."))
    if locked.status not in RestructureProposal.SHOWN_TO_MERCHANT:
        # Never approved by a second officer: for the merchant it does not exist.
        raise RestructureConflict(_("There is no such proposal to decide."), code="not_found")
    if locked.status != P.PROPOSED:
        raise RestructureConflict(
            _("This proposal is already %(status)s.") % {"status": locked.get_status_display().lower()},
            code="proposal_decided",
        )
    return locked


def _stored_outstanding(proposal: RestructureProposal) -> CapitalisedBalance:
    # Proposals made before fees could be forgiven stored only what they capitalised, which was all of it.
    stored = proposal.terms.get("outstanding") or proposal.terms["capitalised"]
    return CapitalisedBalance(**{name: Decimal(stored[name]) for name in COMPONENTS})


def _check_current(proposal: RestructureProposal, instalments: list[Instalment], on: date) -> CapitalisedBalance:
    """Refuse a proposal gone stale: its first due date passed, or the balance it re-schedules changed (late fees
    charged since are the exception: accepting waives them). Returns the balance as of the proposal's start now."""
    terms = proposal.terms
    if on >= date.fromisoformat(terms["first_due_date"]):
        raise RestructureConflict(
            _("This proposal's first instalment date has passed; ask for a new proposal."), code="stale"
        )
    stored = _stored_outstanding(proposal)
    now = capitalised_balance(instalments=instalments, on=date.fromisoformat(terms["start_date"]))
    if any(getattr(now, name) != getattr(stored, name) for name in ("principal", "interest", "fee")) or (
        now.penalty < stored.penalty
    ):
        raise RestructureConflict(
            _("The loan's balance changed since this proposal was made; ask for a new proposal."), code="stale"
        )
    return now


def restructure_accept(*, proposal: RestructureProposal, by: User, on: date | None = None) -> RestructureProposal:
    """Replace the unpaid schedule with the proposed one, atomically with the loan locked."""
    on = on or timezone.localdate()
    with transaction.atomic():
        proposal = _locked_proposal(proposal, by)
        loan, instalments = _locked_loan(proposal.loan)
        _check_loan(loan)
        terms = proposal.terms
        now = _check_current(proposal, instalments, on)
        outstanding = _stored_outstanding(proposal)
        schedule = proposal.schedule
        balance = CapitalisedBalance(**{name: Decimal(terms["capitalised"][name]) for name in COMPONENTS})
        if sum((Decimal(line["principal"]) for line in schedule), ZERO) != balance.total:
            # The engine makes this true; checked again because it is the whole point of the exercise.
            raise RestructureConflict(_("The proposed schedule does not add up; ask for a new proposal."))
        old_schedule = schedule_rows(instalments)
        deferred = set(DeferralRequest.objects.filter(instalment__loan=loan).values_list("instalment_id", flat=True))
        kept: list[Instalment] = []
        dropped: list[int] = []
        for row in instalments:
            if not any(row.owed(name) for name in COMPONENTS):
                kept.append(row)
                continue
            paid = any(getattr(row, f"{name}_paid") for name in COMPONENTS)
            if not paid and row.pk not in deferred:
                dropped.append(row.pk)
                continue
            # What was paid stays where it was booked; what was owed moves into the new schedule.
            for name in COMPONENTS:
                setattr(row, f"{name}_due", getattr(row, f"{name}_paid"))
            row.status = Instalment.Status.PAID
            row.paid_on = row.paid_on or on
            row.save(update_fields=[*(f"{name}_due" for name in COMPONENTS), "status", "paid_on"])
            kept.append(row)
        Instalment.objects.filter(pk__in=dropped).delete()
        last_number = max((row.number for row in kept), default=0)
        Instalment.objects.bulk_create(
            Instalment(
                loan=loan,
                number=last_number + index,
                due_date=date.fromisoformat(line["due_date"]),
                principal_due=Decimal(line["principal"]),
                interest_due=Decimal(line["interest"]),
                fee_due=Decimal(line["fee"]),
            )
            for index, line in enumerate(schedule, start=1)
        )
        new_instalments = list(Instalment.objects.filter(loan=loan).order_by("number"))
        from_state = loan.state
        loan.maturity_date = new_instalments[-1].due_date
        if loan.state == L.OVERDUE:
            loan.cure()
            loan.days_past_due = 0
        loan.save()
        proposal.status = P.ACCEPTED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        audit_record(
            subject=loan,
            action="loan.restructure",
            by=by,
            from_state=from_state,
            to_state=loan.state,
            reason=proposal.reason,
            data={
                "proposal_id": proposal.pk,
                "capitalised": balance.as_dict(),
                "forgiven": terms.get("forgiven"),
                "late_fees_waived": f"{now.penalty - outstanding.penalty:.2f}",
                "old_schedule": old_schedule,
                "new_schedule": schedule_rows(new_instalments),
            },
        )
        audit_record(subject=proposal, action="restructure.accept", by=by, from_state=P.PROPOSED, to_state=P.ACCEPTED)
    return proposal


def restructure_decline(*, proposal: RestructureProposal, by: User) -> RestructureProposal:
    """The merchant keeps the current schedule."""
    with transaction.atomic():
        proposal = _locked_proposal(proposal, by)
        proposal.status = P.DECLINED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        audit_record(subject=proposal, action="restructure.decline", by=by, from_state=P.PROPOSED, to_state=P.DECLINED)
    return proposal


__all__ = [
    "PROPOSE_PERMISSION",
    "CapitalisedBalance",
    "RestructureConflict",
    "capitalised_balance",
    "restructure_accept",
    "restructure_approve",
    "restructure_decline",
    "restructure_grid",
    "restructure_propose",
    "restructure_reject",
]
