"""Reading paid-out loans for the fraud watch after payout: which loans are watched, and when and where each was paid.

A loan is watched from its payout while it is on the book (active, overdue or defaulted): the money is out and not
yet back. The risk firewall's daily job reads these facts and compares each merchant's behaviour since the payout
with its own before it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from lending.servicing.models import Disbursement, Loan, LoanState

WATCHED_STATES = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)


@dataclass(frozen=True)
class PaidOutLoan:
    loan_id: int
    merchant_id: int
    principal: Decimal
    paid_out_at: datetime.datetime
    # The account the money went to (the disbursement's, as the merchant's settlement account was at the payout).
    payout_account_number: str
    fraud_marked: bool

    @property
    def paid_out_on(self) -> datetime.date:
        return timezone.localdate(self.paid_out_at)


def loans_watched_after_payout(*, paid_out_before: datetime.datetime) -> list[PaidOutLoan]:
    """Loans on the book that were paid out before ``paid_out_before``, oldest payout first, in one query."""
    rows = (
        Loan.objects.filter(
            state__in=WATCHED_STATES,
            activated_at__isnull=False,
            activated_at__lt=paid_out_before,
            disbursement__status=Disbursement.Status.SUCCEEDED,
        )
        .order_by("activated_at", "pk")
        .values_list(
            "pk", "merchant_id", "principal", "activated_at", "disbursement__account_number", "fraud_marked_at"
        )
    )
    return [
        PaidOutLoan(
            loan_id=pk,
            merchant_id=merchant_id,
            principal=principal,
            paid_out_at=activated_at,
            payout_account_number=account,
            fraud_marked=fraud_marked_at is not None,
        )
        for pk, merchant_id, principal, activated_at, account, fraud_marked_at in rows
    ]


__all__ = ["WATCHED_STATES", "PaidOutLoan", "loans_watched_after_payout"]
