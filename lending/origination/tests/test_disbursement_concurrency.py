"""Exactly one loan, one disbursement and one bank transfer, however many requests race to fund and pay.

Real PostgreSQL, real commits (``transaction=True``) and real threads, each with its own database connection:
20 workers start together behind a barrier and each makes 10 attempts, 200 in all, alternating between funding the
application (double clicks, a retried task) and sending its payout (retries, a second worker). The rail is slowed
down so that attempts arrive while the first payout is still being sent.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import AuditEvent
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.funding import application_fund, application_second_approve, disbursement_send
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Disbursement, Loan, LoanState
from sandbox.models import SandboxTransfer
from sandbox.rails import SandboxPayoutRail

WORKERS = 20
ATTEMPTS_EACH = 10

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlowRail(SandboxPayoutRail):
    """The simulated rail, taking a bank's time to answer."""

    def send(self, **kwargs):
        time.sleep(0.05)
        return super().send(**kwargs)


def race(attempt, *, workers: int = WORKERS, attempts_each: int = ATTEMPTS_EACH) -> list:
    """Run ``attempt(worker, n)`` ``attempts_each`` times in each of ``workers`` threads started together."""
    barrier = threading.Barrier(workers)

    def worker(number: int) -> list:
        outcomes = []
        try:
            barrier.wait(timeout=30)
            for n in range(attempts_each):
                try:
                    outcomes.append(attempt(number, n))
                except Exception as exc:  # noqa: BLE001 - every outcome is reported to the test
                    outcomes.append(exc)
        finally:
            # Each thread opened its own connection; PostgreSQL's max_connections is shared with other suites.
            connection.close()
        return outcomes

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [outcome for result in pool.map(worker, range(workers)) for outcome in result]


@pytest.fixture(autouse=True)
def _slow_rail(settings):
    settings.PAYOUT_ADAPTER = "lending.origination.tests.test_disbursement_concurrency.SlowRail"
    settings.PAYOUT_SIMULATION = "ok"


def test_max_connections_leave_room_for_the_workers(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
    assert limit > WORKERS + 10


def test_two_hundred_concurrent_fund_and_payout_attempts_pay_out_once(merchant):
    application = signed_application(merchant, LoanProductFactory(code="operating-race"))

    def attempt(worker: int, n: int):
        if (worker + n) % 2 == 0:
            loan = application_fund(application=LoanApplication(pk=application.pk))
            return "funded" if loan is not None else "waiting"
        loan = Loan.objects.filter(application_id=application.pk).select_related("disbursement").first()
        if loan is None:
            return "no loan yet"
        return disbursement_send(disbursement_id=loan.disbursement.pk).status

    outcomes = race(attempt)

    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert errors == []
    assert len(outcomes) == WORKERS * ATTEMPTS_EACH
    assert Loan.objects.count() == 1
    assert Disbursement.objects.count() == 1
    assert SandboxTransfer.objects.count() == 1
    loan = Loan.objects.get()
    disbursement = loan.disbursement
    assert loan.state == LoanState.ACTIVE
    assert disbursement.status == Disbursement.Status.SUCCEEDED
    assert disbursement.attempts == 1
    assert SandboxTransfer.objects.get().idempotency_key == disbursement.idempotency_key
    assert loan.instalments.count() == 12
    assert AuditEvent.objects.filter(action="loan.create").count() == 1
    assert AuditEvent.objects.filter(action="application.fund").count() == 1
    assert AuditEvent.objects.filter(action="disbursement.succeed").count() == 1
    assert LoanApplication.objects.get(pk=application.pk).state == ApplicationState.FUNDED


def test_concurrent_second_approvals_make_one_loan(settings, merchant, loan_officer):
    settings.FOUR_EYES_THRESHOLD = Decimal("50000.00")
    approver = with_perms(loan_officer, "lending.decide_application")
    seniors = [
        with_perms(
            make_user(Role.SENIOR_OFFICER, email=f"senior{k}@loanportal.example", staff=True),
            "lending.second_approve_application",
        )
        for k in range(5)
    ]
    application = signed_application(
        merchant, LoanProductFactory(code="operating-race-4eyes"), amount=Decimal("80000.00"), offered_by=approver
    )
    application_fund(application=application)

    def attempt(worker: int, n: int):
        return application_second_approve(application=LoanApplication(pk=application.pk), by=seniors[worker]).pk

    outcomes = race(attempt, workers=5, attempts_each=2)

    loans = [outcome for outcome in outcomes if isinstance(outcome, int)]
    refusals = [outcome for outcome in outcomes if not isinstance(outcome, int)]
    assert len(loans) == 1
    assert all("this one is Funded" in str(refusal) for refusal in refusals)
    assert Loan.objects.count() == 1
    assert SandboxTransfer.objects.count() == 1
    assert AuditEvent.objects.filter(action="application.second_approve").count() == 1
