"""Funding: a signed application becomes a loan, and the loan is paid out exactly once.

Invariants this module protects:

- One loan per application and one disbursement per loan, whatever happens: every step locks its row
  (``select_for_update``), re-reads the state under the lock and does nothing when the work is already done; the
  one-to-one columns in the database are the backstop.
- Four eyes: above ``settings.FOUR_EYES_THRESHOLD`` no loan is made until a senior officer other than the officer
  who approved it (and other than the merchant) gives the second approval.
- A payout is never doubled: the rail gets the disbursement's idempotency key, which never changes, so sending
  again after a timeout, a crash or a retry can only find the first transfer. The rail is called outside any
  transaction (no row lock is held while a bank answers), between two short transactions: one that claims the
  payout (``sending``), one that records what the rail said.
- A payout is never lost: a claim left in ``sending`` (a timeout, a killed worker) and a payout whose task never ran
  are found by ``disbursements_reconcile`` (every few minutes, from beat), which asks the rail what happened under
  the key and completes it, or sends it again with the same key.
- The loan signed is the loan booked: interest runs from the payout date, and the schedule is booked by the rule the
  contract states (``lending.origination.services.booking``), never dearer than signed. The loan is booked from the
  funding day when it is made, and again under its lock from the payout date when the payout succeeds on a later
  day (no payment can exist before then); the merchant gets the final schedule as a PDF with the payout notice.

Refusals: ``ApplicationConflict`` (from the applications services) when the application's state does not allow the
step; ``PermissionDenied`` when this person may not do it (including maker = checker); ``FundingError`` (a
``ValidationError``) for a condition an officer can fix, such as a merchant without a settlement account.

Order of locks, the same everywhere: application, then disbursement, then loan.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.formatting import amount as amount_grouped
from core.formatting import masked_account
from core.models import Notice
from core.services.audit import audit_record
from core.services.notices import notify
from core.transactions import task_on_commit
from lending.catalogue.money import QuoteError
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS
from lending.origination.checks import four_eyes_threshold
from lending.origination.models import ApplicationState, Contract, FinalSchedule, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.booking import BookedSchedule, BookingError, booked_schedule, signed_terms_from
from lending.origination.services.exposure import (
    exposure_payout_clear,
    exposure_payout_hits,
    exposure_payout_hold,
)
from lending.origination.services.final_schedule import final_schedule_create, final_schedule_render
from lending.origination.services.lenders import funding_legs
from lending.servicing.models import Disbursement, Instalment, Loan, LoanState
from lending.servicing.selectors.loans import schedule_rows
from lending.servicing.services.rails import PayoutFailed, PayoutResult, PayoutStatus, PayoutTimeout, payout_adapter
from lending.servicing.signals import loan_activated

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

S = ApplicationState
FUND_PERMISSION = "lending.decide_application"
SECOND_APPROVE_PERMISSION = "lending.second_approve_application"
RETRY_PAYOUT_PERMISSION = "lending.change_disbursement"
# A payout still "sending" this long after its attempt started was interrupted; the reconcile job settles it.
DEFAULT_RECONCILE_AFTER = timedelta(minutes=10)
RECONCILE_BATCH = 200


class FundingError(ValidationError):
    """Funding or a payout step was refused for a reason an officer can act on; the message says which."""


def reconcile_after() -> timedelta:
    minutes = getattr(settings, "PAYOUT_RECONCILE_AFTER_MINUTES", None)
    return DEFAULT_RECONCILE_AFTER if minutes is None else timedelta(minutes=minutes)


# The loan.


def application_fund(*, application: LoanApplication, by: User | None = None, on: date | None = None) -> Loan | None:
    """Make the loan of a signed application and queue its payout; None while it waits for a second approval, or
    while an exposure limit holds its payout (``lending.origination.services.exposure``).

    ``by`` is None when the system funds (the task queued after signing); an officer needs the decide permission.
    Calling it again for a funded application returns the loan it has and creates nothing. Above the four-eyes
    threshold, the first call moves the application to ``awaiting_second_approval`` instead, and the loan is made
    by ``application_second_approve``. The loan is booked as if paid out ``on`` (today by default).
    """
    with transaction.atomic():
        locked = _locked_application(application.pk)
        if by is not None and not by.has_perm(FUND_PERMISSION):
            raise PermissionDenied(_("You do not have permission to fund loans."))
        return _fund(locked, by=by, on=on)


def application_second_approve(*, application: LoanApplication, by: User, note: str = "") -> Loan | None:
    """Give the second approval of a large loan, then fund it: maker and checker are always two people.

    Needs the second-approval permission; refused to the officer who approved or counter-offered the application
    and to the merchant's owner. When the system approved, any senior officer may be the second. None when an
    exposure limit holds the payout: the second approval stands, and the loan is made when the hold is released.
    """
    with transaction.atomic():
        locked = _locked_application(application.pk)
        if not by.has_perm(SECOND_APPROVE_PERMISSION):
            raise PermissionDenied(_("Only a senior officer can give the second approval."))
        if locked.state != S.AWAITING_SECOND_APPROVAL:
            raise ApplicationConflict(
                _("Only an application awaiting a second approval can get one; this one is %(state)s.")
                % {"state": locked.get_state_display()}
            )
        if locked.second_approver_id is not None:
            raise ApplicationConflict(_("This application already has its second approval."), code="already_approved")
        if by.pk == locked.offered_by_id:
            raise PermissionDenied(
                _("You approved this application: the second approval must come from another senior officer.")
            )
        if by.pk == locked.merchant.owner_id:
            raise PermissionDenied(_("Nobody can approve a loan to their own business."))
        locked.second_approver = by
        locked.save(update_fields=["second_approver", "updated_at"])
        audit_record(
            subject=locked,
            action="application.second_approve",
            by=by,
            from_state=locked.state,
            to_state=locked.state,
            reason=note,
            data={"first_approver_id": locked.offered_by_id},
        )
        return _fund(locked, by=by)


def _fund(locked: LoanApplication, *, by: User | None, on: date | None = None) -> Loan | None:
    """Fund the locked application, or move it to await its second approval; see ``application_fund``."""
    if locked.state == S.FUNDED:
        return Loan.objects.get(application=locked)
    if locked.state == S.AWAITING_SECOND_APPROVAL and locked.second_approver_id is None:
        return None
    if locked.state not in (S.SIGNED, S.AWAITING_SECOND_APPROVAL):
        raise ApplicationConflict(
            _("Only a signed application can be funded; this one is %(state)s.") % {"state": locked.get_state_display()}
        )
    if locked.needs_second_approval and locked.second_approver_id is None:
        _await_second_approval(locked, by=by)
        return None
    if locked.second_approver_id is not None and locked.second_approver_id == locked.offered_by_id:
        # application_second_approve refuses this; checked again because a loan must never rest on it.
        raise PermissionDenied(_("The second approval must come from another officer than the first."))
    # The exposure limits are checked again as the money is about to go out (the book may have grown since the
    # approval, or a limit been lowered): a hit holds the payout, visibly, until room returns and it is released.
    hits = exposure_payout_hits(application=locked, amount=locked.offer_amount)
    if hits:
        exposure_payout_hold(application=locked, hits=hits, by=by)
        return None
    exposure_payout_clear(application=locked, by=by)
    return _loan_create(locked, by=by, on=on)


def _locked_application(pk: int) -> LoanApplication:
    # Only the application row is locked (``of``): the joined merchant and product are read, not changed.
    return LoanApplication.objects.select_for_update(of=("self",)).select_related("merchant", "product").get(pk=pk)


def _await_second_approval(application: LoanApplication, *, by: User | None) -> None:
    from_state = application.state
    application.await_second_approval()
    application.save()
    audit_record(
        subject=application,
        action="application.await_second_approval",
        by=by,
        from_state=from_state,
        to_state=application.state,
        reason=_("%(amount)s yuan is above the four-eyes threshold of %(threshold)s yuan.")
        % {
            "amount": amount_grouped(application.offer_amount),
            "threshold": amount_grouped(four_eyes_threshold()),
        },
    )
    notify(
        user_id=application.merchant.owner_id,
        title=_("Your loan is having a final check"),
        body=_(
            "Your contract is signed. Loans of this size are checked by a second officer before they are paid out; "
            "this usually takes one working day. We will tell you as soon as the money is on its way."
        ),
        url=_application_url(application),
    )
    _notify_officers(
        permission=SECOND_APPROVE_PERMISSION,
        title=_("A loan awaits your second approval"),
        body=_("Application #%(id)s of %(merchant)s for %(amount)s yuan is signed and needs a second approval.")
        % {"id": application.pk, "merchant": application.merchant, "amount": amount_grouped(application.offer_amount)},
        url=reverse("admin:lending_loanapplication_change", args=[application.pk]),
    )


def _loan_create(application: LoanApplication, *, by: User | None, on: date | None) -> Loan:
    merchant = application.merchant
    account = (
        merchant.settlement_account_number,
        merchant.settlement_account_name,
        merchant.settlement_bank_name,
    )
    if not all(value.strip() for value in account):
        raise FundingError(
            _("The merchant has no complete settlement account (bank, account name and number); it cannot be paid."),
            code="no_settlement_account",
        )
    start = on or timezone.localdate()
    contract = application.contracts.filter(status=Contract.Status.SIGNED).first()
    # Booked as if paid out today: the payout usually succeeds today, and is booked again from its day if not.
    priced = _booked_from(application, contract, start)
    method = application.offer_repayment_method or application.repayment_method
    loan = Loan.objects.create(
        application=application,
        merchant=merchant,
        product=application.product,
        # The amount lent; with a financed origination fee the schedule repays that fee too, so its principal is
        # the engine's (amount + fee): the instalments' principal always sums exactly to the loan's.
        principal=priced.principal,
        # A sales-share advance has no fixed term: it runs until repaid, within the contract's limit in months.
        term=application.offer_term or TERM_LIMIT_MONTHS,
        term_unit=application.offer_terms["term_unit"] if application.offer_term else "months",
        repayment_method=method,
        grade=application.offer_grade or application.offer_terms.get("grade", ""),
        probability_of_default=application.decision.probability_of_default if application.decision_id else None,
        price=_offer_price(application),
        apr=priced.apr,
        net_disbursement=priced.net_disbursement,
        terms=_loan_terms(application, contract),
        start_date=start,
        maturity_date=priced.maturity_date,
    )
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=line.number,
            due_date=line.due_date,
            principal_due=line.principal,
            interest_due=line.interest,
            fee_due=line.fee,
        )
        for line in priced.lines
    )
    from_state = application.state
    application.fund()
    application.save()
    audit_record(
        subject=application,
        action="application.fund",
        by=by,
        from_state=from_state,
        to_state=application.state,
        data={"loan_id": loan.pk, "second_approver_id": application.second_approver_id},
    )
    audit_record(
        subject=loan,
        action="loan.create",
        by=by,
        to_state=loan.state,
        data={
            "application_id": application.pk,
            "contract_id": contract.pk if contract else None,
            "principal": str(loan.principal),
            "apr": str(loan.apr),
            "offer_apr": str(application.offer_apr) if application.offer_apr is not None else None,
            "instalments": len(priced.lines),
            "booking": priced.audit_data(),
        },
    )
    disbursement = Disbursement.objects.create(
        loan=loan,
        amount=priced.net_disbursement,
        account_name=merchant.settlement_account_name,
        account_number=merchant.settlement_account_number,
        bank_name=merchant.settlement_bank_name,
        # A co-funded loan: the partners' parts of the payout, debited from their funding accounts.
        funding_legs=[leg.as_dict() for leg in funding_legs(loan=loan, application=application)],
    )
    audit_record(
        subject=disbursement,
        action="disbursement.create",
        by=by,
        to_state=disbursement.status,
        data={"idempotency_key": str(disbursement.idempotency_key), "amount": str(disbursement.amount)},
    )
    task_on_commit("lending.origination.tasks.disbursement_send_task", disbursement.pk)
    return loan


def _offer_price(application: LoanApplication) -> Decimal:
    if application.offer_price is not None:
        return application.offer_price
    return Decimal(application.offer_terms["price"])


def _booked_from(application: LoanApplication, contract: Contract | None, start: date) -> BookedSchedule:
    """The schedule to book when the money goes out on ``start``: the offer priced again from that day, so that
    interest and the due dates count from it, and never dearer than the signed contract (see ``booking``).

    The price is the offer's own (an officer's counter-offer may have set it), on the terms the offer kept.
    """
    snapshot = {**application.offer_terms, "price": str(_offer_price(application))}
    try:
        return booked_schedule(
            snapshot=snapshot,
            amount=application.offer_amount,
            term=application.offer_term,
            repayment_method=application.offer_repayment_method or application.repayment_method,
            average_daily_sales=application.average_daily_sales,
            signed=signed_terms_from(
                contract_terms=contract.terms if contract is not None else None,
                offer_quote=application.offer_quote,
                offer_apr=application.offer_apr,
            ),
            start=start,
        )
    except (QuoteError, BookingError, KeyError, TypeError) as exc:
        raise FundingError(
            _("The loan cannot be booked from %(date)s: %(detail)s"),
            code="unpriceable",
            params={"date": start.isoformat(), "detail": str(exc)},
        ) from exc


def _loan_terms(application: LoanApplication, contract: Contract | None) -> dict:
    """The terms the merchant signed: the product's terms kept with the offer, and which contract they are in."""
    signed = None
    if contract is not None:
        signed = {
            "id": contract.pk,
            "version": contract.version,
            "document_id": str(contract.document_id),
            "sha256": contract.signed_sha256 or contract.sha256,
            "signed_at": contract.signed_at.isoformat() if contract.signed_at else None,
        }
    return {**application.offer_terms, "price": str(_offer_price(application)), "contract": signed}


# The payout.


def disbursement_send(*, disbursement_id: int, on: date | None = None) -> Disbursement:
    """Pay a pending disbursement out; exactly once, however often and however concurrently it is called.

    Claims the payout under the row lock (``pending`` -> ``sending``, one more attempt) and commits; only the caller
    that made the claim calls the rail, outside any transaction; the answer is recorded in a new transaction.
    Anyone else finds it ``sending`` or done and returns it as it is. Must not be called inside a transaction: the
    claim has to be committed before the bank is asked to pay. A payout that succeeds is dated ``on`` (today by
    default): interest runs from that day.
    """
    claimed = _claim(disbursement_id)
    if claimed is None:
        return Disbursement.objects.get(pk=disbursement_id)
    return _send(claimed, on=on)


def disbursement_retry(*, disbursement: Disbursement, by: User) -> Disbursement:
    """Queue a failed payout again, to the merchant's settlement account as it is now; officers only.

    The idempotency key stays the same: if the rail paid after all under it, sending again finds that transfer
    instead of paying a second time.
    """
    with transaction.atomic():
        locked = Disbursement.objects.select_for_update().select_related("loan__merchant").get(pk=disbursement.pk)
        if not by.has_perm(RETRY_PAYOUT_PERMISSION):
            raise PermissionDenied(_("You do not have permission to retry payouts."))
        if locked.status != Disbursement.Status.FAILED:
            raise FundingError(
                _("Only a failed payout can be retried; this one is %(status)s."),
                code="wrong_state",
                params={"status": locked.get_status_display()},
            )
        merchant = locked.loan.merchant
        previous_account = locked.account_number
        locked.account_name = merchant.settlement_account_name
        locked.account_number = merchant.settlement_account_number
        locked.bank_name = merchant.settlement_bank_name
        locked.status = Disbursement.Status.PENDING
        locked.save(update_fields=["account_name", "account_number", "bank_name", "status"])
        audit_record(
            subject=locked,
            action="disbursement.retry",
            by=by,
            from_state=Disbursement.Status.FAILED,
            to_state=locked.status,
            reason=locked.last_error,
            data={
                "idempotency_key": str(locked.idempotency_key),
                "account_changed": previous_account != locked.account_number,
            },
        )
        task_on_commit("lending.origination.tasks.disbursement_send_task", locked.pk)
    return locked


def disbursements_reconcile(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Settle the payouts left behind: ``sending`` with no answer, and ``pending`` ones whose task never ran.

    For each, the rail is asked what it did under the payout's key: a transfer found completes the payout; none
    found means the rail never got it, so it is sent again with the same key. Returns how many ended in each status.
    """
    cutoff = timezone.now() - (older_than if older_than is not None else reconcile_after())
    stale = (
        Disbursement.objects.filter(
            Q(status=Disbursement.Status.SENDING, last_attempt_at__lt=cutoff)
            | Q(status=Disbursement.Status.PENDING, created_at__lt=cutoff)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:RECONCILE_BATCH]
    )
    outcome: dict[str, int] = {}
    for pk in list(stale):
        try:
            status = disbursement_reconcile(disbursement_id=pk, stale_before=cutoff).status
        except Exception:
            # One payout's trouble (a rail error, a bad row) must not stop the others; it is tried next run.
            logger.exception("Reconciling disbursement %s failed", pk)
            status = "error"
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


# Applications left between steps: at most this many of each kind a run (a contract takes about a second to render).
RESUME_BATCH = 50


def applications_resume_stalled(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Take up the applications whose next step was queued at a commit but never ran (the broker was down, or the
    task gave up): an accepted offer whose lenders are settled with no contract, a contract still being prepared, a
    signed application with no loan, a loan paid out whose final schedule is still being prepared. Each is handed to
    the step's own service,
    which locks and re-reads the state, so running this beside the queued task, or twice, does nothing twice.
    Returns how many of each were taken up (and failed).

    "Stalled" means older than ``older_than`` (the payout reconciliation's delay by default): the queued task has
    had its chance. Run by beat every five minutes.
    """
    # Imported here: the contracts stage is imported by this module's callers too; it imports nothing of funding.
    from lending.origination.services.contracts import contract_prepare

    cutoff = timezone.now() - (older_than if older_than is not None else reconcile_after())
    waiting_for_contract = LoanApplication.objects.filter(
        # Settled lenders only: an offer waiting for a partner bank's answer is not stalled, it is waiting.
        Q(state=S.ACCEPTED, lenders_settled_at__lt=cutoff)
        | Q(state=S.CONTRACTED, contracts__status=Contract.Status.RENDERING, contracts__created_at__lt=cutoff)
    ).distinct()
    waiting_for_loan = LoanApplication.objects.filter(state=S.SIGNED, signed_at__lt=cutoff)
    waiting_for_final_schedule = FinalSchedule.objects.filter(
        status=FinalSchedule.Status.RENDERING, created_at__lt=cutoff
    )
    steps = {
        "contract": (waiting_for_contract, lambda pk: contract_prepare(application_id=pk)),
        "loan": (waiting_for_loan, lambda pk: application_fund(application=LoanApplication(pk=pk))),
        "final schedule": (waiting_for_final_schedule, lambda pk: final_schedule_render(final_schedule_id=pk)),
    }
    outcome: dict[str, int] = {}
    for name, (stalled, step) in steps.items():
        for pk in list(stalled.order_by("pk").values_list("pk", flat=True)[:RESUME_BATCH]):
            try:
                step(pk)
                key = name
            except (FundingError, ApplicationConflict) as exc:
                # A refusal that needs a person (the application stays in the officers' "signed, not funded"
                # queue): said plainly, without a traceback every five minutes, and tried again next run.
                logger.warning("Application %s (%s) waits for an officer: %s", pk, name, exc)
                key = f"{name} failed"
            except Exception:
                # Anything else (a rendering error, a lost connection) must not stop the others either.
                logger.exception("Resuming application %s (%s) failed", pk, name)
                key = f"{name} failed"
            outcome[key] = outcome.get(key, 0) + 1
    return outcome


def disbursement_reconcile(*, disbursement_id: int, stale_before, on: date | None = None) -> Disbursement:
    """Settle one payout: ask the rail about its key, then complete it, fail it or send it again with the same key.

    A payout found to have succeeded is dated ``on`` (today by default), the day it is confirmed: interest never
    runs from before the merchant is told the money is there.
    """
    disbursement = Disbursement.objects.get(pk=disbursement_id)
    if disbursement.status == Disbursement.Status.PENDING:
        return disbursement_send(disbursement_id=disbursement_id, on=on)
    if disbursement.status != Disbursement.Status.SENDING:
        return disbursement
    result = payout_adapter().query(idempotency_key=disbursement.idempotency_key)
    if result is not None:
        return _record_result(disbursement_id, result, on=on)
    # The rail has nothing under the key: the attempt never reached it. If the lost attempt arrives after all, the
    # rail finds the key already used and pays nothing more.
    claimed = _claim(disbursement_id, stale_before=stale_before)
    if claimed is None:
        return Disbursement.objects.get(pk=disbursement_id)
    return _send(claimed, on=on)


def _claim(disbursement_id: int, *, stale_before=None) -> Disbursement | None:
    """Mark the payout ``sending`` and commit, or None when it is not this caller's to send."""
    with transaction.atomic():
        locked = Disbursement.objects.select_for_update().select_related("loan").get(pk=disbursement_id)
        status = locked.status
        stale = (
            stale_before is not None
            and status == Disbursement.Status.SENDING
            and (locked.last_attempt_at is None or locked.last_attempt_at < stale_before)
        )
        if status != Disbursement.Status.PENDING and not stale:
            return None
        if locked.loan.state != LoanState.PENDING_DISBURSEMENT:
            logger.error("Disbursement %s not sent: its loan is %s", locked.pk, locked.loan.state)
            return None
        locked.status = Disbursement.Status.SENDING
        locked.attempts += 1
        locked.last_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "last_attempt_at"])
        audit_record(
            subject=locked,
            action="disbursement.send",
            from_state=status,
            to_state=locked.status,
            data={"attempt": locked.attempts, "idempotency_key": str(locked.idempotency_key)},
        )
    return locked


def _send(disbursement: Disbursement, *, on: date | None = None) -> Disbursement:
    try:
        result = payout_adapter().send(
            idempotency_key=disbursement.idempotency_key,
            amount=disbursement.amount,
            account_number=disbursement.account_number,
            account_name=disbursement.account_name,
            bank_name=disbursement.bank_name,
            funding_legs=disbursement.funding_legs,
        )
    except PayoutFailed as exc:
        return _record_failure(disbursement.pk, str(exc) or exc.__class__.__name__)
    except PayoutTimeout as exc:
        return _record_no_answer(disbursement.pk, str(exc) or exc.__class__.__name__)
    # Any other error leaves the payout "sending": whether the bank paid is unknown, and the reconcile job asks.
    return _record_result(disbursement.pk, result, on=on)


def _record_result(disbursement_id: int, result: PayoutResult, *, on: date | None = None) -> Disbursement:
    if result.status == PayoutStatus.SUCCEEDED:
        return _record_success(disbursement_id, result, paid_on=on or timezone.localdate())
    if result.status == PayoutStatus.FAILED:
        return _record_failure(disbursement_id, result.error or _("The bank refused the transfer."))
    return _record_no_answer(disbursement_id, _("The bank has not settled the transfer yet."))


def _record_success(disbursement_id: int, result: PayoutResult, *, paid_on: date) -> Disbursement:
    """Record a payout the rail completed on ``paid_on``: activate the loan on the schedule booked from that day,
    fix its final schedule, and tell the merchant, with the final schedule's PDF as the notice's link."""
    with transaction.atomic():
        locked = Disbursement.objects.select_for_update().get(pk=disbursement_id)
        if locked.status == Disbursement.Status.SUCCEEDED:
            return locked
        from_status = locked.status
        locked.status = Disbursement.Status.SUCCEEDED
        locked.rail_reference = result.reference
        locked.completed_at = timezone.now()
        locked.last_error = ""
        locked.save(update_fields=["status", "rail_reference", "completed_at", "last_error"])
        audit_record(
            subject=locked,
            action="disbursement.succeed",
            from_state=from_status,
            to_state=locked.status,
            data={"rail_reference": result.reference, "attempts": locked.attempts, "paid_on": paid_on.isoformat()},
        )
        loan = (
            Loan.objects.select_for_update(of=("self",))
            .select_related("merchant", "product", "application")
            .get(pk=locked.loan_id)
        )
        final_schedule = None
        if loan.state == LoanState.PENDING_DISBURSEMENT:
            booked = _book_at_payout(loan, paid_on)
            from_state = loan.state
            loan.activate()
            loan.save()
            audit_record(
                subject=loan,
                action="loan.activate",
                from_state=from_state,
                to_state=loan.state,
                data={"paid_on": paid_on.isoformat(), "booking": booked.audit_data() if booked else None},
            )
            loan_activated.send(sender=Loan, loan=loan, paid_on=paid_on)
            final_schedule = final_schedule_create(loan=loan, disbursement=locked, booked=booked, paid_on=paid_on)
        first = loan.instalments.order_by("number").first()
        notify(
            user_id=loan.merchant.owner_id,
            title=_("Your loan has been paid out"),
            body=_(
                "%(amount)s yuan has been paid into your account %(account)s at %(bank)s on %(paid_on)s; interest "
                "runs from that day. Your first repayment of %(payment)s yuan is due on %(due)s. Your final "
                "repayment schedule, as a PDF, is at the link below and on your loan's page."
            )
            % {
                "amount": amount_grouped(locked.amount),
                "account": masked_account(locked.account_number),
                "bank": locked.bank_name,
                "paid_on": paid_on.isoformat(),
                "payment": amount_grouped(first.payment_due) if first else "-",
                "due": first.due_date.isoformat() if first else "-",
            },
            url=reverse(
                "lending:loan-final-schedule" if final_schedule is not None else "lending:loan-detail",
                kwargs={"pk": loan.pk},
            ),
        )
    return locked


def _book_at_payout(loan: Loan, paid_on: date) -> BookedSchedule | None:
    """Book the locked loan's schedule from its payout date, as the contract says, before it is activated.

    A payout on the day the loan was made keeps the schedule booked then; on a later day the schedule is booked
    again from the payout date (one audit row with the schedule before and after). Nothing can have been paid yet:
    a loan takes payments only once it is active. None when no schedule can be booked from the payout date: the one
    booked at funding stands, and the error is logged for an officer, since the money has already gone out.
    """
    application = loan.application
    start = max(paid_on, loan.start_date)
    contract = application.contracts.filter(status=Contract.Status.SIGNED).first()
    try:
        booked = _booked_from(application, contract, start)
    except FundingError:
        logger.exception("Loan %s could not be booked from its payout date %s", loan.pk, paid_on)
        return None
    instalments = list(loan.instalments.order_by("number"))
    booked_rows = [(line.number, line.due_date, line.principal, line.interest, line.fee) for line in booked.lines]
    rows = [(row.number, row.due_date, row.principal_due, row.interest_due, row.fee_due) for row in instalments]
    if start == loan.start_date and rows == booked_rows:
        return booked
    before = {
        "start_date": loan.start_date.isoformat(),
        "apr": f"{loan.apr:.2f}",
        "schedule": schedule_rows(instalments),
    }
    Instalment.objects.filter(loan=loan).delete()
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=line.number,
            due_date=line.due_date,
            principal_due=line.principal,
            interest_due=line.interest,
            fee_due=line.fee,
        )
        for line in booked.lines
    )
    loan.start_date = start
    loan.maturity_date = booked.maturity_date
    loan.apr = booked.apr
    audit_record(
        subject=loan,
        action="loan.book_from_payout",
        from_state=loan.state,
        to_state=loan.state,
        reason="Booked from the payout date, as the contract says: interest and the due dates count from it.",
        data={
            **booked.audit_data(),
            "before": before,
            "schedule": schedule_rows(loan.instalments.order_by("number")),
        },
    )
    return booked


def _record_failure(disbursement_id: int, error: str) -> Disbursement:
    with transaction.atomic():
        locked = Disbursement.objects.select_for_update().select_related("loan__merchant").get(pk=disbursement_id)
        if locked.status in (Disbursement.Status.SUCCEEDED, Disbursement.Status.FAILED):
            return locked
        from_status = locked.status
        locked.status = Disbursement.Status.FAILED
        locked.last_error = error
        locked.save(update_fields=["status", "last_error"])
        audit_record(
            subject=locked, action="disbursement.fail", from_state=from_status, to_state=locked.status, reason=error
        )
        merchant = locked.loan.merchant
        notify(
            user_id=merchant.owner_id,
            title=_("Your payout is delayed"),
            body=_(
                "Your bank could not receive the payout of your loan yet. Our team is looking into it and will "
                "contact you if anything is needed from you."
            ),
            url=reverse("lending:loan-detail", kwargs={"pk": locked.loan_id}),
        )
        _notify_officers(
            permission=RETRY_PAYOUT_PERMISSION,
            title=_("A payout failed"),
            body=_("The payout of loan #%(loan)s to %(merchant)s failed: %(error)s")
            % {"loan": locked.loan_id, "merchant": merchant, "error": error},
            url=reverse("admin:lending_disbursement_change", args=[locked.pk]),
        )
    return locked


def _record_no_answer(disbursement_id: int, error: str) -> Disbursement:
    """The rail's outcome is unknown: stay ``sending`` (nobody else sends it) and leave it to the reconcile job."""
    with transaction.atomic():
        locked = Disbursement.objects.select_for_update().get(pk=disbursement_id)
        if locked.status != Disbursement.Status.SENDING:
            return locked
        locked.last_error = error
        locked.save(update_fields=["last_error"])
        audit_record(
            subject=locked,
            action="disbursement.no_answer",
            from_state=locked.status,
            to_state=locked.status,
            reason=error,
        )
    return locked


def _notify_officers(*, permission: str, title: str, body: str, url: str) -> None:
    """An in-app notice to every active officer who can act on it (no email: officers work the back office)."""
    from accounts.models import User

    app_label, codename = permission.split(".")
    officers = (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
            | Q(groups__permissions__content_type__app_label=app_label, groups__permissions__codename=codename)
            | Q(is_superuser=True)
        )
        .distinct()
    )
    Notice.objects.bulk_create(Notice(user=officer, title=title, body=body, url=url) for officer in officers)


def _application_url(application: LoanApplication) -> str:
    return reverse("lending:application-detail", kwargs={"pk": application.pk})


__all__ = [
    "FundingError",
    "application_fund",
    "application_second_approve",
    "applications_resume_stalled",
    "disbursement_reconcile",
    "disbursement_retry",
    "disbursement_send",
    "disbursements_reconcile",
    "reconcile_after",
]
