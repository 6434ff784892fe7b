from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan, LoanState
from lending.servicing.selectors.loans import merchants_in_default


def test_only_merchants_with_a_defaulted_loan_are_named(db, merchant, other_merchant):
    product = LoanProductFactory()
    for owner_merchant in (merchant, other_merchant):
        application_fund(application=signed_application(owner_merchant, product))
    defaulted = Loan.objects.get(merchant=merchant)
    # Walk the loan to default through its own transitions, as the servicing jobs will.
    defaulted.activate()
    defaulted.mark_overdue()
    defaulted.default()
    defaulted.save()

    assert Loan.objects.get(merchant=other_merchant).state == LoanState.PENDING_DISBURSEMENT
    assert merchants_in_default([merchant.pk, other_merchant.pk]) == {merchant.pk}
    assert merchants_in_default([other_merchant.pk]) == set()
