"""The merchant's pages in a real browser: the dashboard with an active loan, paying (the confirmation page, then a
partial prepayment and the schedule after it), every page on a 390-pixel-wide phone, and a notice read in the
language the reader switches to."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from accounts.tests.factories import DEFAULT_PASSWORD
from core.services.notices import notify
from lending.catalogue.services.demo import products_seed
from lending.origination.tests.factories import signed_application
from lending.servicing.models import CollectionRequest, Loan
from lending.servicing.tests.factories import active_loan
from merchants.tests.factories import make_verified_merchant
from sandbox.models import SandboxTransfer
from sandbox.services import sandbox_collection_settle
from underwriting.models import PreApprovedLimit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390


@pytest.fixture
def borrower(merchant_owner):
    """A verified restaurant with two years of sales, 80,000.00 pre-approved, and a 12,000.00 loan paid out ten days
    ago (nothing has fallen due yet)."""
    merchant = make_verified_merchant(merchant_owner)
    PreApprovedLimit.objects.create(merchant=merchant, amount=Decimal("80000.00"), computed_at=timezone.now())
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=10))
    return merchant, loan


def sign_in(page, live_server, email: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_dashboard_shows_the_active_loan_and_what_is_left_of_the_line(new_page, live_server, borrower, shot):
    merchant, loan = borrower
    first = loan.instalments.get(number=1)
    page = new_page()
    sign_in(page, live_server, merchant.owner.email, "/merchant/")
    shot(page, "dashboard")

    card = page.locator(f"[data-loan='{loan.pk}']")
    assert "¥12,000.00" in card.locator("[data-outstanding]").inner_text()
    assert card.locator("[data-next-payment]").inner_text() == (
        f"¥{first.payment_due:,.2f} on {first.due_date.isoformat()}"
    )
    assert "0 of 12 instalments paid" in card.locator("[data-progress]").inner_text()
    assert page.locator("#credit-line-available").inner_text() == "¥68,000.00"

    card.get_by_role("link", name="Schedule and details").click()
    page.wait_for_url(re.compile(rf"/loans/loans/{loan.pk}/$"))
    assert page.locator("tr[data-number='1']").get_attribute("aria-current") == "true"


def test_a_prepayment_is_confirmed_before_it_is_asked_and_the_schedule_after_it_says_what_changed(
    new_page, live_server, borrower, shot
):
    merchant, loan = borrower
    before = list(loan.instalments.order_by("number"))
    page = new_page()
    sign_in(page, live_server, merchant.owner.email, f"/loans/loans/{loan.pk}/pay/")

    page.check("input[name=choice][value=prepay]")
    page.fill("input[name=amount]", "3000.00")
    page.check("input[name=keep][value=instalment]")
    page.click("main form button[type=submit]")
    # The confirmation names the amount and the account before anything is asked.
    page.wait_for_selector("#confirm-amount")
    shot(page, "confirm-prepayment")
    assert page.inner_text("#confirm-amount") == "¥3,000.00"
    account = merchant.settlement_account_number
    assert f"**** {account[-4:]}" in page.inner_text("#confirm-account")
    assert account not in page.content()
    assert page.inner_text("#confirm-keep") == "the same instalment, with a shorter term"
    assert not CollectionRequest.objects.exists()

    page.click("#confirm-pay")
    page.wait_for_url(re.compile(rf"/loans/loans/{loan.pk}/payments/$"))
    assert "pending" in page.inner_text("#collections").lower()

    # The platform's settlement confirms the collection; the prepayment is booked.
    transfer = SandboxTransfer.objects.get(kind=SandboxTransfer.Kind.COLLECTION, status="pending")
    sandbox_collection_settle(transfer_id=transfer.pk, confirm=True)
    loan = Loan.objects.get(pk=loan.pk)
    after = list(loan.instalments.order_by("number"))

    page.goto(f"{live_server.url}/loans/loans/{loan.pk}/")
    shot(page, "schedule-after-prepayment")
    said = page.inner_text("#prepayments")
    assert "chose a shorter term, keeping the instalment" in said
    assert f"now ends on {loan.maturity_date.isoformat()} instead of {before[-1].due_date.isoformat()}" in said
    # The numbering runs on from 1 without a gap, and the line of the prepayment is marked.
    numbers = [
        int(number)
        for number in page.locator("tr[data-number]").evaluate_all("rows => rows.map(r => r.dataset.number)")
    ]
    assert numbers == [row.number for row in after] == list(range(1, len(after) + 1))
    assert "repaid early" in page.inner_text("tr[data-number='1']")
    assert len(after) < len(before)  # a shorter term: fewer instalments


def test_every_merchant_page_fits_a_phone_without_sideways_scrolling(
    new_page, live_server, borrower, shot, django_capture_on_commit_callbacks
):
    merchant, loan = borrower
    products_seed()
    with translation.override("en"):
        notify(user_id=merchant.owner_id, title="Payment of 1,066.19 yuan received", body="A long " * 40)
    application = signed_application(merchant, loan.product)
    pages = [
        "/merchant/",
        "/merchant/profile/",
        "/merchant/documents/",
        "/merchant/sales/import/",
        "/loans/apply/",
        "/loans/apply/operating-loan/?amount=90000.00&term=12",
        "/loans/apply/operating-loan/confirm/?amount=20000.00&term=12&repayment_method=equal_instalment",
        "/loans/applications/",
        f"/loans/applications/{application.pk}/",
        "/loans/loans/",
        f"/loans/loans/{loan.pk}/",
        f"/loans/loans/{loan.pk}/pay/",
        f"/loans/loans/{loan.pk}/payments/",
        f"/loans/loans/{loan.pk}/defer/1/",
        "/loans/notices/",
        "/loans/calculator/",
        "/accounts/security/",
    ]
    for locale in ("en-US", "zh-CN"):
        page = new_page(locale=locale, width=PHONE, height=844)
        sign_in(page, live_server, merchant.owner.email, "/merchant/")
        too_wide = {}
        for path in pages:
            page.goto(f"{live_server.url}{path}")
            if overflow(page) > 0:
                too_wide[path] = overflow(page)
                shot(page, f"too-wide-{locale}")
        # The confirmation page of a payment (reached by the pay form's POST).
        page.goto(f"{live_server.url}/loans/loans/{loan.pk}/pay/")
        page.check("input[name=choice][value=other]")
        page.fill("input[name=amount]", "500.00")
        page.click("main form button[type=submit]")
        page.wait_for_selector("#confirm-amount")
        if overflow(page) > 0:
            too_wide["pay confirmation"] = overflow(page)
        shot(page, f"phone-confirm-{locale}")
        assert too_wide == {}, (locale, sorted(too_wide.items()))

    visitor = new_page(width=PHONE, height=844)
    for path in ("/", "/loans/calculator/", "/accounts/signup/", "/accounts/login/"):
        visitor.goto(f"{live_server.url}{path}")
        assert overflow(visitor) == 0, path
    shot(visitor, "phone-landing")


def test_a_notice_written_in_chinese_reads_in_english_and_switches_back(new_page, live_server, borrower, shot):
    merchant, _loan = borrower
    with translation.override("zh-hans"):
        notify(
            user_id=merchant.owner_id,
            title=translation.gettext("Payment of %(amount)s yuan received") % {"amount": "1,066.19"},
            body=translation.gettext("We received %(amount)s yuan for loan #%(id)s on %(date)s. Thank you.")
            % {"amount": "1,066.19", "id": 7, "date": "2027-01-03"},
        )
    page = new_page(locale="en-US")
    sign_in(page, live_server, merchant.owner.email, "/loans/notices/")

    notice = page.locator("[data-notice]").first
    assert "Payment of 1,066.19 yuan received" in notice.inner_text()
    assert "We received 1,066.19 yuan for loan #7 on 2027-01-03. Thank you." in notice.inner_text()

    page.click("form.lang-switch button[value='zh-hans']")
    page.wait_for_load_state()
    shot(page, "notice-in-chinese")
    notice = page.locator("[data-notice]").first
    assert "已收到 1,066.19 元还款" in notice.inner_text()
    assert "我们已于 2027-01-03 收到贷款 #7 的还款 1,066.19 元。谢谢！" in notice.inner_text()
