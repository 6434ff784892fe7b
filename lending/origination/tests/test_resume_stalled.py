"""Applications whose next step was queued at a commit but never ran are taken up by the five-minute sweep.

The broker may be down when a merchant accepts or signs: the step still commits (the queueing failure is logged),
and ``applications_resume_stalled`` later makes the contract, renders it, or makes the loan, exactly once.
"""

import datetime
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.contracts import contract_create_for
from lending.origination.services.funding import FundingError, application_fund, applications_resume_stalled
from lending.origination.tasks import applications_resume_stalled_task
from lending.origination.tests.factories import prepared_contract, sign, signed_application
from lending.servicing.models import Disbursement, Loan

pytestmark = pytest.mark.django_db
LONG_AGO = datetime.timedelta(minutes=30)


def _age(model, pk: int, **fields_ago) -> None:
    model.objects.filter(pk=pk).update(**{name: timezone.now() - ago for name, ago in fields_ago.items()})


def test_a_signed_application_whose_funding_never_ran_gets_its_loan_once(merchant):
    application = signed_application(merchant, LoanProductFactory(code="resume-signed"))
    _age(LoanApplication, application.pk, signed_at=LONG_AGO)

    first = applications_resume_stalled()
    second = applications_resume_stalled()

    application.refresh_from_db()
    assert first == {"loan": 1}
    assert second == {}
    assert application.state == ApplicationState.FUNDED
    assert Loan.objects.filter(application=application).count() == 1
    assert Disbursement.objects.filter(loan__application=application).count() == 1


def test_the_sweep_leaves_recent_steps_to_the_task_queued_for_them(merchant):
    application = signed_application(merchant, LoanProductFactory(code="resume-recent"))

    assert applications_resume_stalled() == {}
    application.refresh_from_db()
    assert application.state == ApplicationState.SIGNED


def test_an_accepted_offer_whose_contract_was_never_made_gets_it(
    accepted_application, django_capture_on_commit_callbacks
):
    _age(LoanApplication, accepted_application.pk, accepted_at=LONG_AGO, lenders_settled_at=LONG_AGO)

    # The contract is made, and its rendering queued after the commit, as the accept step's task does it.
    with django_capture_on_commit_callbacks(execute=True):
        assert applications_resume_stalled() == {"contract": 1}

    accepted_application.refresh_from_db()
    contract = Contract.objects.get(application=accepted_application)
    assert accepted_application.state == ApplicationState.CONTRACTED
    assert contract.status == Contract.Status.READY
    assert contract.sha256


def test_an_accepted_offer_waiting_for_a_partner_bank_is_not_stalled(accepted_application):
    _age(LoanApplication, accepted_application.pk, accepted_at=LONG_AGO)
    LoanApplication.objects.filter(pk=accepted_application.pk).update(lenders_settled_at=None, lenders=[])

    assert applications_resume_stalled() == {}
    accepted_application.refresh_from_db()
    assert accepted_application.state == ApplicationState.ACCEPTED


def test_a_contract_left_being_prepared_is_rendered(accepted_application, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        contract = contract_create_for(application_id=accepted_application.pk)
    assert contract.status == Contract.Status.RENDERING
    _age(Contract, contract.pk, created_at=LONG_AGO)

    assert applications_resume_stalled() == {"contract": 1}

    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY
    assert Contract.objects.filter(application=accepted_application).count() == 1


def test_signing_while_the_broker_is_down_still_signs_and_the_sweep_funds(
    accepted_application, django_capture_on_commit_callbacks
):
    contract = prepared_contract(accepted_application, django_capture_on_commit_callbacks)
    with (
        mock.patch("lending.origination.tasks.application_fund_task.delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sign(contract)

    application = LoanApplication.objects.get(pk=contract.application_id)
    assert application.state == ApplicationState.SIGNED
    _age(LoanApplication, application.pk, signed_at=LONG_AGO)

    assert applications_resume_stalled() == {"loan": 1}
    application.refresh_from_db()
    assert application.state == ApplicationState.FUNDED


def test_one_application_failing_does_not_stop_the_others(merchant):
    product = LoanProductFactory(code="resume-two")
    first = signed_application(merchant, product)
    second = signed_application(merchant, product, amount=first.amount + 1000)
    for application in (first, second):
        _age(LoanApplication, application.pk, signed_at=LONG_AGO)

    def fund(*, application, by=None):
        if application.pk == first.pk:
            raise RuntimeError("the rail's bank list is unreachable")
        return application_fund(application=application, by=by)

    with mock.patch("lending.origination.services.funding.application_fund", side_effect=fund):
        outcome = applications_resume_stalled()

    assert outcome == {"loan failed": 1, "loan": 1}
    assert LoanApplication.objects.get(pk=second.pk).state == ApplicationState.FUNDED
    assert LoanApplication.objects.get(pk=first.pk).state == ApplicationState.SIGNED


def test_beat_runs_the_sweep_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["applications-resume-stalled"]

    assert entry == {"task": "lending.origination.tasks.applications_resume_stalled_task", "schedule": 300}
    assert applications_resume_stalled_task.name == entry["task"]


def test_a_funding_refusal_is_logged_for_the_officers_without_a_traceback(merchant, caplog):
    application = signed_application(merchant, LoanProductFactory(code="resume-refused"))
    _age(LoanApplication, application.pk, signed_at=LONG_AGO)

    refusal = FundingError("The merchant has no settlement account.")
    with mock.patch("lending.origination.services.funding.application_fund", side_effect=refusal):
        outcome = applications_resume_stalled()

    assert outcome == {"loan failed": 1}
    record = next(r for r in caplog.records if "waits for an officer" in r.getMessage())
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "no settlement account" in record.getMessage()
