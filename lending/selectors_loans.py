"""Reading loans: a merchant's own, one with its schedule, and the officers' queues of applications to work."""

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from lending.models import ApplicationState, Disbursement, Instalment, Loan, LoanApplication, LoanState


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


# The officers' queues: what each one holds, as a filter on applications.
QUEUE_REFERRED = "referred"
QUEUE_SECOND_APPROVAL = "second_approval"
QUEUE_TO_FUND = "to_fund"


def application_queue_filter(queue: str) -> Q | None:
    """The condition of one officers' queue, or None for an unknown queue name."""
    return {
        QUEUE_REFERRED: Q(state=ApplicationState.REFERRED),
        QUEUE_SECOND_APPROVAL: Q(state=ApplicationState.AWAITING_SECOND_APPROVAL, second_approver__isnull=True),
        # Signed, and no loan yet: normally seconds (the funding task runs on commit); anything here needs a look.
        QUEUE_TO_FUND: Q(state=ApplicationState.SIGNED),
    }.get(queue)


def applications_in_queue(*, queue: str) -> QuerySet[LoanApplication]:
    condition = application_queue_filter(queue)
    if condition is None:
        return LoanApplication.objects.none()
    return LoanApplication.objects.filter(condition)


__all__ = [
    "QUEUE_REFERRED",
    "QUEUE_SECOND_APPROVAL",
    "QUEUE_TO_FUND",
    "application_queue_filter",
    "applications_in_queue",
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
