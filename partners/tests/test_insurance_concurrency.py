"""Two runs of the daily claims job at once (a retried task beside beat's) open one claim per loan, on PostgreSQL
with real commits and threads."""

import datetime
import threading

import pytest
from django.db import connection

from core.models import AuditEvent
from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import Loan, LoanState
from lending.servicing.tests.factories import make_loan
from partners.models import InsuranceClaim
from partners.services.insurance import insurance_claims_open
from partners.tests.factories_insurance import InsurerFactory, agreement_make, cover_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RUNS = 6


def test_racing_claims_jobs_open_exactly_one_claim_per_loan(merchant, risk_manager):
    product = LoanProductFactory(code="race-claims")
    agreement = agreement_make(InsurerFactory(code="race"), [product], by=risk_manager, claim_after_dpd=30)
    loans = [make_loan(merchant, product, state=LoanState.OVERDUE) for _ in range(3)]
    for loan in loans:
        cover_make(loan, agreement)
    Loan.objects.filter(pk__in=[loan.pk for loan in loans]).update(days_past_due=45)
    barrier = threading.Barrier(RUNS)
    opened: list = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            opened.append(insurance_claims_open(on=datetime.date(2027, 6, 1)))
        except Exception as exc:  # noqa: BLE001 - every outcome is reported to the test
            opened.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(count, int) for count in opened), opened
    assert sum(opened) == 3
    assert InsuranceClaim.objects.count() == 3
    assert AuditEvent.objects.filter(action="insurance_claim.open").count() == 3
