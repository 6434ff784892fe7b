"""The nightly pre-approved limits: underwriting computes them, lending says which merchants are in default."""

from decimal import Decimal

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tasks import preapproved_limits_refresh_task
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan
from underwriting.models import PreApprovedLimit


def test_the_nightly_task_refreshes_the_limits_and_gives_a_merchant_in_default_none(
    verified_merchant_with_sales, underwriting_rules, decisions_approve
):
    assert preapproved_limits_refresh_task.delay().get() == 1
    assert PreApprovedLimit.objects.get(merchant=verified_merchant_with_sales).amount > Decimal("0.00")

    application_fund(application=signed_application(verified_merchant_with_sales, LoanProductFactory()))
    loan = Loan.objects.get(merchant=verified_merchant_with_sales)
    # Walk the loan to default through its own transitions, as the servicing jobs do.
    loan.activate()
    loan.mark_overdue()
    loan.default()
    loan.save()

    assert preapproved_limits_refresh_task.delay().get() == 1
    assert PreApprovedLimit.objects.get(merchant=verified_merchant_with_sales).amount == Decimal("0.00")
