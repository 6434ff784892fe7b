"""Reading loans: a merchant's own, one with its schedule and its payout, the merchants in default, and what
scorecard training learns from."""

from collections.abc import Iterable

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from lending.servicing.models import Disbursement, Instalment, Loan, LoanState
from underwriting.services.training import LoanOutcome


def loans_list(*, user) -> QuerySet[Loan]:
    """The loans of the merchant ``user`` owns, newest first; nothing for anyone else."""
    if not getattr(user, "is_authenticated", False):
        return Loan.objects.none()
    first_due = Instalment.objects.filter(loan=OuterRef("pk")).order_by("number").values("due_date")[:1]
    return (
        Loan.objects.filter(merchant__owner=user)
        .select_related("product", "disbursement")
        .annotate(first_due_date=Subquery(first_due))
        .order_by("-id")
    )


def loan_with_schedule(*, user, pk: int) -> Loan | None:
    """One of ``user``'s loans with its instalments in order, or None (not found and not theirs look the same)."""
    return (
        loans_list(user=user)
        .prefetch_related(Prefetch("instalments", queryset=Instalment.objects.order_by("number")))
        .filter(pk=pk)
        .first()
    )


def loan_paid_out(loan: Loan) -> Disbursement | None:
    """The loan's payout, or None before one exists."""
    try:
        return loan.disbursement
    except Disbursement.DoesNotExist:
        return None


__all__ = [
    "loan_outcomes",
    "loan_paid_out",
    "loan_with_schedule",
    "loans_list",
]


def merchants_in_default(merchant_ids) -> set[int]:
    """Of these merchants, those with a loan in default now: underwriting's nightly limits leave them out."""
    return set(
        Loan.objects.filter(merchant_id__in=list(merchant_ids), state=LoanState.DEFAULTED)
        .values_list("merchant_id", flat=True)
        .distinct()
    )


def loan_outcomes() -> list[LoanOutcome]:
    """Every loan paid out, with when it was paid out and when it defaulted: what scorecard training learns from."""
    return [
        LoanOutcome(application_id=application_id, funded_at=activated_at, defaulted_at=defaulted_at)
        for application_id, activated_at, defaulted_at in Loan.objects.filter(activated_at__isnull=False)
        .order_by("pk")
        .values_list("application_id", "activated_at", "defaulted_at")
    ]


def schedule_rows(instalments: Iterable[Instalment]) -> list[dict]:
    """A schedule as the audit rows (before and after a prepayment or a restructure) and the merchant's page show it."""
    return [
        {
            "number": row.number,
            "due_date": row.due_date.isoformat(),
            "principal": f"{row.principal_due:.2f}",
            "interest": f"{row.interest_due:.2f}",
            "fee": f"{row.fee_due:.2f}",
            "penalty": f"{row.penalty_due:.2f}",
            "paid": f"{row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid:.2f}",
            "status": row.status,
        }
        for row in instalments
    ]
