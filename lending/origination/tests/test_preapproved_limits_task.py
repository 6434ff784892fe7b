"""The nightly pre-approved limits: underwriting computes them, lending says which merchants are in default."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from core.models import JobRun
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tasks import preapproved_limits_refresh_task
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan
from underwriting.models import PreApprovedLimit


def test_the_nightly_task_refreshes_the_limits_and_gives_a_merchant_in_default_none(
    verified_merchant_with_sales, underwriting_rules, decisions_approve, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = preapproved_limits_refresh_task.delay().get()  # today
    assert JobRun.objects.get(pk=started["run"]).counts == {"limits_refreshed": 1}
    assert PreApprovedLimit.objects.get(merchant=verified_merchant_with_sales).amount > Decimal("0.00")

    application_fund(application=signed_application(verified_merchant_with_sales, LoanProductFactory()))
    loan = Loan.objects.get(merchant=verified_merchant_with_sales)
    # Walk the loan to default through its own transitions, as the servicing jobs do.
    loan.activate()
    loan.mark_overdue()
    loan.default()
    loan.save()

    # The next night's run: one run per day, so the same day's run would find itself done.
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        started = preapproved_limits_refresh_task.delay(tomorrow).get()
    assert JobRun.objects.get(pk=started["run"]).counts == {"limits_refreshed": 1}
    assert PreApprovedLimit.objects.get(merchant=verified_merchant_with_sales).amount == Decimal("0.00")
