"""Celery entry points for repayments; thin: each calls a service."""

from datetime import date

from celery import shared_task

from lending.models import Loan
from lending.services.repayments import credit_apply


@shared_task(acks_late=True, task_reject_on_worker_lost=True)
def credit_apply_task(loan_id: int, on: str) -> str:
    """Spend one loan's held credit on what fell due by ``on`` (ISO date); idempotent, safe to run again."""
    loan = Loan.objects.filter(pk=loan_id).first()
    if loan is None:
        return "0.00"
    return f"{credit_apply(loan=loan, on=date.fromisoformat(on)):.2f}"


__all__ = ["credit_apply_task"]
