"""Bank transfers: money a merchant sent to the lender's account, recorded by an officer from the bank statement.

An officer with ``lending.record_bank_transfer`` records the transfer with the bank's reference (one booking per
bank credit: the reference is unique), the amount and the day it arrived (never in the future, never before the
loan's last serviced day). Up to ``settings.BANK_TRANSFER_FOUR_EYES_AMOUNT`` it is booked at once; above it, it
waits for a second officer with ``lending.approve_bank_transfer``, who may not be the one who recorded it, and is
booked (a payment through the waterfall, source ``officer``) or rejected with a reason. One audit row each step.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from lending.servicing.models import BankTransfer, Loan, LoanState, PaymentSource
from lending.servicing.services.repayments import PAYABLE_STATES, checked_amount, checked_received_on, payment_record

if TYPE_CHECKING:
    from accounts.models import User

RECORD_PERMISSION = "lending.record_bank_transfer"
APPROVE_PERMISSION = "lending.approve_bank_transfer"
REFERENCE_MAX_LENGTH = BankTransfer._meta.get_field("bank_reference").max_length


def _checked_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip() or len(reference.strip()) > REFERENCE_MAX_LENGTH:
        raise ValidationError(
            {
                "bank_reference": [
                    _("Give the bank's reference for the transfer, 1 to %(max)d characters, as on the statement.")
                    % {"max": REFERENCE_MAX_LENGTH}
                ]
            }
        )
    return reference.strip()


def _checked_day(received_on: object) -> date:
    if not isinstance(received_on, date):
        raise ValidationError({"received_on": [_("Give the date the money arrived, as YYYY-MM-DD.")]})
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": [_("The money cannot have arrived after today.")]})
    return received_on


def bank_transfer_record(
    *, loan: Loan, amount: object, received_on: object, bank_reference: object, by: User, note: str = ""
) -> BankTransfer:
    """Record a merchant's bank transfer; booked now, or awaiting a second officer above the four-eyes amount."""
    if not by.has_perm(RECORD_PERMISSION):
        raise PermissionDenied(_("You may not record bank transfers."))
    try:
        value = checked_amount(amount)
    except ValidationError as exc:
        raise ValidationError({"amount": exc.message_dict["amount"]}) from None
    day = _checked_day(received_on)
    reference = _checked_reference(bank_reference)
    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        # A written-off loan takes money too: it is a recovery, allocated like any payment.
        if locked.state not in (*PAYABLE_STATES, LoanState.WRITTEN_OFF):
            raise StateConflict(
                _("Loan #%(id)s is %(state)s: it takes no payments.")
                % {"id": locked.pk, "state": locked.get_state_display()}
            )
        checked_received_on(locked, day)
        try:
            with transaction.atomic():
                transfer = BankTransfer.objects.create(
                    loan=locked, amount=value, received_on=day, bank_reference=reference, note=note, recorded_by=by
                )
        except IntegrityError:
            raise ValidationError(
                {
                    "bank_reference": [
                        _("The bank reference %(reference)s is already booked.") % {"reference": reference}
                    ]
                }
            ) from None
        audit_record(
            subject=transfer,
            action="bank_transfer.record",
            by=by,
            to_state=transfer.status,
            data={"loan_id": locked.pk, "amount": f"{value:.2f}", "received_on": day.isoformat()},
        )
        if value <= Decimal(settings.BANK_TRANSFER_FOUR_EYES_AMOUNT):
            _book(transfer, by=by)
    return transfer


def _locked_awaiting(transfer: BankTransfer, by: User) -> BankTransfer:
    if not by.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied(_("You may not approve bank transfers."))
    locked = BankTransfer.objects.select_for_update().get(pk=transfer.pk)
    if locked.status != BankTransfer.Status.AWAITING_APPROVAL:
        raise StateConflict(
            _("The transfer %(reference)s is already %(status)s.")
            % {"reference": locked.bank_reference, "status": locked.get_status_display()}
        )
    if locked.recorded_by_id == by.pk:
        raise PermissionDenied(_("A second officer must approve: you recorded this transfer."))
    return locked


def bank_transfer_approve(*, transfer: BankTransfer, by: User, note: str = "") -> BankTransfer:
    with transaction.atomic():
        locked = _locked_awaiting(transfer, by)
        _book(locked, by=by, note=note)
    return locked


def bank_transfer_reject(*, transfer: BankTransfer, by: User, reason: str) -> BankTransfer:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": [_("Say why the transfer is rejected.")]})
    with transaction.atomic():
        locked = _locked_awaiting(transfer, by)
        locked.reject()
        locked.decided_by = by
        locked.rejection_reason = reason.strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
        audit_record(
            subject=locked,
            action="bank_transfer.reject",
            by=by,
            from_state=BankTransfer.Status.AWAITING_APPROVAL,
            to_state=locked.status,
            reason=locked.rejection_reason,
        )
    return locked


def _book(transfer: BankTransfer, *, by: User, note: str = "") -> None:
    transfer.payment = payment_record(
        loan=transfer.loan,
        amount=transfer.amount,
        received_on=transfer.received_on,
        source=PaymentSource.OFFICER,
        external_reference=transfer.bank_reference,
        by=by,
    )
    transfer.book()
    transfer.decided_by = by if by.pk != transfer.recorded_by_id else None
    transfer.save(update_fields=["status", "payment", "decided_by", "decided_at"])
    audit_record(
        subject=transfer,
        action="bank_transfer.book",
        by=by,
        reason=note,
        from_state=BankTransfer.Status.AWAITING_APPROVAL,
        to_state=transfer.status,
        data={"payment_id": transfer.payment_id, "second_officer": transfer.decided_by_id},
    )


__all__ = [
    "APPROVE_PERMISSION",
    "RECORD_PERMISSION",
    "bank_transfer_approve",
    "bank_transfer_record",
    "bank_transfer_reject",
]
