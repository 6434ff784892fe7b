"""The final repayment schedule: the schedule a loan was booked on at payout, sent to the merchant as a PDF.

The contract says interest runs from the payout date and that the final schedule follows with the payout notice
(``lending.origination.services.booking`` has the rule). This module keeps that promise:

- ``final_schedule_create`` is called by funding inside the transaction that records the payout, after the schedule
  is booked: it fixes everything the document prints (``terms``) and queues the rendering after the commit.
- ``final_schedule_render`` (a task, outside any transaction) renders the PDF from those terms, stores it with its
  SHA-256 and records the hash in an audit row; a document already rendered is never rendered again, so the file and
  its hash stay what the merchant was sent, and rendering the same terms again prints the same text.
- ``final_schedule_for_owner`` reads it for the loan's merchant's owner only; anyone else gets None (a 404).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core.formatting import amount_plain, masked_account
from core.services.audit import audit_record
from core.transactions import task_on_commit
from lending.catalogue.models import DayCountChoice, RepaymentMethodChoice
from lending.origination.models import FinalSchedule
from lending.origination.services.booking import BookedSchedule
from lending.origination.services.contract_pdf import final_schedule_pdf
from lending.origination.services.contracts import choice_labels
from lending.servicing.models import Disbursement, Loan

logger = logging.getLogger(__name__)

TERMS_FORMAT = 1
ZERO = Decimal("0.00")


# Reads.


def final_schedule_for_owner(*, loan_id: int, user: Any) -> FinalSchedule | None:
    """The loan's final schedule if ``user`` owns the loan's merchant; None for anyone else and for no schedule."""
    if not getattr(user, "is_authenticated", False):
        return None
    return FinalSchedule.objects.select_related("loan").filter(loan_id=loan_id, loan__merchant__owner=user).first()


def final_schedule_pdf_bytes(*, final_schedule: FinalSchedule) -> bytes:
    """The stored PDF, checked against the hash recorded when it was rendered.

    ``FileNotFoundError`` when there is no file (yet); ``ValueError`` when the stored bytes are not the ones rendered.
    """
    if not final_schedule.pdf:
        raise FileNotFoundError(f"Final schedule {final_schedule.pk} has no PDF yet")
    with final_schedule.pdf.storage.open(final_schedule.pdf.name, "rb") as stored:
        pdf = stored.read()
    if hashlib.sha256(pdf).hexdigest() != final_schedule.sha256:
        raise ValueError(f"Final schedule {final_schedule.pk}: the stored PDF is not the one rendered")
    return pdf


# Making it.


def final_schedule_create(
    *, loan: Loan, disbursement: Disbursement, booked: BookedSchedule | None, paid_on: date
) -> FinalSchedule:
    """Fix what the final schedule prints and queue its rendering after the commit; inside funding's transaction,
    with the loan locked and its schedule booked. ``booked`` is None only when the schedule could not be booked
    again from the payout date (the schedule booked at funding stands, and the document prints no rule)."""
    final_schedule = FinalSchedule.objects.create(
        loan=loan, terms=final_schedule_terms_for(loan=loan, disbursement=disbursement, booked=booked, paid_on=paid_on)
    )
    audit_record(
        subject=final_schedule,
        action="final_schedule.create",
        to_state=final_schedule.status,
        data={"loan": loan.pk, "rule": final_schedule.terms["rule"]["code"]},
    )
    task_on_commit("lending.origination.tasks.final_schedule_render_task", final_schedule.pk)
    return final_schedule


def final_schedule_terms_for(
    *, loan: Loan, disbursement: Disbursement, booked: BookedSchedule | None, paid_on: date
) -> dict:
    """Everything the final schedule prints, as JSON: the booked lines as the loan holds them, the payout, the booked
    and the signed figures and the rule that set them, with labels in both languages beside each code."""
    merchant = loan.merchant
    product = loan.terms.get("product") or {}
    instalments = list(loan.instalments.order_by("number"))
    balance = loan.principal
    schedule = []
    for row in instalments:
        balance -= row.principal_due
        schedule.append(
            {
                "number": row.number,
                "due_date": row.due_date.isoformat(),
                "principal": amount_plain(row.principal_due),
                "interest": amount_plain(row.interest_due),
                "fee": amount_plain(row.fee_due),
                "payment": amount_plain(row.payment_due),
                "balance": amount_plain(balance),
            }
        )
    payments = sum((row.payment_due for row in instalments), ZERO)
    day_count = loan.terms.get("day_count") or DayCountChoice.ACTUAL_365
    return {
        "format": TERMS_FORMAT,
        "loan_id": loan.pk,
        "platform": {"legal_name": settings.PLATFORM_LEGAL_NAME},
        "borrower": {"legal_name": merchant.legal_name, "credit_code": merchant.credit_code},
        "product": {
            "name_zh": product.get("name_zh", loan.product.name_zh),
            "name_en": product.get("name_en", loan.product.name_en),
        },
        "contract": loan.terms.get("contract"),
        "currency": loan.terms.get("currency", "CNY"),
        "payout": {
            "date": paid_on.isoformat(),
            "amount": amount_plain(disbursement.amount),
            "bank_name": disbursement.bank_name,
            "account_masked": masked_account(disbursement.account_number),
            "reference": disbursement.rail_reference,
        },
        "interest_from": loan.start_date.isoformat(),
        "repayment_method": choice_labels(RepaymentMethodChoice, loan.repayment_method),
        "day_count": choice_labels(DayCountChoice, day_count),
        "days_in_year": 360 if day_count == DayCountChoice.ACTUAL_360 else 365,
        "principal": amount_plain(loan.principal),
        "net_disbursement": amount_plain(loan.net_disbursement),
        # A borrower-paid credit-insurance premium withheld from the payout, as the offer priced it.
        "insurance_premium": (loan.application.offer_quote or {}).get("insurance_premium", "0.00"),
        "apr": f"{loan.apr:.2f}",
        "totals": {
            "principal": amount_plain(sum((row.principal_due for row in instalments), ZERO)),
            "interest": amount_plain(sum((row.interest_due for row in instalments), ZERO)),
            "fee": amount_plain(sum((row.fee_due for row in instalments), ZERO)),
            "payment": amount_plain(payments),
            "total_repayable": amount_plain(booked.total_repayable if booked else payments),
        },
        "signed": {
            "apr": f"{booked.signed_apr:.2f}" if booked else "",
            "total_repayable": amount_plain(booked.signed_total_repayable) if booked else "",
        },
        "rule": {
            "code": booked.rule if booked else "",
            "interest_reduced_by": amount_plain(booked.interest_reduced_by) if booked else "0.00",
        },
        "schedule": schedule,
    }


def final_schedule_render(*, final_schedule_id: int) -> FinalSchedule:
    """Render a final schedule being prepared to PDF, store it with its SHA-256 and make it ready.

    Runs in a task, outside any transaction (WeasyPrint and the storage hold no row lock). Only a document still
    being prepared is rendered: a ready one keeps its file and hash, so running this twice changes nothing; when two
    renders race, the first to lock the row wins and the other deletes its file.
    """
    final_schedule = FinalSchedule.objects.get(pk=final_schedule_id)
    if final_schedule.status != FinalSchedule.Status.RENDERING:
        return final_schedule
    rendered = final_schedule_pdf(final_schedule=final_schedule)
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    storage = final_schedule.pdf.storage
    name = storage.save(
        final_schedule.pdf.field.generate_filename(
            final_schedule, f"schedule-{final_schedule.document_id}-loan-{final_schedule.loan_id}.pdf"
        ),
        ContentFile(rendered.pdf),
    )
    try:
        with transaction.atomic():
            locked = FinalSchedule.objects.select_for_update().get(pk=final_schedule_id)
            stale = locked.status != FinalSchedule.Status.RENDERING
            if not stale:
                locked.pdf.name = name
                locked.sha256 = digest
                locked.rendered_at = timezone.now()
                locked.status = FinalSchedule.Status.READY
                locked.save(update_fields=["pdf", "sha256", "rendered_at", "status"])
                audit_record(
                    subject=locked,
                    action="final_schedule.render",
                    from_state=FinalSchedule.Status.RENDERING,
                    to_state=locked.status,
                    data={"sha256": digest, "pages": rendered.page_count, "bytes": len(rendered.pdf)},
                )
    except BaseException:
        storage.delete(name)
        raise
    if stale:
        storage.delete(name)
    return locked


__all__ = [
    "final_schedule_create",
    "final_schedule_for_owner",
    "final_schedule_pdf_bytes",
    "final_schedule_render",
    "final_schedule_terms_for",
]
