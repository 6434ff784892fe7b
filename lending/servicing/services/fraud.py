"""Marking a loan as fraud: the merchant took the money and ran, so the loan's loss is a fraud loss, not a credit one.

The flag changes nothing in how the loan is serviced (collections, write-off and recovery go on as for any loan); it
says why the money was lost, and the portfolio's figures report fraud losses apart
(``lending.servicing.selectors.portfolio.portfolio_loss_by_cause``). The risk firewall's fraud watch calls this from
its alerts; it is the one way the flag is set.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from lending.servicing.models import Loan, LoanState

MARK_FRAUD_PERMISSION = "lending.mark_loan_fraud"


def loan_mark_fraud(*, loan: Loan, by: Any, reason: str, data: dict | None = None) -> Loan:
    """Mark a paid-out loan as fraud, once, with who decided it and why.

    Invariants: only an officer holding ``lending.mark_loan_fraud``, never on a loan of a business they own; only a
    loan that was paid out; a loan is marked once (the first reason stands); one ``loan.mark_fraud`` audit row.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the loan is fraud; it is kept in the audit trail.")]})
    with transaction.atomic():
        locked = Loan.objects.select_for_update().select_related("merchant").get(pk=loan.pk)
        if not by.has_perm(MARK_FRAUD_PERMISSION):
            raise PermissionDenied(_("You do not have permission to mark a loan as fraud."))
        if locked.merchant.owner_id == by.pk:
            raise PermissionDenied(_("You cannot decide on a loan of a business you own."))
        if locked.state == LoanState.PENDING_DISBURSEMENT or locked.activated_at is None:
            raise StateConflict(
                _("Loan #%(id)s was never paid out: there is no money to have lost.") % {"id": locked.pk},
                code="not_paid_out",
            )
        if locked.fraud_marked_at is not None:
            raise StateConflict(_("Loan #%(id)s is already marked as fraud.") % {"id": locked.pk}, code="already_fraud")
        locked.fraud_marked_at = timezone.now()
        locked.fraud_marked_by = by
        locked.fraud_reason = reason
        locked.save(update_fields=["fraud_marked_at", "fraud_marked_by", "fraud_reason"])
        audit_record(
            subject=locked,
            action="loan.mark_fraud",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=reason,
            data=data or {},
        )
    return locked


__all__ = ["MARK_FRAUD_PERMISSION", "loan_mark_fraud"]
