"""Every page carries a Content-Security-Policy, and the pages whose behaviour is script still work under it.

Chromium reports each blocked script, style, image or request as a ``securitypolicyviolation`` event; the pages
are driven as a person would (the calculator's live quote, the application screens, the back office's actions,
the API docs) and none may report one.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD
from lending.catalogue.services.demo import products_seed
from merchants.choices import KycState
from merchants.models import SalesDay
from merchants.tests.factories import MerchantFactory
from underwriting.services.demo import underwriting_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def open_page(new_page):
    """A page that records CSP violations and every main document's policy header."""
    opened = []

    def _open():
        page = new_page()
        page.add_init_script(RECORD_VIOLATIONS)
        page.policies = []
        page.on(
            "response",
            lambda response: (
                page.policies.append(response.headers.get("content-security-policy"))
                if response.request.resource_type == "document"
                else None
            ),
        )
        opened.append(page)
        return page

    yield _open
    for page in opened:
        assert page.evaluate("window.__cspViolations") == [], page.url
        assert page.policies, page.url
        assert all(policy and "script-src 'self'" in policy for policy in page.policies), page.policies


def sign_in(page, live_server, email: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def test_the_calculator_quotes_live_under_the_policy(open_page, live_server, shot):
    products_seed()
    page = open_page()
    page.goto(f"{live_server.url}/loans/calculator/")

    with page.expect_response(re.compile(r"/api/v1/quotes/$")) as answer:
        page.fill("input[name=amount]", "48000.00")
    assert answer.value.status == 200

    page.wait_for_function(
        "document.querySelector('[data-quote=\"apr\"]') && document.querySelector('[data-quote=\"apr\"]').textContent"
    )
    shot(page, "calculator-under-csp")
    apr = page.inner_text('[data-quote="apr"]')
    assert re.search(r"\d+\.\d+", apr)


def test_the_application_screens_work_under_the_policy(open_page, live_server, merchant_owner, shot):
    products_seed()
    underwriting_seed()
    merchant = MerchantFactory(owner=merchant_owner, kyc_state=KycState.VERIFIED)
    today = timezone.localdate()
    SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=today - datetime.timedelta(days=n),
            gross_sales=Decimal("3600.00"),
            refunds=Decimal("20.00"),
            transaction_count=90,
            distinct_customers=70,
        )
        for n in range(1, 731)
    )
    page = open_page()
    sign_in(page, live_server, merchant_owner.email, "/loans/apply/operating-loan/")

    with page.expect_response(re.compile(r"/api/v1/quotes/$")) as answer:
        page.fill("input[name=amount]", "30000.00")
        page.fill("input[name=term]", "12")
    assert answer.value.status == 200
    shot(page, "apply-terms-under-csp")

    page.click("#apply-form button[type=submit]:not([data-update])")
    page.wait_for_url(re.compile(r"/loans/apply/operating-loan/confirm/"))
    # apply.js disables the button once pressed; the submission still goes through.
    page.click("#confirm-form button[type=submit]")
    page.wait_for_url(re.compile(r"/loans/applications/\d+/$"))
    assert "30,000.00" in page.inner_text("main") or "30000.00" in page.inner_text("main")


def test_the_back_office_actions_work_under_the_policy(open_page, live_server, loan_officer, merchant, shot):
    page = open_page()
    sign_in(page, live_server, loan_officer.email, "/admin/merchants/merchant/")

    page.check("#action-toggle")
    # Django admin's actions.js counts the selection; without script the counter would not change.
    page.wait_for_function("document.querySelector('.action-counter').textContent.startsWith('1 of 1')")
    shot(page, "admin-under-csp")


def test_the_api_docs_render_under_the_policy(open_page, live_server):
    page = open_page()
    page.goto(f"{live_server.url}/api/v1/docs/")

    page.wait_for_selector("text=Obtain an API token")
