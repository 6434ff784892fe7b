"""Fixtures for the application journey, shared by the applications, contracts and funding tests.

- ``loan_products``: the four demo products by code (``lending.catalogue.services.demo.products_seed``);
  ``operating_loan`` is one.
- ``underwriting_rules``: the default scorecard (active) and policy rules
  (``underwriting.services.demo.underwriting_seed``).
- ``verified_merchant_with_sales``: ``merchant_owner``'s business, verified, with 24 months of a steady
  restaurant's daily sales from ``merchants.services.demo``. It is made for ``merchant_owner`` in place of the root
  ``merchant`` fixture (an owner has one merchant): use one or the other in a test, not both.
- ``decisions_approve`` / ``decisions_refer`` / ``decisions_decline``: the active scorecard's thresholds set so that
  every application gets that outcome from its score (the policy rules still apply), whatever the sales come to
  on the day the suite runs.
- ``approved_application``, ``referred_application``, ``declined_application``, ``accepted_application``: an
  operating loan of 20,000 yuan over 12 months, taken through the real services to that state.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from lending.catalogue.models import LoanProduct
from lending.catalogue.services.demo import products_seed
from lending.origination.models import LoanApplication
from lending.origination.services.applications import application_accept, application_create
from lending.origination.tests.factories import APPLIED_AMOUNT, APPLIED_TERM, apply_for
from merchants.models import Merchant
from merchants.tests.factories import make_verified_merchant
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import Scorecard
from underwriting.services.demo import underwriting_seed


@pytest.fixture
def loan_products(db) -> dict[str, LoanProduct]:
    return {product.code: product for product in products_seed()}


@pytest.fixture
def operating_loan(loan_products) -> LoanProduct:
    return loan_products["operating-loan"]


@pytest.fixture
def underwriting_rules(db) -> Scorecard:
    """The shipped scorecard, active, and the shipped policy rules; the scorecard cache is emptied around it."""
    scorecard_cache_clear()
    underwriting_seed()
    yield Scorecard.objects.get(state="active")
    scorecard_cache_clear()


def _set_thresholds(scorecard: Scorecard, *, approve: int, refer: int) -> Scorecard:
    # Test set-up only: an active scorecard is never edited by the portal (a new version is made instead).
    Scorecard.objects.filter(pk=scorecard.pk).update(approve_min_score=Decimal(approve), refer_min_score=Decimal(refer))
    scorecard_cache_clear()
    scorecard.refresh_from_db()
    return scorecard


@pytest.fixture
def decisions_approve(underwriting_rules) -> Scorecard:
    """Every score approves (rules, the credit line and fraud signals can still refer or decline)."""
    return _set_thresholds(underwriting_rules, approve=0, refer=0)


@pytest.fixture
def decisions_refer(underwriting_rules) -> Scorecard:
    """Every score falls in the grey band, where an officer reviews the application."""
    return _set_thresholds(underwriting_rules, approve=10_000, refer=0)


@pytest.fixture
def decisions_decline(underwriting_rules) -> Scorecard:
    """Every score is below the lowest score lent at."""
    return _set_thresholds(underwriting_rules, approve=10_000, refer=10_000)


@pytest.fixture
def verified_merchant_with_sales(merchant_owner) -> Merchant:
    return make_verified_merchant(merchant_owner, legal_name="杭州甲商贸有限公司")


@pytest.fixture
def other_verified_merchant_with_sales(other_merchant_owner) -> Merchant:
    return make_verified_merchant(other_merchant_owner, legal_name="苏州乙餐饮有限公司")


@pytest.fixture
def deciding_officer(loan_officer):
    """The loan officer, holding ``lending.decide_application`` whether or not the role has it yet."""
    loan_officer.user_permissions.add(
        Permission.objects.get(codename="decide_application", content_type__app_label="lending")
    )
    return type(loan_officer).objects.get(pk=loan_officer.pk)  # a fresh instance: permissions are cached


@pytest.fixture
def draft_application(verified_merchant_with_sales, operating_loan, underwriting_rules) -> LoanApplication:
    merchant = verified_merchant_with_sales
    return application_create(
        merchant=merchant, product=operating_loan, amount=APPLIED_AMOUNT, term=APPLIED_TERM, by=merchant.owner
    )


@pytest.fixture
def approved_application(verified_merchant_with_sales, operating_loan, decisions_approve) -> LoanApplication:
    application = apply_for(verified_merchant_with_sales, operating_loan)
    assert application.state == "approved", application.decision.reasons
    return application


@pytest.fixture
def referred_application(verified_merchant_with_sales, operating_loan, decisions_refer) -> LoanApplication:
    application = apply_for(verified_merchant_with_sales, operating_loan)
    assert application.state == "referred"
    return application


@pytest.fixture
def declined_application(verified_merchant_with_sales, operating_loan, decisions_decline) -> LoanApplication:
    application = apply_for(verified_merchant_with_sales, operating_loan)
    assert application.state == "declined"
    return application


@pytest.fixture
def accepted_application(approved_application, django_capture_on_commit_callbacks) -> LoanApplication:
    """Accepted; the contract task it queues on commit is captured, not run (the contracts tests run it)."""
    with django_capture_on_commit_callbacks(execute=False):
        return application_accept(application=approved_application, by=approved_application.merchant.owner)
