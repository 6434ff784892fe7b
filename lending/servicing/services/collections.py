"""Flexible repayment (deferring one instalment), the collections contact history, write-off and recovery.

The deferral rule is the product's, as signed: the loan's terms carry ``terms["deferral"] = {"max_days": ..,
"per_loan": ..}`` from the product's ``deferral_max_days`` and ``deferrals_per_loan`` when the offer was made (loans
signed before products had them fall back to ``DEFERRAL_MAX_DAYS`` and ``DEFERRALS_PER_LOAN``: 30 days, one per loan):

- The merchant's owner asks to move ONE instalment of an active (not overdue) instalment loan that is unpaid
  (due or partly paid) and not yet overdue (due today or later) to a later date: at least one day later, at most
  ``max_days`` later, and before the next instalment's due date, so the schedule keeps its order.
- At most ``per_loan`` deferrals are approved per loan, ever (none when the terms say 0); and one request is open
  at a time per loan.
- An officer with ``lending.decide_deferral`` approves (the instalment's due date moves; its interest, fee and
  principal stay exactly as signed: the merchant pays no interest for the extra days) or refuses with a note.
  The instalment must still be unpaid and not overdue when the officer approves.

Invariants: every decision locks the request, then the loan, then the instalment; writes one audit row on the
loan and one on the request; and tells the merchant. No state field is changed outside these functions.

Write-off is maker-checker (``lending.servicing.services.concessions``): an officer with ``lending.change_loan``
asks (``loan_write_off_request``), and only a second officer approves (``loan_write_off_approve``), booking on the
loan the principal, interest, fees and late fees outstanding at that moment (``write_off_amounts``), or rejects it
with a reason. Money collected afterwards is a recovery: a bank transfer booked through the waterfall
(``loan_recovery_record``, four eyes above the bank-transfer amount); the loan stays written off until everything
written off is paid, then it is recovered. A defaulted loan is never
marked recovered without the money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.exceptions import StateConflict
from core.money import FEN
from core.services.audit import audit_record
from core.services.notices import notify
from lending.catalogue.models import RepaymentMethodChoice
from lending.servicing.models import (
    CollectionContact,
    Concession,
    DeferralRequest,
    Instalment,
    Loan,
    LoanState,
    Payment,
    Reminder,
)
from lending.servicing.selectors.loans import schedule_rows
from lending.servicing.services.bank_transfers import bank_transfer_record
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
DR = DeferralRequest.Status
DEFERRAL_MAX_DAYS = 30
DEFERRALS_PER_LOAN = 1
DECIDE_DEFERRAL_PERMISSION = "lending.decide_deferral"
CONTACT_PERMISSION = "lending.add_collectioncontact"
CLOSE_PERMISSION = "lending.change_loan"
REASON_MAX_LENGTH = 2000
DEFERRABLE_STATUSES = (Instalment.Status.DUE, Instalment.Status.PARTLY_PAID)


class DeferralConflict(StateConflict):
    """The loan, instalment or request is not in a state that allows this step (HTTP 409)."""


class CollectionsConflict(StateConflict):
    """A write-off asked of a loan that is not defaulted, a recovery of one not written off (HTTP 409)."""


# The deferral rule.


@dataclass(frozen=True)
class DeferralWindow:
    """The new due dates an instalment may move to: ``earliest`` to ``latest``, both included."""

    earliest: date
    latest: date


@dataclass(frozen=True)
class DeferralRule:
    """What the loan's signed terms allow: each deferral ``max_days`` long at most, ``per_loan`` of them."""

    max_days: int
    per_loan: int


def deferral_rule(*, loan: Loan) -> DeferralRule:
    rule = (loan.terms or {}).get("deferral") or {}
    return DeferralRule(
        max_days=int(rule.get("max_days", DEFERRAL_MAX_DAYS)), per_loan=int(rule.get("per_loan", DEFERRALS_PER_LOAN))
    )


def _deferrals_used(per_loan: int) -> str:
    return ngettext(
        "This loan has already had its one deferral.",
        "This loan has already had all %(count)d of its deferrals.",
        per_loan,
    ) % {"count": per_loan}


def deferral_window(*, instalment: Instalment) -> DeferralWindow:
    """From the day after the due date to ``max_days`` later, and before the next instalment's due date."""
    max_days = deferral_rule(loan=instalment.loan).max_days
    next_due_date = _next_due_date(instalment)
    latest = instalment.due_date + timedelta(days=max_days)
    if next_due_date is not None:
        latest = min(latest, next_due_date - timedelta(days=1))
    return DeferralWindow(earliest=instalment.due_date + timedelta(days=1), latest=latest)


def _next_due_date(instalment: Instalment) -> date | None:
    return (
        Instalment.objects.filter(loan_id=instalment.loan_id, number__gt=instalment.number)
        .order_by("number")
        .values_list("due_date", flat=True)
        .first()
    )


def deferral_refusal(*, loan: Loan, instalment: Instalment, on: date) -> str | None:
    """Why this instalment cannot be deferred on ``on`` (a sentence for the merchant), or None when it can."""
    per_loan = deferral_rule(loan=loan).per_loan
    if loan.repayment_method == RepaymentMethodChoice.SALES_SHARE:
        return _("A sales-share advance is repaid from your sales; its windows cannot be deferred.")
    if loan.state != L.ACTIVE:
        return _("Only a loan that is up to date can defer an instalment; loan #%(id)s is %(state)s.") % {
            "id": loan.pk,
            "state": loan.get_state_display(),
        }
    if instalment.status not in DEFERRABLE_STATUSES or instalment.due_date < on:
        return _("Instalment %(number)s is paid or already overdue: it cannot be deferred.") % {
            "number": instalment.number
        }
    if per_loan <= 0:
        return _("This loan's terms offer no deferral.")
    approved = DeferralRequest.objects.filter(loan=loan, status=DR.APPROVED).count()
    if approved >= per_loan:
        return _deferrals_used(per_loan)
    if DeferralRequest.objects.filter(loan=loan, status=DR.PENDING).exists():
        return _("A deferral request on this loan is already waiting for an officer.")
    return None


def instalments_deferrable(*, loan: Loan, on: date) -> set[int]:
    """The numbers of the loan's instalments the merchant may ask to defer on ``on`` (for the loan page's links).

    Three queries whatever the schedule's length: the loan-wide conditions are checked once, on the first line.
    """
    instalments = [row for row in loan.instalments.all() if row.status in DEFERRABLE_STATUSES and row.due_date >= on]
    if not instalments or deferral_refusal(loan=loan, instalment=instalments[0], on=on) is not None:
        return set()
    return {row.number for row in instalments}


def _checked_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [_("Say why you need more time: 1 to %(max)d characters.") % {"max": REASON_MAX_LENGTH}]}
        )
    return text


def _loan_url(loan: Loan) -> str:
    return reverse("lending:loan-detail", args=[loan.pk])


# Requests and decisions.


def deferral_request(
    *, loan: Loan, instalment: Instalment, new_due_date: date, reason: str, by: User
) -> DeferralRequest:
    """The merchant's owner asks to move ``instalment`` to ``new_due_date``; an officer decides.

    Only the owner of the loan's merchant may ask (anyone else: ``PermissionDenied``). The new date must lie in
    ``deferral_window`` (a field error on ``new_due_date`` names the allowed range); the loan and the instalment
    must allow a deferral (``DeferralConflict`` says why).
    """
    reason = _checked_reason(reason)
    if not isinstance(new_due_date, date):
        raise ValidationError({"new_due_date": [_("Give the new due date as YYYY-MM-DD.")]})
    with transaction.atomic():
        locked = Loan.objects.select_for_update().select_related("merchant").get(pk=loan.pk)
        if by is None or locked.merchant.owner_id != getattr(by, "pk", None):
            raise PermissionDenied(_("Only the merchant's owner can ask to defer an instalment."))
        row = Instalment.objects.select_for_update().filter(loan=locked, pk=instalment.pk).first()
        if row is None:
            raise ValidationError(
                {"instalment": [_("This instalment is not part of loan #%(id)s.") % {"id": locked.pk}]}
            )
        refusal = deferral_refusal(loan=locked, instalment=row, on=timezone.localdate())
        if refusal:
            raise DeferralConflict(refusal, code="deferral_not_allowed")
        window = deferral_window(instalment=row)
        if not window.earliest <= new_due_date <= window.latest:
            raise ValidationError(
                {
                    "new_due_date": [
                        _("Choose a new due date from %(earliest)s to %(latest)s.")
                        % {"earliest": window.earliest.isoformat(), "latest": window.latest.isoformat()}
                    ]
                }
            )
        try:
            with transaction.atomic():
                request = DeferralRequest.objects.create(
                    loan=locked, instalment=row, requested_due_date=new_due_date, reason=reason, requested_by=by
                )
        except IntegrityError:
            # The loan lock makes this unreachable between two requests; the constraint is the backstop.
            raise DeferralConflict(
                _("A deferral request on this instalment is already waiting for an officer."), code="deferral_pending"
            ) from None
        data = {
            "deferral_request_id": request.pk,
            "instalment": row.number,
            "due_date": row.due_date.isoformat(),
            "requested_due_date": new_due_date.isoformat(),
        }
        audit_record(subject=locked, action="deferral.request", by=by, reason=reason, data=data)
        audit_record(subject=request, action="deferral.request", by=by, to_state=DR.PENDING, reason=reason, data=data)
    return request


def _locked_request(request: DeferralRequest) -> tuple[DeferralRequest, Loan, Instalment]:
    locked = DeferralRequest.objects.select_for_update().get(pk=request.pk)
    loan = Loan.objects.select_for_update().select_related("merchant").get(pk=locked.loan_id)
    instalment = Instalment.objects.select_for_update().get(pk=locked.instalment_id)
    return locked, loan, instalment


def _decide_checks(request: DeferralRequest, by: User) -> None:
    if by is None or not by.has_perm(DECIDE_DEFERRAL_PERMISSION):
        raise PermissionDenied(_("You need the permission to decide deferral requests."))
    if request.status != DR.PENDING:
        raise DeferralConflict(
            _("This request was already decided: %(status)s.") % {"status": request.get_status_display()},
            code="already_decided",
        )


def deferral_approve(*, request: DeferralRequest, by: User, note: str = "") -> DeferralRequest:
    """Move the instalment's due date to the date asked for; its amounts (interest included) stay as signed.

    Refused (``DeferralConflict``) when the request is decided already, the loan has had its deferral, or the
    instalment is no longer deferrable (paid, overdue, the loan fell into arrears since the request).
    """
    with transaction.atomic():
        locked, loan, instalment = _locked_request(request)
        _decide_checks(locked, by)
        per_loan = deferral_rule(loan=loan).per_loan
        if DeferralRequest.objects.filter(loan=loan, status=DR.APPROVED).count() >= per_loan:
            raise DeferralConflict(_deferrals_used(per_loan), code="deferral_used")
        if (
            loan.state != L.ACTIVE
            or instalment.status not in DEFERRABLE_STATUSES
            or instalment.due_date < timezone.localdate()
        ):
            raise DeferralConflict(
                _("Instalment %(number)s can no longer be deferred (paid, overdue, or the loan is %(state)s).")
                % {"number": instalment.number, "state": loan.get_state_display()},
                code="deferral_not_allowed",
            )
        old_due_date = instalment.due_date
        instalment.due_date = locked.requested_due_date
        instalment.save(update_fields=["due_date"])
        # The "due soon" and "due today" reminders were about the old date: let the daily job send them again
        # for the new one (each kind is sent once per instalment).
        Reminder.objects.filter(
            instalment=instalment, kind__in=[Reminder.Kind.DUE_SOON, Reminder.Kind.DUE_TODAY]
        ).delete()
        if instalment.due_date > loan.maturity_date:
            # The last instalment moved: the loan now ends on its new date.
            loan.maturity_date = instalment.due_date
            loan.save(update_fields=["maturity_date"])
        locked.status = DR.APPROVED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = (note or "").strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        data = {
            "deferral_request_id": locked.pk,
            "instalment": instalment.number,
            "from_due_date": old_due_date.isoformat(),
            "to_due_date": instalment.due_date.isoformat(),
        }
        audit_record(subject=loan, action="deferral.approve", by=by, reason=locked.decision_note, data=data)
        audit_record(
            subject=locked,
            action="deferral.approve",
            by=by,
            from_state=DR.PENDING,
            to_state=DR.APPROVED,
            reason=locked.decision_note,
            data=data,
        )
        notify(
            user_id=loan.merchant.owner_id,
            title=_("Instalment %(number)s of loan #%(id)s is now due on %(date)s")
            % {"number": instalment.number, "id": loan.pk, "date": instalment.due_date.isoformat()},
            body=_(
                "Your request to defer instalment %(number)s was approved: it moves from %(old)s to %(new)s. "
                "The amount due, %(amount)s yuan, does not change."
            )
            % {
                "number": instalment.number,
                "old": old_due_date.isoformat(),
                "new": instalment.due_date.isoformat(),
                "amount": instalment.payment_due,
            },
            url=_loan_url(loan),
        )
    return locked


def deferral_refuse(*, request: DeferralRequest, by: User, note: str) -> DeferralRequest:
    """Refuse the request; the officer's note (required) is what the merchant is told."""
    note = (note or "").strip() if isinstance(note, str) else ""
    if not note:
        raise ValidationError({"note": [_("Say why the request is refused: the merchant is told.")]})
    with transaction.atomic():
        locked, loan, instalment = _locked_request(request)
        _decide_checks(locked, by)
        locked.status = DR.REFUSED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        data = {"deferral_request_id": locked.pk, "instalment": instalment.number}
        audit_record(subject=loan, action="deferral.refuse", by=by, reason=note, data=data)
        audit_record(
            subject=locked, action="deferral.refuse", by=by, from_state=DR.PENDING, to_state=DR.REFUSED, reason=note
        )
        notify(
            user_id=loan.merchant.owner_id,
            title=_("Your request to defer instalment %(number)s was refused") % {"number": instalment.number},
            body=_("Instalment %(number)s stays due on %(date)s. The officer's note: %(note)s")
            % {"number": instalment.number, "date": instalment.due_date.isoformat(), "note": note},
            url=_loan_url(loan),
        )
    return locked


# Collections.


def collection_contact_record(
    *,
    loan: Loan,
    by: User,
    channel: str,
    outcome: str,
    promised_amount: Decimal | None = None,
    promised_on: date | None = None,
    note: str = "",
) -> CollectionContact:
    """Record one contact with the merchant about a loan in arrears (audited on the loan).

    A promise to pay needs the amount and the date promised; other outcomes carry neither.
    """
    if by is None or not by.has_perm(CONTACT_PERMISSION):
        raise PermissionDenied(_("You need the permission to record collections contacts."))
    errors: dict[str, list[str]] = {}
    if channel not in CollectionContact.Channel.values:
        errors["channel"] = [
            _("Choose a channel: %(choices)s.") % {"choices": ", ".join(CollectionContact.Channel.values)}
        ]
    if outcome not in CollectionContact.Outcome.values:
        errors["outcome"] = [
            _("Choose an outcome: %(choices)s.") % {"choices": ", ".join(CollectionContact.Outcome.values)}
        ]
    promise = outcome == CollectionContact.Outcome.PROMISE_TO_PAY
    if promise:
        if (
            not isinstance(promised_amount, Decimal)
            or promised_amount <= 0
            or promised_amount != promised_amount.quantize(FEN)
        ):
            errors["promised_amount"] = [_("A promise to pay needs the amount promised: above 0.00, in yuan and fen.")]
        if not isinstance(promised_on, date):
            errors["promised_on"] = [_("A promise to pay needs the date promised, as YYYY-MM-DD.")]
        elif promised_on < timezone.localdate():
            errors["promised_on"] = [_("The date promised is today or later.")]
    elif promised_amount is not None or promised_on is not None:
        errors["outcome"] = [_("Only a promise to pay has an amount and a date promised.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        contact = CollectionContact.objects.create(
            loan=locked,
            channel=channel,
            outcome=outcome,
            promised_amount=promised_amount if promise else None,
            promised_on=promised_on if promise else None,
            note=(note or "").strip(),
            contacted_by=by,
        )
        audit_record(
            subject=locked,
            action="collections.contact",
            by=by,
            reason=contact.note,
            data={
                "contact_id": contact.pk,
                "channel": channel,
                "outcome": outcome,
                "promised_amount": f"{promised_amount:.2f}" if promise else None,
                "promised_on": promised_on.isoformat() if promise else None,
                "days_past_due": locked.days_past_due,
            },
        )
    return contact


# Write-off and recovery.


@dataclass(frozen=True)
class WriteOffAmounts:
    """What a write-off takes off the book, by component."""

    principal: Decimal
    interest: Decimal
    fees: Decimal
    penalties: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties

    def as_dict(self) -> dict[str, str]:
        return {
            **{name: f"{getattr(self, name):.2f}" for name in WRITE_OFF_COMPONENTS},
            "total": f"{self.total:.2f}",
        }


WRITE_OFF_COMPONENTS = ("principal", "interest", "fees", "penalties")


def _fees_earned_whatever_the_time(loan: Loan) -> bool:
    # A sales-share advance's fee is fixed, however long it takes: all of it is owed, as in its payoff quote.
    return loan.repayment_method == RepaymentMethodChoice.SALES_SHARE


def write_off_amounts(*, loan: Loan, instalments: list[Instalment], on: date) -> WriteOffAmounts:
    """What is outstanding on ``on``, as a write-off books it: all unpaid principal; the unpaid interest and fees of
    the lines due on or before ``on``; every unpaid late fee.

    Interest and fees of lines not yet due are the price of time the money was not used, never earned, so they are
    not written off (the write-off drops them from the schedule: ``_call_in``). A defaulted loan accrues no late
    fees, and a written-off one is no longer serviced, so these figures do not move until money comes in.
    """
    due = [row for row in instalments if row.due_date <= on]
    fee_rows = instalments if _fees_earned_whatever_the_time(loan) else due
    return WriteOffAmounts(
        principal=sum((row.owed("principal") for row in instalments), Decimal("0.00")),
        interest=sum((row.owed("interest") for row in due), Decimal("0.00")),
        fees=sum((row.owed("fee") for row in fee_rows), Decimal("0.00")),
        penalties=sum((row.owed("penalty") for row in instalments), Decimal("0.00")),
    )


def _call_in(*, loan: Loan, instalments: list[Instalment], on: date) -> None:
    """Make every unpaid line due on ``on`` (the balance is called in), without the interest and fees of the lines
    that were not yet due: what the merchant still owes is then exactly what was written off, and a recovery pays it
    through the waterfall oldest line first, never held as credit while anything written off is unpaid.

    Unpaid lines are marked overdue: the daily jobs no longer visit a written-off loan.
    """
    for row in instalments:
        if not row.owed():
            continue
        if row.due_date > on:
            row.interest_due = row.interest_paid
            if not _fees_earned_whatever_the_time(loan):
                row.fee_due = row.fee_paid
            row.due_date = on
        row.status = Instalment.Status.OVERDUE
        row.save(update_fields=["interest_due", "fee_due", "due_date", "status"])
    loan.maturity_date = min(loan.maturity_date, on)


def _checked_close_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [_("Give the reason: it is kept in the loan's audit trail.")]})
    return text


def _locked_loan(pk: int) -> tuple[Loan, list[Instalment]]:
    locked = Loan.objects.select_for_update().select_related("merchant").get(pk=pk)
    instalments = list(Instalment.objects.select_for_update().filter(loan=locked).order_by("number"))
    return locked, instalments


def _require_defaulted(loan: Loan) -> None:
    if loan.state != L.DEFAULTED:
        raise CollectionsConflict(
            _("Loan #%(id)s is %(state)s: only a defaulted loan is written off.")
            % {"id": loan.pk, "state": loan.get_state_display()}
        )


def loan_write_off_request(*, loan: Loan, by: User, reason: str) -> Concession:
    """Ask for a defaulted loan to be written off; it is, only when a second officer approves
    (``loan_write_off_approve``). Needs ``lending.change_loan``.

    The request shows the checker the amounts outstanding today (``write_off_amounts``); the loan does not change.
    Refused (``CollectionsConflict``) when the loan is not defaulted, owes nothing, or holds credit not yet spent
    (money is coming in: that loan is not for writing off), or when a write-off is already waiting for it.
    """
    reason = _checked_close_reason(reason)
    if by is None or not by.has_perm(CLOSE_PERMISSION):
        raise PermissionDenied(_("You need the permission to change loans."))
    with transaction.atomic():
        locked, instalments = _locked_loan(loan.pk)
        if locked.merchant.owner_id == by.pk:
            raise PermissionDenied(_("Nobody can write off a loan to their own business."))
        _require_defaulted(locked)
        if locked.credit_balance > 0:
            raise CollectionsConflict(
                _("Loan #%(id)s holds %(credit)s yuan not yet spent on its instalments: it is not written off.")
                % {"id": locked.pk, "credit": locked.credit_balance},
                code="credit_held",
            )
        on = timezone.localdate()
        amounts = write_off_amounts(loan=locked, instalments=instalments, on=on)
        if amounts.total <= 0:
            raise CollectionsConflict(_("Nothing is outstanding on this loan."), code="nothing_owed")
        concession = concession_create(
            kind=Concession.Kind.WRITE_OFF,
            loan=locked,
            by=by,
            reason=reason,
            terms={"on": on.isoformat(), "amounts": amounts.as_dict(), "days_past_due": locked.days_past_due},
        )
        audit_record(
            subject=locked,
            action="loan.write_off_request",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=reason,
            data={"concession_id": concession.pk, "amounts": amounts.as_dict()},
        )
        concession_checkers_notify(
            concession=concession,
            title=_("A write-off awaits your second approval"),
            body=_("%(maker)s asks to write off loan #%(id)s of %(merchant)s: %(total)s yuan outstanding.")
            % {"maker": by, "id": locked.pk, "merchant": locked.merchant, "total": amounts.total},
        )
    return concession


def loan_write_off_approve(*, concession: Concession, by: User) -> Loan:
    """Second approval of a write-off: defaulted -> written off, booking what is outstanding now, by component.

    Only an officer with ``lending.second_approve_concession`` other than the one who asked (``PermissionDenied``).
    The amounts must be those the checker was shown: a payment since the request makes it stale
    (``CollectionsConflict``; reject it and ask again). The unpaid schedule is called in (``_call_in``), so what the
    merchant still owes is exactly what was written off. One audit row, on the loan.
    """
    with transaction.atomic():
        concession = concession_locked(concession)
        if concession.kind != Concession.Kind.WRITE_OFF:
            raise CollectionsConflict(_("This concession is not a write-off."))
        locked, instalments = _locked_loan(concession.loan_id)
        concession_checker_check(concession=concession, by=by, merchant_owner_id=locked.merchant.owner_id)
        _require_defaulted(locked)
        on = timezone.localdate()
        amounts = write_off_amounts(loan=locked, instalments=instalments, on=on)
        if amounts.as_dict() != concession.terms.get("amounts") or locked.credit_balance > 0:
            raise CollectionsConflict(
                _(
                    "What is outstanding on loan #%(id)s changed since the write-off was asked for (%(asked)s yuan "
                    "then, %(now)s yuan now): reject this one and ask again."
                )
                % {"id": locked.pk, "asked": concession.terms.get("amounts", {}).get("total"), "now": amounts.total},
                code="stale",
            )
        old_schedule = schedule_rows(instalments)
        _call_in(loan=locked, instalments=instalments, on=on)
        from_state = locked.state
        locked.write_off(
            principal=amounts.principal,
            interest=amounts.interest,
            fees=amounts.fees,
            penalties=amounts.penalties,
        )
        locked.save()
        concession.approve(by=by)
        concession.save()
        audit_record(
            subject=locked,
            action="loan.write_off",
            by=by,
            from_state=from_state,
            to_state=locked.state,
            reason=concession.reason,
            data={
                **concession_audit_data(concession),
                "amounts": amounts.as_dict(),
                "old_schedule": old_schedule,
                "new_schedule": schedule_rows(instalments),
            },
        )
        concession_maker_notify(concession=concession)
    return locked


def loan_write_off_reject(*, concession: Concession, by: User, reason: str) -> Concession:
    """The second officer refuses the write-off, saying why; the loan stays defaulted and unchanged."""
    reason = concession_reason_checked(reason, message=_("Say why the write-off is rejected: the officer is told."))
    with transaction.atomic():
        concession = concession_locked(concession)
        if concession.kind != Concession.Kind.WRITE_OFF:
            raise CollectionsConflict(_("This concession is not a write-off."))
        locked = Loan.objects.select_for_update().select_related("merchant").get(pk=concession.loan_id)
        concession_checker_check(concession=concession, by=by, merchant_owner_id=locked.merchant.owner_id)
        concession.reject(by=by, note=reason)
        concession.save()
        audit_record(
            subject=locked,
            action="loan.write_off_reject",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=reason,
            data={**concession_audit_data(concession), "amounts": concession.terms.get("amounts")},
        )
        concession_maker_notify(concession=concession)
    return concession


def loan_recovery_record(
    *, loan: Loan, by: User, amount: Decimal, received_on: date, external_reference: str
) -> Payment | None:
    """Money collected on a written-off loan: a bank transfer recorded with its reference (``bank_transfer_record``:
    booked through the waterfall at once up to the four-eyes amount, above it once a second officer approves, when
    this returns None), booked as recorded by the officer.

    The loan stays written off while anything written off is unpaid: the book took the loss, and what comes in is a
    recovery against it (``lending.servicing.selectors.portfolio``). When the last line is paid the loan is
    recovered. Needs ``lending.change_loan``; the date received is on or after the write-off, and not ahead.
    """
    if by is None or not by.has_perm(CLOSE_PERMISSION):
        raise PermissionDenied(_("You need the permission to change loans."))
    if not isinstance(received_on, date):
        raise ValidationError({"received_on": [_("Give the date the money was received, as YYYY-MM-DD.")]})
    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        if locked.written_off_at is None:
            raise CollectionsConflict(
                _("Loan #%(id)s was not written off: money for it is recorded as an ordinary payment.")
                % {"id": locked.pk},
                code="not_written_off",
            )
        written_off_on = timezone.localdate(locked.written_off_at)
        if not written_off_on <= received_on <= timezone.localdate():
            raise ValidationError(
                {
                    "received_on": [
                        _("A recovery is received from the write-off, %(date)s, to today.")
                        % {"date": written_off_on.isoformat()}
                    ]
                }
            )
        try:
            transfer = bank_transfer_record(
                loan=locked, amount=amount, received_on=received_on, bank_reference=external_reference, by=by
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                raise
            # The reference is this service's ``external_reference``: the refusal names the field the caller sent.
            renamed = {("external_reference" if k == "bank_reference" else k): v for k, v in error.message_dict.items()}
            raise ValidationError(renamed) from None
    return transfer.payment


__all__ = [
    "DEFERRALS_PER_LOAN",
    "DEFERRAL_MAX_DAYS",
    "CollectionsConflict",
    "DeferralConflict",
    "DeferralRule",
    "DeferralWindow",
    "WriteOffAmounts",
    "collection_contact_record",
    "deferral_approve",
    "deferral_refusal",
    "deferral_refuse",
    "deferral_request",
    "deferral_rule",
    "deferral_window",
    "instalments_deferrable",
    "loan_recovery_record",
    "loan_write_off_approve",
    "loan_write_off_reject",
    "loan_write_off_request",
    "write_off_amounts",
]
