"""A sales-share advance's fee by the contract's rule: it accrues every day at the daily fee rate on the principal
outstanding, rounded down to the fen, never above the maximum fee (``lending.catalogue.money.sales_share``).

Shared by the nightly sweep (``daily.sales_share_fees_book`` books it for every advance) and by payments and payoffs
on a day the sweep has not booked (``repayments``), so both collect the same fee.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from lending.catalogue.money.sales_share import fee_to_date, maximum_fee, principal_days
from lending.catalogue.services.products import sales_share_daily_fee_rate
from lending.servicing.models import Allocation, Instalment, Loan

ZERO = Decimal("0.00")
I = Instalment.Status  # noqa: E741 - the house's short alias for a choices class


def sales_share_fee_owed(*, loan: Loan, instalments: list[Instalment], on: date) -> Decimal:
    """The fee a sales-share advance owes on ``on`` by its contract, less the fee paid: for a payoff quote on ``on``.

    ``instalments`` are the loan's, in number order. The same rule and figures as ``daily.sales_share_fees_book``, to
    ``on`` (a payment received on ``on`` still owes that day's fee); a read, it changes nothing.
    """
    earned = sales_share_fee_earned(
        instalments=instalments,
        start_date=loan.start_date,
        fee_factor=(loan.terms or {}).get("price") or loan.price,
        fee_days=((loan.terms or {}).get("sales_share") or {}).get("fee_days"),
        repaid=principal_repaid(loan_ids=[loan.pk], before=on).get(loan.pk, []),
        on=on,
    )
    return max(earned - sum((row.fee_paid for row in instalments), ZERO), ZERO)


def sales_share_fee_book_loan(*, loan: Loan, instalments: list[Instalment], on: date) -> list[Instalment]:
    """Book on one sales-share advance's ``instalments`` (locked by the caller, in number order) the fee owed on
    ``on``, as ``daily.sales_share_fees_book`` does for the day, and save the rows it changes; returns them.

    For a payment or a payoff received on ``on`` on a day the sweep has not booked (the day of the payout, when the
    lines still carry the quote's projected fee, or a date after the last sweep): the waterfall then collects no more
    than the fee owed on ``on`` and the principal.
    """
    owed = sales_share_fee_owed(loan=loan, instalments=instalments, on=on)
    rows = sales_share_fee_lines(instalments, earned=sum((row.fee_paid for row in instalments), ZERO) + owed, on=on)
    for row in rows:
        row.save(update_fields=["fee_due", "status", "paid_on"])
    return rows


def principal_repaid(*, loan_ids: list[int], before: date) -> dict[int, list[tuple[date, Decimal]]]:
    """Per loan, the principal repaid by the payments received before ``before``, by the day they were received."""
    repaid: dict[int, list[tuple[date, Decimal]]] = {}
    for loan_id, received_on, amount in (
        Allocation.objects.filter(
            payment__loan_id__in=loan_ids, component=Allocation.Component.PRINCIPAL, payment__received_on__lt=before
        )
        .values_list("payment__loan_id", "payment__received_on")
        .annotate(amount=Sum("amount"))
        .values_list("payment__loan_id", "payment__received_on", "amount")
    ):
        repaid.setdefault(loan_id, []).append((received_on, amount))
    return repaid


def sales_share_fee_earned(
    *,
    instalments: list[Instalment],
    start_date: date,
    fee_factor: object,
    fee_days: object,
    repaid: list[tuple[date, Decimal]],
    on: date,
) -> Decimal:
    """The fee earned by ``on`` under the contract's rule (see ``daily.sales_share_fees_book``).

    ``fee_factor`` is the terms' price (the one signed, an officer's counter-offer included); the principal is what
    the lines repay, which sums exactly to the loan's.
    """
    factor = Decimal(str(fee_factor))
    principal = sum((row.principal_due for row in instalments), ZERO)
    rate = sales_share_daily_fee_rate(fee_factor=factor, fee_days=int(fee_days) if fee_days else None)
    return fee_to_date(
        principal_days=principal_days(principal=principal, start_date=start_date, on=on, repaid=repaid),
        daily_fee_rate=rate,
        maximum=maximum_fee(principal, factor),
    )


def sales_share_fee_lines(instalments: list[Instalment], *, earned: Decimal, on: date) -> list[Instalment]:
    """Put ``earned`` (the fee to date) on the lines as ``daily.sales_share_fees_book`` says; returns rows changed."""
    if not instalments:
        return []
    paid = sum((row.fee_paid for row in instalments), ZERO)
    owed = max(earned - paid, ZERO)
    current = next((row for row in instalments if row.owed("principal") > 0), instalments[-1])
    changed = []
    for row in instalments:
        fee_due = row.fee_paid + (owed if row is current else ZERO)
        if fee_due == row.fee_due:
            continue
        row.fee_due = fee_due
        if not row.owed():
            row.status, row.paid_on = I.PAID, row.paid_on or on
        elif row.status == I.PAID:
            row.status, row.paid_on = I.PARTLY_PAID, None
        changed.append(row)
    return changed


__all__ = [
    "principal_repaid",
    "sales_share_fee_book_loan",
    "sales_share_fee_earned",
    "sales_share_fee_lines",
    "sales_share_fee_owed",
]
