"""The officers' KYC review in Django admin, driven through the test client as a loan officer."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import UserFactory
from core.models import AuditEvent
from core.selectors.audit import audit_trail
from merchants.choices import KycState
from merchants.models import Merchant
from merchants.services.kyc import kyc_submit
from merchants.tests.factories import SalesDayFactory
from merchants.tests.files.samples import add_required_documents

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

CHANGELIST = reverse("admin:merchants_merchant_changelist")


def fresh(merchant: Merchant) -> Merchant:
    return Merchant.objects.get(pk=merchant.pk)


def change_url(merchant: Merchant) -> str:
    return reverse("admin:merchants_merchant_change", args=[merchant.pk])


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def officer_client(client, loan_officer):
    client.force_login(loan_officer)
    return client


@pytest.fixture
def submitted_merchant(merchant, merchant_owner):
    add_required_documents(merchant)
    return kyc_submit(merchant=merchant, by=merchant_owner)


# Looking at merchants.


def test_officer_lists_and_searches_merchants(officer_client, submitted_merchant, other_merchant):
    response = officer_client.get(CHANGELIST, {"q": submitted_merchant.credit_code})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [submitted_merchant]
    response = officer_client.get(CHANGELIST, {"kyc_state__exact": KycState.SUBMITTED})
    assert list(response.context["cl"].result_list) == [submitted_merchant]


def test_merchant_page_masks_the_id_number_for_a_loan_officer(officer_client, submitted_merchant):
    content = officer_client.get(change_url(submitted_merchant)).content.decode()
    assert submitted_merchant.masked_id_number in content
    assert submitted_merchant.legal_rep_id_number not in content


def test_senior_officer_sees_the_full_id_number(client, senior_officer, submitted_merchant):
    client.force_login(senior_officer)
    content = client.get(change_url(submitted_merchant)).content.decode()
    assert submitted_merchant.legal_rep_id_number in content


def test_merchant_page_shows_document_previews_and_the_audit_trail(officer_client, submitted_merchant):
    content = officer_client.get(change_url(submitted_merchant)).content.decode()
    licence = submitted_merchant.documents.get(kind="business_licence")
    assert f'<img src="{reverse("merchants:document", args=[licence.pk])}"' in content
    assert "kyc.submit" in content
    assert "owner@shop-a.example" in content


def test_state_cannot_be_edited_in_the_admin(officer_client, submitted_merchant):
    response = officer_client.post(change_url(submitted_merchant), {"kyc_state": KycState.VERIFIED})
    assert response.status_code == 403
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED


# The actions.


def test_verify_action_verifies_through_the_service(officer_client, loan_officer, submitted_merchant):
    response = officer_client.post(
        CHANGELIST,
        {"action": "verify_kyc", "_selected_action": [submitted_merchant.pk], "index": 0, **CONFIRM},
        follow=True,
    )
    assert "KYC verified for 1 merchant(s)." in page_messages(response)
    stored = fresh(submitted_merchant)
    assert (stored.kyc_state, stored.kyc_reviewed_by) == (KycState.VERIFIED, loan_officer)
    [event] = audit_trail(stored).filter(action="kyc.verify")
    assert event.actor == loan_officer


def test_verify_action_reports_a_refusal_as_a_message(officer_client, merchant):
    response = officer_client.post(
        CHANGELIST, {"action": "verify_kyc", "_selected_action": [merchant.pk], "index": 0, **CONFIRM}, follow=True
    )
    assert page_messages(response) == ["杭州甲商贸有限公司: Only a submitted KYC can be verified; this one is Draft."]
    assert fresh(merchant).kyc_state == KycState.DRAFT


def test_reject_action_asks_for_a_reason_then_rejects(officer_client, submitted_merchant):
    selection = {"action": "reject_kyc", "_selected_action": [submitted_merchant.pk]}
    page = officer_client.post(CHANGELIST, {**selection, "index": 0})
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED

    blank = officer_client.post(CHANGELIST, {**selection, "apply": "1", "reason": "  "})
    assert blank.status_code == 200
    assert "This field is required." in blank.content.decode()
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED

    done = officer_client.post(
        CHANGELIST, {**selection, "apply": "1", "reason": "ID card photo is cut off"}, follow=True
    )
    assert "KYC rejected for 1 merchant(s)." in page_messages(done)
    stored = fresh(submitted_merchant)
    assert (stored.kyc_state, stored.kyc_rejection_reason) == (KycState.REJECTED, "ID card photo is cut off")


def test_staff_without_the_review_permission_cannot_use_the_actions(client, submitted_merchant):
    viewer = UserFactory(email="auditor@loanportal.example", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_merchant"))
    client.force_login(viewer)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "Verify KYC" not in response.content.decode()
    client.post(
        CHANGELIST, {"action": "verify_kyc", "_selected_action": [submitted_merchant.pk], "index": 0, **CONFIRM}
    )
    assert client.post(reverse("admin:merchants_merchant_kyc_verify", args=[submitted_merchant.pk])).status_code == 403
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED


# The buttons on one merchant's page.


def test_change_page_buttons_verify_a_submitted_merchant(officer_client, submitted_merchant):
    content = officer_client.get(change_url(submitted_merchant)).content.decode()
    verify_url = reverse("admin:merchants_merchant_kyc_verify", args=[submitted_merchant.pk])
    assert f'action="{verify_url}"' in content
    confirm_page = officer_client.post(verify_url)
    assert confirm_page.status_code == 200
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED
    response = officer_client.post(verify_url, CONFIRM, follow=True)
    assert response.redirect_chain[-1][0] == change_url(submitted_merchant)
    assert fresh(submitted_merchant).kyc_state == KycState.VERIFIED
    assert f'action="{verify_url}"' not in response.content.decode()


def test_change_page_reject_button_asks_for_a_reason(officer_client, submitted_merchant):
    reject_url = reverse("admin:merchants_merchant_kyc_reject", args=[submitted_merchant.pk])
    assert 'name="reason"' in officer_client.get(reject_url).content.decode()
    officer_client.post(reject_url, {"reason": "Licence expired", "apply": "1"})
    stored = fresh(submitted_merchant)
    assert (stored.kyc_state, stored.kyc_rejection_reason) == (KycState.REJECTED, "Licence expired")


# Documents and sales days are read-only.


def test_documents_and_sales_days_are_read_only_for_officers(officer_client, submitted_merchant):
    SalesDayFactory(merchant=submitted_merchant)
    document = submitted_merchant.documents.first()
    assert officer_client.get(reverse("admin:merchants_kycdocument_changelist")).status_code == 200
    assert officer_client.get(reverse("admin:merchants_kycdocument_change", args=[document.pk])).status_code == 200
    assert officer_client.get(reverse("admin:merchants_salesday_changelist")).status_code == 200
    assert officer_client.get(reverse("admin:merchants_salesday_add")).status_code == 403
    assert officer_client.get(reverse("admin:merchants_kycdocument_add")).status_code == 403


def test_verifying_asks_for_confirmation_and_a_note_first(officer_client, submitted_merchant):
    action = {"action": "verify_kyc", "_selected_action": [submitted_merchant.pk], "index": 0}

    page = officer_client.post(CHANGELIST, action)
    no_note = officer_client.post(CHANGELIST, {**action, "confirm": "1", "note": " "})

    assert page.status_code == 200
    assert str(submitted_merchant) in page.content.decode()
    assert "note" in page.content.decode()
    assert no_note.status_code == 400
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED
    officer_client.post(CHANGELIST, {**action, **CONFIRM})
    assert fresh(submitted_merchant).kyc_state == KycState.VERIFIED
    event = AuditEvent.objects.filter(action="kyc.verify").get()
    assert event.reason == CONFIRM["note"]
