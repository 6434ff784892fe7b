"""Offers lapse after the product's validity: the hourly job expires them, once, and tells the merchant."""

import datetime

import pytest
from django.utils import timezone

from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.origination.models import LoanApplication
from lending.origination.services.applications import applications_expire_offers
from lending.origination.tasks import offers_expire_task

pytestmark = pytest.mark.django_db


def lapse(application: LoanApplication, *, ago: datetime.timedelta = datetime.timedelta(hours=1)) -> None:
    # The offer's clock is moved, not the state: the job must find it by its expiry time.
    LoanApplication.objects.filter(pk=application.pk).update(offer_expires_at=timezone.now() - ago)


def test_a_lapsed_offer_is_expired_by_the_system_with_one_audit_row_and_a_notice(approved_application):
    lapse(approved_application)

    assert applications_expire_offers() == 1

    approved_application.refresh_from_db()
    assert approved_application.state == "expired"
    assert approved_application.closed_at is not None
    event = audit_trail(approved_application).last()
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        "application.expire",
        None,
        "approved",
        "expired",
    )
    titles = list(Notice.objects.filter(user=approved_application.merchant.owner).values_list("title", flat=True))
    assert f"Your loan offer #{approved_application.pk} has expired" in titles


def test_running_the_job_again_changes_nothing(approved_application):
    lapse(approved_application)
    applications_expire_offers()
    audit_rows, notices = AuditEvent.objects.count(), Notice.objects.count()

    assert applications_expire_offers() == 0

    approved_application.refresh_from_db()
    assert approved_application.state == "expired"
    assert (AuditEvent.objects.count(), Notice.objects.count()) == (audit_rows, notices)


def test_an_offer_still_valid_is_left_alone(approved_application):
    assert applications_expire_offers() == 0

    approved_application.refresh_from_db()
    assert approved_application.state == "approved"


def test_an_accepted_offer_whose_contract_never_came_expires_too(accepted_application):
    lapse(accepted_application)

    assert applications_expire_offers() == 1

    accepted_application.refresh_from_db()
    assert accepted_application.state == "expired"
    assert audit_trail(accepted_application).last().from_state == "accepted"


def test_decided_but_unoffered_applications_are_not_touched(referred_application):
    assert applications_expire_offers(now=timezone.now() + datetime.timedelta(days=365)) == 0

    referred_application.refresh_from_db()
    assert referred_application.state == "referred"


def test_an_offer_expires_once_the_products_validity_has_passed(approved_application):
    validity = datetime.timedelta(days=approved_application.product.offer_validity_days)

    assert applications_expire_offers(now=timezone.now() + validity - datetime.timedelta(hours=1)) == 0
    assert applications_expire_offers(now=timezone.now() + validity + datetime.timedelta(hours=1)) == 1


def test_the_beat_task_expires_offers_through_the_service(approved_application):
    lapse(approved_application)

    assert offers_expire_task.delay().get() == 1

    approved_application.refresh_from_db()
    assert approved_application.state == "expired"
