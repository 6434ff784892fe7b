"""Funding: a signed application becomes a loan with its schedule, and the loan is paid out exactly once.

The payout runs through the simulated bank rail, told by ``settings.PAYOUT_SIMULATION`` to pay, refuse, or time out
(before or after paying). ``signed_application`` and ``with_perms`` are used by the other funding test modules.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.tests.factories import with_perms
from core.models import Notice
from core.selectors.audit import audit_trail
from lending.catalogue.models import LoanProduct
from lending.catalogue.money.dates import add_months
from lending.catalogue.tests.factories import LoanProductFactory, SalesShareProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.funding import (
    FundingError,
    application_fund,
    disbursement_retry,
    disbursement_send,
    disbursements_reconcile,
)
from lending.origination.tasks import application_fund_task, disbursement_send_task, disbursements_reconcile_task
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Disbursement, Loan, LoanState
from lending.servicing.services.rails import PayoutFailed, PayoutResult, PayoutStatus, PayoutTimeout
from sandbox.models import SandboxTransfer
from sandbox.rails import SandboxPayoutRail

pytestmark = pytest.mark.django_db


# Shared set-up.


@pytest.fixture
def product(db) -> LoanProduct:
    return LoanProductFactory(code="operating-funding")


@pytest.fixture
def application(merchant, product) -> LoanApplication:
    return signed_application(merchant, product)


@pytest.fixture
def payout_officer(senior_officer):
    """A senior officer who works failed payouts."""
    return with_perms(senior_officer, "lending.change_disbursement", "lending.view_disbursement")


def fund_and_pay(application: LoanApplication, capture, **kwargs) -> Loan:
    """Fund, then run what funding queues on commit (the payout task, eagerly)."""
    with capture(execute=True):
        loan = application_fund(application=application, **kwargs)
    return Loan.objects.get(pk=loan.pk)


def actions(subject) -> list[str]:
    return [event.action for event in audit_trail(subject)]


# The loan.


def test_signed_application_becomes_an_active_loan_paid_out_with_its_schedule(
    application, django_capture_on_commit_callbacks
):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    application.refresh_from_db()
    assert application.state == ApplicationState.FUNDED
    assert application.funded_at is not None
    assert loan.state == LoanState.ACTIVE
    assert loan.activated_at is not None
    assert loan.principal == application.offer_amount == Decimal("20000.00")
    assert (loan.term, loan.term_unit) == (12, "months")
    assert (loan.grade, loan.price) == ("C", application.offer_price)
    assert loan.terms["contract"]["version"] == 1
    assert loan.terms["late_fee"] == application.offer_terms["late_fee"]
    lines = list(loan.instalments.order_by("number"))
    assert [line.number for line in lines] == list(range(1, 13))
    assert sum(line.principal_due for line in lines) == loan.principal
    assert loan.start_date == timezone.localdate()
    assert loan.maturity_date == lines[-1].due_date == add_months(loan.start_date, 12)
    # 1 % origination fee, deducted from the payout.
    assert loan.net_disbursement == Decimal("19800.00")
    disbursement = loan.disbursement
    assert disbursement.status == Disbursement.Status.SUCCEEDED
    assert disbursement.amount == Decimal("19800.00")
    assert disbursement.account_number == application.merchant.settlement_account_number
    assert disbursement.rail_reference.startswith("SIM")
    assert disbursement.attempts == 1
    transfer = SandboxTransfer.objects.get()
    assert transfer.idempotency_key == disbursement.idempotency_key
    assert transfer.amount == Decimal("19800.00")
    assert transfer.reference == disbursement.rail_reference


def test_first_due_date_is_one_month_after_the_funding_day_not_the_offer_day(
    merchant, product, django_capture_on_commit_callbacks
):
    offer_day = timezone.localdate() + datetime.timedelta(days=10)
    application = signed_application(merchant, product, offer_start=offer_day)
    assert application.offer_quote["schedule"][0]["due_date"] == add_months(offer_day, 1).isoformat()

    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    first = loan.instalments.order_by("number").first()
    assert first.due_date == add_months(timezone.localdate(), 1)
    assert sum(line.principal_due for line in loan.instalments.all()) == Decimal("20000.00")


def test_a_sales_share_advance_is_funded_with_its_window_schedule(merchant, django_capture_on_commit_callbacks):
    product = SalesShareProductFactory(code="sales-share-funding")
    application = signed_application(
        merchant, product, amount=Decimal("30000.00"), term=None, average_daily_sales=Decimal("3000.00")
    )

    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    lines = list(loan.instalments.order_by("number"))
    assert loan.repayment_method == "sales_share"
    assert (loan.term, loan.term_unit) == (18, "months")
    assert sum(line.principal_due for line in lines) == Decimal("30000.00")
    # 0.000333 a day on what is outstanding, at most 2,400.00 (fee factor 1.08 at grade C).
    assert sum(line.fee_due for line in lines) == Decimal("515.96")
    assert lines[0].due_date == timezone.localdate() + datetime.timedelta(days=60)
    assert loan.state == LoanState.ACTIVE


def test_funding_writes_one_audit_row_per_step(application, django_capture_on_commit_callbacks):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    assert actions(application)[-1] == "application.fund"
    fund_event = list(audit_trail(application))[-1]
    assert (fund_event.from_state, fund_event.to_state) == ("signed", "funded")
    assert fund_event.actor is None
    assert actions(loan) == ["loan.create", "loan.activate"]
    assert actions(loan.disbursement) == ["disbursement.create", "disbursement.send", "disbursement.succeed"]
    created = audit_trail(loan.disbursement).first()
    assert created.data["idempotency_key"] == str(loan.disbursement.idempotency_key)


def test_merchant_is_told_the_amount_paid_and_the_first_due_date(application, django_capture_on_commit_callbacks):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    notice = Notice.objects.get(user=application.merchant.owner, title="Your loan has been paid out")
    first = loan.instalments.order_by("number").first()
    assert "19,800.00 yuan" in notice.body
    assert first.due_date.isoformat() in notice.body
    assert f"{first.payment_due:,.2f}" in notice.body
    assert application.merchant.settlement_account_number[-4:] in notice.body
    assert notice.url == f"/loans/loans/{loan.pk}/final-schedule.pdf"


def test_funding_a_funded_application_again_returns_its_loan_and_creates_nothing(
    application, django_capture_on_commit_callbacks
):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = application_fund(application=application)

    assert again == loan
    assert callbacks == []
    assert Loan.objects.count() == Disbursement.objects.count() == SandboxTransfer.objects.count() == 1
    assert actions(application).count("application.fund") == 1


def test_an_application_that_is_not_signed_cannot_be_funded(merchant, product):
    application = signed_application(merchant, product)
    approved = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=application.amount,
        term=12,
        repayment_method=application.repayment_method,
        state=ApplicationState.APPROVED,
    )

    with pytest.raises(ApplicationConflict, match="Only a signed application can be funded; this one is Approved"):
        application_fund(application=approved)
    assert not Loan.objects.filter(application=approved).exists()


def test_merchant_without_a_settlement_account_is_not_funded_and_nothing_is_half_made(merchant, product):
    merchant.settlement_account_number = ""
    merchant.save()
    application = signed_application(merchant, product)

    with pytest.raises(FundingError, match="no complete settlement account"):
        application_fund(application=application)

    application.refresh_from_db()
    assert application.state == ApplicationState.SIGNED
    assert not Loan.objects.exists()
    assert not Disbursement.objects.exists()


def test_officer_without_the_decide_permission_cannot_fund(application, partner_user):
    with pytest.raises(PermissionDenied):
        application_fund(application=application, by=partner_user)
    assert not Loan.objects.exists()


def test_officer_with_the_decide_permission_funds_and_is_named_in_the_audit(
    application, loan_officer, django_capture_on_commit_callbacks
):
    officer = with_perms(loan_officer, "lending.decide_application")

    fund_and_pay(application, django_capture_on_commit_callbacks, by=officer)

    assert list(audit_trail(application))[-1].actor == officer


def test_a_counter_offer_price_prices_the_loan(merchant, product, django_capture_on_commit_callbacks):
    application = signed_application(merchant, product, price=Decimal("0.072000"))
    standard = signed_application(merchant, product)

    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    standard_loan = fund_and_pay(standard, django_capture_on_commit_callbacks)

    assert loan.price == Decimal("0.072000")
    interest = sum(line.interest_due for line in loan.instalments.all())
    assert interest < sum(line.interest_due for line in standard_loan.instalments.all())
    assert loan.apr < standard_loan.apr


def test_the_task_queued_after_signing_funds_the_application(application, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        loan_id = application_fund_task.delay(application.pk).get()

    loan = Loan.objects.get(pk=loan_id)
    assert loan.application == application
    assert loan.state == LoanState.ACTIVE


def test_the_fund_task_leaves_an_unfundable_application_for_officers(merchant, product):
    merchant.settlement_bank_name = ""
    merchant.save()
    application = signed_application(merchant, product)

    assert application_fund_task.delay(application.pk).get() is None
    application.refresh_from_db()
    assert application.state == ApplicationState.SIGNED


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    for task in (application_fund_task, disbursement_send_task, disbursements_reconcile_task):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
        assert task.autoretry_for
        assert task.retry_backoff


# The simulated rail.


def test_the_rail_pays_a_key_once_and_answers_a_repeat_with_the_first_transfer(db):
    rail = SandboxPayoutRail()
    key = Disbursement().idempotency_key
    payee = {"amount": Decimal("100.00"), "account_number": "6222", "account_name": "甲", "bank_name": "工商银行"}

    first = rail.send(idempotency_key=key, **payee)
    second = rail.send(idempotency_key=key, **payee)

    assert first == second
    assert SandboxTransfer.objects.count() == 1
    assert rail.query(idempotency_key=key) == first
    assert rail.query(idempotency_key=Disbursement().idempotency_key) is None


@pytest.mark.parametrize(
    ("mode", "error", "paid"),
    [("fail", PayoutFailed, 0), ("timeout", PayoutTimeout, 0), ("timeout_after_paying", PayoutTimeout, 1)],
)
def test_the_rail_can_be_told_to_fail_or_time_out(settings, mode, error, paid):
    settings.PAYOUT_SIMULATION = mode
    with pytest.raises(error):
        SandboxPayoutRail().send(
            idempotency_key=Disbursement().idempotency_key,
            amount=Decimal("1.00"),
            account_number="1",
            account_name="a",
            bank_name="b",
        )
    assert SandboxTransfer.objects.count() == paid


def test_the_class_switch_overrides_the_setting(settings, monkeypatch):
    settings.PAYOUT_SIMULATION = "ok"
    monkeypatch.setattr(SandboxPayoutRail, "mode", "fail")
    with pytest.raises(PayoutFailed, match="account is closed"):
        SandboxPayoutRail().send(
            idempotency_key=Disbursement().idempotency_key,
            amount=Decimal("1.00"),
            account_number="1",
            account_name="a",
            bank_name="b",
        )


# The payout: sending twice, failing, timing out.


def funded_without_payout(application, capture) -> Loan:
    """Fund, dropping what is queued on commit: the payout task never ran (a lost message)."""
    with capture(execute=False):
        loan = application_fund(application=application)
    return loan


def test_sending_a_paid_out_disbursement_again_pays_nothing(application, django_capture_on_commit_callbacks):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    again = disbursement_send(disbursement_id=loan.disbursement.pk)

    assert again.status == Disbursement.Status.SUCCEEDED
    assert again.attempts == 1
    assert SandboxTransfer.objects.count() == 1


def test_a_failed_payout_is_recorded_and_the_loan_stays_pending(
    application, settings, payout_officer, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "fail"

    loan = fund_and_pay(application, django_capture_on_commit_callbacks)

    disbursement = loan.disbursement
    assert disbursement.status == Disbursement.Status.FAILED
    assert "account is closed" in disbursement.last_error
    assert loan.state == LoanState.PENDING_DISBURSEMENT
    assert not SandboxTransfer.objects.exists()
    assert actions(disbursement)[-1] == "disbursement.fail"
    officer_notice = Notice.objects.get(user=payout_officer, title="A payout failed")
    assert f"/admin/lending/disbursement/{disbursement.pk}/" in officer_notice.url
    assert Notice.objects.filter(user=application.merchant.owner, title="Your payout is delayed").exists()


def test_an_officer_retries_a_failed_payout_and_it_is_paid_once(
    application, settings, payout_officer, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "fail"
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    key = loan.disbursement.idempotency_key
    settings.PAYOUT_SIMULATION = "ok"

    with django_capture_on_commit_callbacks(execute=True):
        disbursement_retry(disbursement=loan.disbursement, by=payout_officer)

    loan.refresh_from_db()
    disbursement = Disbursement.objects.get(pk=loan.disbursement.pk)
    assert disbursement.status == Disbursement.Status.SUCCEEDED
    assert disbursement.idempotency_key == key
    assert disbursement.attempts == 2
    assert loan.state == LoanState.ACTIVE
    assert SandboxTransfer.objects.get().idempotency_key == key
    retried = [event for event in audit_trail(disbursement) if event.action == "disbursement.retry"]
    assert retried[0].actor == payout_officer


def test_only_a_failed_payout_can_be_retried(application, payout_officer, django_capture_on_commit_callbacks):
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    with pytest.raises(FundingError, match="Only a failed payout can be retried; this one is Paid out"):
        disbursement_retry(disbursement=loan.disbursement, by=payout_officer)


def test_retrying_a_payout_needs_the_permission(
    application, settings, loan_officer, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "fail"
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        disbursement_retry(disbursement=loan.disbursement, by=loan_officer)
    assert Disbursement.objects.get().status == Disbursement.Status.FAILED


def test_a_timeout_leaves_the_payout_sending_and_reconcile_sends_it_again_with_the_same_key(
    application, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "timeout"
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    disbursement = loan.disbursement
    assert disbursement.status == Disbursement.Status.SENDING
    assert loan.state == LoanState.PENDING_DISBURSEMENT
    assert not SandboxTransfer.objects.exists()
    # Another worker picking the payout up meanwhile does not send it a second time.
    assert disbursement_send(disbursement_id=disbursement.pk).attempts == 1

    settings.PAYOUT_SIMULATION = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        outcome = disbursements_reconcile(older_than=datetime.timedelta(0))

    assert outcome == {Disbursement.Status.SUCCEEDED: 1}
    disbursement.refresh_from_db()
    assert disbursement.status == Disbursement.Status.SUCCEEDED
    assert disbursement.attempts == 2
    assert SandboxTransfer.objects.get().idempotency_key == disbursement.idempotency_key
    assert Loan.objects.get().state == LoanState.ACTIVE


def test_a_timeout_after_paying_is_found_by_reconcile_and_not_paid_again(
    application, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "timeout_after_paying"
    loan = fund_and_pay(application, django_capture_on_commit_callbacks)
    assert loan.disbursement.status == Disbursement.Status.SENDING
    transfer = SandboxTransfer.objects.get()

    settings.PAYOUT_SIMULATION = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        disbursements_reconcile(older_than=datetime.timedelta(0))

    disbursement = Disbursement.objects.get()
    assert disbursement.status == Disbursement.Status.SUCCEEDED
    assert disbursement.rail_reference == transfer.reference
    assert disbursement.attempts == 1
    assert SandboxTransfer.objects.count() == 1
    assert Loan.objects.get().state == LoanState.ACTIVE


def test_reconcile_leaves_a_payout_that_is_still_within_its_time_alone(
    application, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "timeout"
    fund_and_pay(application, django_capture_on_commit_callbacks)
    settings.PAYOUT_SIMULATION = "ok"

    assert disbursements_reconcile(older_than=datetime.timedelta(minutes=10)) == {}
    assert Disbursement.objects.get().status == Disbursement.Status.SENDING


def test_a_payout_whose_task_was_lost_is_sent_by_reconcile(application, django_capture_on_commit_callbacks):
    funded_without_payout(application, django_capture_on_commit_callbacks)
    assert Disbursement.objects.get().status == Disbursement.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        disbursements_reconcile_task.delay().get()

    assert Disbursement.objects.get().status == Disbursement.Status.PENDING  # younger than the reconcile delay
    with django_capture_on_commit_callbacks(execute=True):
        disbursements_reconcile(older_than=datetime.timedelta(0))
    assert Disbursement.objects.get().status == Disbursement.Status.SUCCEEDED
    assert SandboxTransfer.objects.count() == 1


def test_a_worker_killed_mid_payout_is_settled_by_reconcile(
    application, monkeypatch, django_capture_on_commit_callbacks
):
    def killed(self, **kwargs):
        raise SystemExit("worker killed")

    funded_without_payout(application, django_capture_on_commit_callbacks)
    disbursement = Disbursement.objects.get()
    monkeypatch.setattr(SandboxPayoutRail, "send", killed)
    with pytest.raises(SystemExit):
        disbursement_send(disbursement_id=disbursement.pk)
    assert Disbursement.objects.get().status == Disbursement.Status.SENDING
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        disbursements_reconcile(older_than=datetime.timedelta(0))

    assert Disbursement.objects.get().status == Disbursement.Status.SUCCEEDED
    assert SandboxTransfer.objects.count() == 1


class AnswerLaterRail:
    """A rail that never answers a send in time, and whose later answer the test chooses."""

    answer: PayoutResult | None = None
    sent = 0

    def send(self, **kwargs):
        type(self).sent += 1
        raise PayoutTimeout("no answer")

    def query(self, *, idempotency_key):
        return type(self).answer


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (
            PayoutResult(reference="", status=PayoutStatus.FAILED, error="Name does not match"),
            "failed",
            "Name does not",
        ),
        (PayoutResult(reference="R1", status=PayoutStatus.PENDING), "sending", "not settled the transfer yet"),
    ],
)
def test_reconcile_records_a_refusal_found_later_and_waits_on_a_transfer_not_settled(
    application, settings, monkeypatch, django_capture_on_commit_callbacks, answer, status, error
):
    settings.PAYOUT_ADAPTER = "lending.origination.tests.test_funding.AnswerLaterRail"
    monkeypatch.setattr(AnswerLaterRail, "answer", answer)
    monkeypatch.setattr(AnswerLaterRail, "sent", 0)
    fund_and_pay(application, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        disbursements_reconcile(older_than=datetime.timedelta(0))

    disbursement = Disbursement.objects.get()
    assert disbursement.status == status
    assert error in disbursement.last_error
    assert AnswerLaterRail.sent == 1  # never sent again while the rail knows the key
    assert Loan.objects.get().state == LoanState.PENDING_DISBURSEMENT
