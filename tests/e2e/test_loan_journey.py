"""The spine of the product in a real browser: sign up, pass KYC, apply, get approved, accept, sign, get paid."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from lending.catalogue.services.demo import products_seed
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import LoanState
from merchants.models import Merchant, SalesDay
from tests.e2e.test_kyc_journey import (
    EMAIL,
    PASSWORD,
    _complete_profile,
    _sign_up_and_verify_email,
    _upload_documents,
)
from underwriting.services.demo import underwriting_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _two_years_of_steady_sales(merchant: Merchant) -> None:
    """The platform already holds the merchant's takings: a steady shop, busier at weekends."""
    today = timezone.localdate()
    SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=day,
            gross_sales=Decimal("4200.00") if day.weekday() >= 5 else Decimal("3100.00"),
            refunds=Decimal("30.00"),
            transaction_count=95,
            distinct_customers=80,
        )
        for day in (today - datetime.timedelta(days=n) for n in range(1, 731))
    )


def _officer_verifies(officer, live_server, merchant, officer_user, password, shot):
    officer.goto(f"{live_server.url}/admin/merchants/merchant/{merchant.pk}/change/")
    officer.fill("input[name=login]", officer_user.email)
    officer.fill("input[name=password]", password)
    officer.click("main form button[type=submit]")
    officer.wait_for_url(re.compile(rf"/admin/merchants/merchant/{merchant.pk}/change/$"))
    officer.click("button:has-text('Verify KYC')")
    officer.wait_for_load_state()
    officer.fill("textarea[name=note]", "Licence, credit code and ID card match.")
    officer.click("input[name=confirm]")
    officer.wait_for_load_state()
    shot(officer, "officer-verified")


def test_merchant_goes_from_sign_up_to_money_in_its_account(new_page, live_server, mailoutbox, shot, loan_officer):
    from accounts.tests.factories import DEFAULT_PASSWORD

    products_seed()
    underwriting_seed()
    page = new_page()
    _sign_up_and_verify_email(page, live_server, mailoutbox, shot)
    _complete_profile(page, live_server, shot)
    _upload_documents(page, live_server, shot)
    page.click("form[action$='/merchant/kyc/submit/'] button[type=submit]")
    page.wait_for_load_state()
    merchant = Merchant.objects.get(owner__email=EMAIL)
    _two_years_of_steady_sales(merchant)
    _officer_verifies(new_page(), live_server, merchant, loan_officer, DEFAULT_PASSWORD, shot)

    # Screen 1: the product.
    page.goto(f"{live_server.url}/loans/apply/")
    shot(page, "apply-products")
    page.click("a[href$='/loans/apply/operating-loan/']")
    # Screen 2: amount and term against the live quote.
    page.fill("input[name=amount]", "30000.00")
    page.fill("input[name=term]", "12")
    shot(page, "apply-terms")
    page.click("#apply-form button[type=submit]:not([data-update])")
    # Screen 3: confirm; the decision is on the next page.
    page.wait_for_url(re.compile(r"/loans/apply/operating-loan/confirm/"))
    shot(page, "apply-confirm")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_url(re.compile(r"/loans/applications/\d+/$"))
    shot(page, "decision")
    application = LoanApplication.objects.get(merchant=merchant)
    assert application.state == ApplicationState.APPROVED
    body = page.inner_text("main")
    assert f"{application.offer_apr}" in body
    assert "30,000.00" in body or "30000.00" in body

    page.click(f"form[action$='/loans/applications/{application.pk}/accept/'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/loans/applications/{application.pk}/sign/")
    shot(page, "contract-to-sign")
    page.check("input[name=consent]")
    page.fill("input[name=password]", PASSWORD)
    page.click(f"form[action$='/loans/applications/{application.pk}/sign/'] button[type=submit]")
    page.wait_for_url(re.compile(rf"/loans/applications/{application.pk}/$"))
    shot(page, "funded")

    application.refresh_from_db()
    assert application.state == ApplicationState.FUNDED
    loan = application.loan
    assert loan.state == LoanState.ACTIVE
    assert loan.disbursement.status == "succeeded"
    first_due = loan.instalments.order_by("number").first().due_date
    page.goto(f"{live_server.url}/loans/loans/{loan.pk}/")
    shot(page, "loan")
    assert first_due.isoformat() in page.inner_text("main")
