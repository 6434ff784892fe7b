"""Reading repayments: a loan's payments with where each went, and the loans whose held credit has fallen due."""

from datetime import date

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from lending.servicing.models import Allocation, CollectionRequest, Instalment, Loan, LoanState, Payment
from lending.servicing.selectors.loans import loans_list


def loan_for_owner(*, user, pk: int) -> Loan | None:
    """One of ``user``'s loans, or None: another merchant's loan and a missing one look the same."""
    return loans_list(user=user).filter(pk=pk).first()


def payments_of_loan(*, loan: Loan) -> QuerySet[Payment]:
    """The loan's payments, newest first, with their allocations (and the instalment each paid)."""
    return (
        Payment.objects.filter(loan=loan)
        .prefetch_related(
            Prefetch("allocations", queryset=Allocation.objects.select_related("instalment").order_by("id"))
        )
        .order_by("-received_on", "-id")
    )


def collections_of_loan(*, loan: Loan) -> QuerySet[CollectionRequest]:
    """The loan's collection requests (pay now), newest first."""
    return CollectionRequest.objects.filter(loan=loan).order_by("-created_at", "-id")


def collection_open(*, loan: Loan) -> CollectionRequest | None:
    """The loan's collection still waiting for the rail, if any (there is at most one)."""
    return CollectionRequest.objects.filter(loan=loan, status__in=CollectionRequest.OPEN).first()


def loans_with_credit_due(*, on: date) -> QuerySet[Loan]:
    """Loans holding credit with an unpaid instalment due on or before ``on``: what ``credit_apply`` has to do.

    One query for the whole portfolio, so the daily job only visits the loans that have something to apply.
    """
    unpaid_due = Instalment.objects.filter(loan=OuterRef("pk"), due_date__lte=on).exclude(status=Instalment.Status.PAID)
    return Loan.objects.filter(
        state__in=[LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED], credit_balance__gt=0
    ).filter(Exists(unpaid_due))


__all__ = ["collection_open", "collections_of_loan", "loan_for_owner", "loans_with_credit_due", "payments_of_loan"]
