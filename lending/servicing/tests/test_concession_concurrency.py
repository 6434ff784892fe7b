"""Second approvals racing on PostgreSQL: the row locks let a concession be decided, and applied, exactly once."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.exceptions import StateConflict
from core.selectors.audit import audit_trail
from lending.catalogue.money.dates import add_months
from lending.servicing.models import Concession, LoanState
from lending.servicing.services.collections import loan_write_off_approve, loan_write_off_request
from lending.servicing.tests.factories import make_loan, servicing_product_make
from tests.concurrency import CONFLICT, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def requested(merchant, senior_officer):
    start = add_months(timezone.localdate(), -6)
    loan = make_loan(merchant, servicing_product_make(), start=start, state=LoanState.DEFAULTED)
    maker = with_perms(senior_officer, "lending.change_loan")
    return loan_write_off_request(loan=loan, by=maker, reason="Closed down.")


def test_a_write_off_approved_twice_at_once_is_written_off_once(requested):
    checker = make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)

    outcomes = race(
        lambda: loan_write_off_approve(concession=requested, by=checker), times=2, conflicts=(StateConflict,)
    )

    assert sorted(outcome == CONFLICT for outcome in outcomes) == [False, True]
    loan = requested.loan
    loan.refresh_from_db()
    assert loan.state == LoanState.WRITTEN_OFF
    assert loan.written_off_principal == Decimal("12000.00")
    assert [event.action for event in audit_trail(loan)].count("loan.write_off") == 1
    requested.refresh_from_db()
    assert requested.status == Concession.Status.APPROVED


def test_two_write_offs_asked_at_once_make_one_concession(merchant, senior_officer):
    loan = make_loan(merchant, servicing_product_make(), state=LoanState.DEFAULTED)
    maker = with_perms(senior_officer, "lending.change_loan")

    outcomes = race(
        lambda: loan_write_off_request(loan=loan, by=maker, reason="Closed down."), times=2, conflicts=(StateConflict,)
    )

    assert sorted(outcome == CONFLICT for outcome in outcomes) == [False, True]
    assert Concession.objects.filter(loan=loan).count() == 1
