"""A merchant signs up, proves who it is, and an officer verifies it — in a real browser."""

import re

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD
from merchants.models import Merchant
from merchants.tests.files.samples import jpeg_bytes, licence_png, pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "owner@new-shop.example"
PASSWORD = "Ledger-Tea-Harbour-42"


def _code_from(mailoutbox) -> str:
    body = mailoutbox[-1].body
    match = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", body, re.MULTILINE)
    assert match, body
    return match.group(1)


def _sign_up_and_verify_email(page, live_server, mailoutbox, shot):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shot(page, "signup")
    page.click("main form button[type=submit]")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", _code_from(mailoutbox))
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/merchant/$"))
    shot(page, "dashboard-new")


def _complete_profile(page, live_server, shot):
    page.goto(f"{live_server.url}/merchant/profile/")
    page.fill("input[name=legal_name]", "杭州甲商贸有限公司")
    page.fill("input[name=credit_code]", "91330100799655058B")
    page.select_option("select[name=industry]", "F5211")
    page.select_option("select[name=province]", "330000")
    page.fill("input[name=city]", "杭州")
    page.fill("input[name=founded_on]", "2019-03-01")
    page.fill("input[name=legal_rep_name]", "张三")
    page.fill("input[name=legal_rep_id_number]", "11010519491231002X")
    page.fill("input[name=mobile]", "13912345678")
    page.fill("input[name=settlement_bank_name]", "招商银行杭州分行")
    page.fill("input[name=settlement_account_name]", "杭州甲商贸有限公司")
    page.fill("input[name=settlement_account_number]", "6225880012345678")
    page.click("form[action$='/merchant/profile/'] button[type=submit]")
    page.wait_for_load_state()
    shot(page, "profile-saved")
    assert page.locator(".errorlist").count() == 0


def _upload_documents(page, live_server, shot):
    page.goto(f"{live_server.url}/merchant/documents/")
    files = {
        "business_licence": ("licence.png", "image/png", licence_png()),
        "id_front": ("id-front.jpg", "image/jpeg", jpeg_bytes()),
        "id_back": ("id-back.pdf", "application/pdf", pdf_bytes()),
    }
    for kind, (name, mime, data) in files.items():
        form = page.locator(f"form:has(input[name=kind][value={kind}])")
        form.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
    shot(page, "documents-uploaded")


def test_merchant_signs_up_submits_kyc_and_an_officer_verifies_it(
    new_page, live_server, mailoutbox, shot, loan_officer
):
    page = new_page()
    _sign_up_and_verify_email(page, live_server, mailoutbox, shot)
    _complete_profile(page, live_server, shot)
    _upload_documents(page, live_server, shot)

    page.click("form[action$='/merchant/kyc/submit/'] button[type=submit]")
    page.wait_for_load_state()
    shot(page, "submitted")
    assert page.locator(".status").first.inner_text().strip() == "Submitted"
    merchant = Merchant.objects.get(owner__email=EMAIL)
    assert merchant.kyc_state == "submitted"

    officer = new_page()
    officer.goto(f"{live_server.url}/admin/merchants/merchant/{merchant.pk}/change/")
    officer.fill("input[name=login]", loan_officer.email)
    officer.fill("input[name=password]", DEFAULT_PASSWORD)
    officer.click("main form button[type=submit]")
    officer.wait_for_url(re.compile(rf"/admin/merchants/merchant/{merchant.pk}/change/$"))
    shot(officer, "officer-review")
    officer.click("button:has-text('Verify KYC')")
    officer.wait_for_load_state()
    shot(officer, "officer-confirm-verify")
    officer.fill("textarea[name=note]", "Licence, credit code and ID card match.")
    officer.click("input[name=confirm]")
    officer.wait_for_load_state()
    shot(officer, "officer-verified")

    page.goto(f"{live_server.url}/merchant/")
    shot(page, "dashboard-verified")
    assert page.locator(".status").first.inner_text().strip() == "Verified"
    merchant.refresh_from_db()
    assert merchant.kyc_state == "verified"
    assert merchant.kyc_reviewed_by == loan_officer
