"""Making the contract from the accepted offer, rendering it to PDF after commit, and its versions.

The accepted application comes from the real services (``lending/tests/conftest.py``): an operating loan of
20,000 yuan over 12 months for 杭州甲商贸有限公司. ``prepared_contract`` runs the task the acceptance queued.
"""

import hashlib
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.applications import application_accept
from lending.origination.services.contract_pdf import amount_in_chinese_capitals
from lending.origination.services.contracts import (
    ContractConflict,
    contract_create_for,
    contract_pdf_bytes,
    contract_render,
)
from lending.origination.tasks import contract_prepare_task
from lending.origination.tests.factories import apply_for, prepared_contract

pytestmark = pytest.mark.django_db

PLATFORM_NAME_ZH = "示例支付科技有限公司"
MERCHANT_NAME = "杭州甲商贸有限公司"


def pdf_text(contract: Contract) -> tuple[str, int]:
    """The PDF's text with runs of whitespace made single spaces, and its number of pages."""
    reader = PdfReader(io.BytesIO(contract_pdf_bytes(contract=contract)))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.split()), len(reader.pages)


@pytest.fixture
def contract(accepted_application, django_capture_on_commit_callbacks) -> Contract:
    return prepared_contract(accepted_application, django_capture_on_commit_callbacks)


# Making the contract.


def test_accepted_offer_gets_a_contract_printing_every_term_of_the_offer(
    accepted_application, django_capture_on_commit_callbacks
):
    application = accepted_application
    with django_capture_on_commit_callbacks(execute=False):
        contract = contract_create_for(application_id=application.pk)

    terms = contract.terms
    merchant = application.merchant
    assert contract.version == 1
    assert terms["platform"]["legal_name"] == settings.PLATFORM_LEGAL_NAME
    assert terms["funding_partners"] == []
    assert terms["borrower"]["legal_name"] == MERCHANT_NAME
    assert terms["borrower"]["credit_code"] == merchant.credit_code
    assert terms["borrower"]["city"] == merchant.city
    assert terms["borrower"]["province"]["code"] == merchant.province
    assert terms["borrower"]["legal_rep_name"] == merchant.legal_rep_name
    # The legal representative's ID is printed masked, never in full.
    assert terms["borrower"]["legal_rep_id_masked"] == merchant.masked_id_number
    assert merchant.legal_rep_id_number not in str(terms)
    assert terms["product"]["name_zh"] == application.product.name_zh
    assert terms["product"]["name_en"] == application.product.name_en
    assert terms["amount"] == "20000.00"
    assert terms["term"] == 12
    assert terms["repayment_method"]["code"] == application.offer_repayment_method
    assert terms["apr"] == f"{application.offer_apr:.2f}"
    assert Decimal(terms["price"]["value"]) == application.offer_price
    assert terms["schedule"] == application.offer_quote["schedule"]
    assert terms["totals"]["total_repayable"] == application.offer_quote["total_repayable"]
    assert terms["fees"]["origination_fee"] == application.offer_quote["origination_fee"]
    assert terms["late_fee"]["daily_rate"] == application.offer_terms["late_fee"]["daily_rate"]
    assert terms["grace_days"] == application.offer_terms["grace_days"]
    assert terms["prepayment"]["policy"]["code"] == application.offer_terms["prepayment"]["policy"]
    assert terms["consent_text_version"] == settings.CONTRACT_CONSENT_VERSION
    assert contract.consent_text_version == settings.CONTRACT_CONSENT_VERSION


def test_making_the_contract_moves_the_application_to_contracted_with_one_audit_row_each(
    accepted_application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        contract = contract_create_for(application_id=accepted_application.pk)

    accepted_application.refresh_from_db()
    assert accepted_application.state == ApplicationState.CONTRACTED
    transitions = [(e.action, e.from_state, e.to_state) for e in audit_trail(accepted_application)]
    assert transitions[-1] == ("application.attach_contract", "accepted", "contracted")
    assert [(e.action, e.to_state, e.actor) for e in audit_trail(contract)] == [("contract.create", "rendering", None)]


def test_the_pdf_is_rendered_after_the_commit_never_inside_the_transaction(
    accepted_application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contract = contract_create_for(application_id=accepted_application.pk)

    contract.refresh_from_db()
    assert contract.status == Contract.Status.RENDERING
    assert not contract.pdf
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY


def test_an_application_that_is_not_accepted_gets_no_contract(approved_application):
    with pytest.raises(ContractConflict, match="accepted offer"):
        contract_create_for(application_id=approved_application.pk)

    assert not Contract.objects.filter(application=approved_application).exists()
    approved_application.refresh_from_db()
    assert approved_application.state == ApplicationState.APPROVED


# Rendering.


def test_rendered_contract_is_stored_with_the_sha256_of_its_bytes_and_is_ready(contract):
    assert contract.status == Contract.Status.READY
    assert contract.rendered_at is not None
    stored = contract_pdf_bytes(contract=contract)
    assert stored.startswith(b"%PDF-")
    assert contract.sha256 == hashlib.sha256(stored).hexdigest()
    assert contract.pdf.name.startswith("contracts/")
    render = AuditEvent.objects.get(action="contract.render", object_id=str(contract.pk))
    assert (render.from_state, render.to_state, render.data["sha256"]) == ("rendering", "ready", contract.sha256)


def test_merchant_is_told_its_contract_is_ready_to_sign(contract):
    notice = Notice.objects.get(user=contract.application.merchant.owner, title="Your contract is ready to sign")
    assert notice.url == f"/loans/applications/{contract.application_id}/sign/"


def test_pdf_text_has_the_amount_apr_every_due_date_the_parties_the_document_id_and_page_numbers(contract):
    text, pages = pdf_text(contract)
    application = contract.application

    assert "¥20,000.00" in text
    assert "CNY 20,000.00" not in text  # amounts read as on every page, in both languages
    assert "人民币贰万元整" in text
    assert f"{application.offer_apr:.2f}%" in text
    due_dates = [line["due_date"] for line in application.offer_quote["schedule"]]
    assert len(due_dates) == 12
    for due_date in due_dates:
        assert due_date in text
    assert PLATFORM_NAME_ZH in text
    assert MERCHANT_NAME in text
    assert application.merchant.credit_code in text
    assert application.merchant.masked_id_number in text
    assert application.merchant.legal_rep_id_number not in text
    # Every page carries the document id and its number out of the total.
    assert text.count(str(contract.document_id)) >= pages
    for page in range(1, pages + 1):
        assert f"第 {page} 页 / 共 {pages} 页 · Page {page} of {pages}" in text


def test_the_contract_states_the_deferral_rule_of_the_product(contract):
    text = " ".join(pdf_text(contract)[0].split())

    assert contract.terms["deferral"] == {"max_days": 30, "per_loan": 1}
    assert "每次最多 30 天" in text
    assert "最多 1 次" in text
    assert "by up to 30 days" in text


def test_pdf_is_in_chinese_with_the_cjk_font_named_not_downloaded(contract):
    reader = PdfReader(io.BytesIO(contract_pdf_bytes(contract=contract)))
    fonts = {
        str(font.get_object()["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()
    }
    assert any("Noto-Sans-CJK-SC" in name for name in fonts), fonts
    assert reader.trailer["/Root"]["/Lang"] == "zh-CN"


def test_rendering_again_leaves_a_ready_contract_and_its_hash_unchanged(contract):
    before = (contract.sha256, contract.pdf.name, contract.rendered_at)

    again = contract_render(contract_id=contract.pk)

    again.refresh_from_db()
    assert (again.sha256, again.pdf.name, again.rendered_at) == before
    assert AuditEvent.objects.filter(action="contract.render", object_id=str(contract.pk)).count() == 1


def test_running_the_prepare_task_again_makes_no_second_contract(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contract_prepare_task.delay(contract.application_id)

    assert Contract.objects.filter(application_id=contract.application_id).count() == 1
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY


def test_a_sales_share_advance_prints_the_share_of_sales_and_its_projected_schedule(
    verified_merchant_with_sales, loan_products, decisions_approve, django_capture_on_commit_callbacks
):
    application = apply_for(verified_merchant_with_sales, loan_products["sales-share-advance"], term=None)
    assert application.state == ApplicationState.APPROVED, application.decision.reasons
    with django_capture_on_commit_callbacks(execute=False):
        application_accept(application=application, by=application.merchant.owner)

    contract = prepared_contract(application, django_capture_on_commit_callbacks)

    share = contract.terms["sales_share"]
    text, _pages = pdf_text(contract)
    assert contract.status == Contract.Status.READY
    assert contract.terms["term"] is None
    assert f"每日销售额的 {share['share_percent']}%" in text
    assert f"{share['share_percent']}% of Party B's daily sales" in text
    assert share["term_limit_date"] in text
    for line in application.offer_quote["schedule"]:
        assert line["due_date"] in text
    assert "may ask to move the due date" not in " ".join(text.split())


# Versions.


def _accept_again(application: LoanApplication, *, offer_amount: Decimal) -> None:
    # The journey has no transition back from contracted yet (a counter-offer after the contract is made); the
    # re-accepted offer with new terms is set up directly, as that path would leave it.
    LoanApplication.objects.filter(pk=application.pk).update(state=ApplicationState.ACCEPTED, offer_amount=offer_amount)


def test_new_terms_make_a_new_version_and_supersede_the_unsigned_one(contract, django_capture_on_commit_callbacks):
    _accept_again(contract.application, offer_amount=Decimal("18000.00"))

    newer = prepared_contract(contract.application, django_capture_on_commit_callbacks)

    contract.refresh_from_db()
    assert contract.status == Contract.Status.SUPERSEDED
    assert (newer.version, newer.status, newer.terms["amount"]) == (2, Contract.Status.READY, "18000.00")
    assert newer.document_id != contract.document_id
    assert newer.sha256 != contract.sha256
    supersede = AuditEvent.objects.get(action="contract.supersede", object_id=str(contract.pk))
    assert (supersede.from_state, supersede.to_state) == ("ready", "superseded")


def test_a_superseded_version_being_rendered_is_not_made_ready(
    accepted_application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        first = contract_create_for(application_id=accepted_application.pk)
    _accept_again(accepted_application, offer_amount=Decimal("18000.00"))
    with django_capture_on_commit_callbacks(execute=False):
        contract_create_for(application_id=accepted_application.pk)

    contract_render(contract_id=first.pk)

    first.refresh_from_db()
    assert first.status == Contract.Status.SUPERSEDED
    assert not first.pdf


# The amount in words.


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        ("50000.00", "人民币伍万元整"),
        ("20000.00", "人民币贰万元整"),
        ("10001.50", "人民币壹万零壹元伍角"),
        ("100000.05", "人民币壹拾万元零伍分"),
        ("1010.00", "人民币壹仟零壹拾元整"),
        ("100010000.00", "人民币壹亿零壹万元整"),
        ("305000.25", "人民币叁拾万伍仟元贰角伍分"),
        ("0.50", "人民币伍角"),
    ],
)
def test_amount_is_written_in_chinese_financial_capitals(amount, capitals):
    assert amount_in_chinese_capitals(Decimal(amount)) == capitals


def test_rendering_a_contract_leaves_pillow_refusing_cut_off_images():
    # WeasyPrint switches Pillow to accept truncated images when imported; uploads depend on the opposite.
    from PIL import ImageFile

    from core.pdf import html_to_pdf

    html_to_pdf('<html lang="zh-CN"><body><p>合同</p></body></html>')
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_the_contract_states_the_cap_on_late_fees_with_the_grace_days_included(contract):
    text = "".join(pdf_text(contract)[0].split())

    assert contract.terms["late_fee"]["cost_cap_percent"] == "24.00"
    assert "按年化24.00%（一年按365天）计算的金额" in text
    assert "自到期日起（含宽限期）" in text
    assert "neverexceed24.00%ayearofitsoverdueamountforthedayssinceitsduedate,gracedaysincluded" in text


def test_the_contract_states_in_both_languages_that_interest_runs_from_the_payout_date(contract):
    text = pdf_text(contract)[0]
    chinese = text.replace(" ", "")  # a line break inside a Chinese sentence comes out as a space
    priced_on = timezone.localdate(contract.application.decided_at).isoformat()

    assert contract.terms["interest_start"] == {"rule": "payout_date", "schedule_assumes": priced_on}
    assert "本借款自甲方将借款支付至乙方收款账户之日" in chinese
    assert f"上表按{priced_on}放款测算" in chinese
    assert "首期还款日为放款日后一个月的同一日" in chinese
    assert "重新计算后的应还总额和年化利率均不高于本合同所载" in chinese
    assert "随放款通知向乙方提供最终还款计划（PDF文件）" in chinese
    assert "interest runs from the day Party A pays the loan into Party B's settlement account" in text
    assert f"The schedule above assumes the loan is paid out on {priced_on}." in text
    assert "the first due date is one month after the payout date, on the same day of the month" in text
    assert "The total repayable and the APR so calculated are never higher than those in this contract" in text
    assert "Party A sends Party B the final repayment schedule as a PDF with the payout notice" in text
