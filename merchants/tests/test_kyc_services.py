"""The merchant profile and every KYC transition: allowed, wrong state, failed condition, no permission."""

import re
import threading

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from core.selectors.audit import audit_trail
from merchants.choices import KycState
from merchants.models import Merchant
from merchants.services.kyc import (
    KycError,
    kyc_reject,
    kyc_submit,
    kyc_verify,
    merchant_get_or_create,
    merchant_reinstate,
    merchant_suspend,
    merchant_update_profile,
)
from merchants.tests.factories import MerchantFactory
from merchants.tests.files.samples import add_required_documents


def fresh(merchant: Merchant) -> Merchant:
    # refresh_from_db() cannot reset a protected FSM field; a new instance is the reliable read.
    return Merchant.objects.get(pk=merchant.pk)


def actions(merchant: Merchant) -> list[str]:
    return [event.action for event in audit_trail(merchant)]


def kyc_message(exc_info) -> str:
    return " ".join(exc_info.value.messages)


@pytest.fixture
def ready_merchant(merchant):
    add_required_documents(merchant)
    return merchant


@pytest.fixture
def submitted_merchant(ready_merchant, merchant_owner):
    return kyc_submit(merchant=ready_merchant, by=merchant_owner)


@pytest.fixture
def verified_merchant(submitted_merchant, loan_officer):
    return kyc_verify(merchant=submitted_merchant, by=loan_officer)


# merchant_get_or_create


def test_first_visit_creates_a_draft_merchant_once(other_merchant_owner):
    created = merchant_get_or_create(owner=other_merchant_owner)
    again = merchant_get_or_create(owner=other_merchant_owner)
    assert created.pk == again.pk
    assert created.kyc_state == KycState.DRAFT
    assert actions(created) == ["merchant.create"]


def test_officers_never_get_a_merchant(loan_officer):
    with pytest.raises(PermissionDenied):
        merchant_get_or_create(owner=loan_officer)
    assert not Merchant.objects.filter(owner=loan_officer).exists()


# merchant_update_profile


def test_profile_update_normalises_codes_and_audits_field_names_only(merchant, merchant_owner):
    updated = merchant_update_profile(
        merchant=merchant,
        by=merchant_owner,
        data={"credit_code": "91330100 799655058b", "legal_rep_id_number": "11010519491231002x", "city": " 杭州 "},
    )
    stored = fresh(updated)
    assert (stored.credit_code, stored.legal_rep_id_number, stored.city) == (
        "91330100799655058B",
        "11010519491231002X",
        "杭州",
    )
    [event] = [e for e in audit_trail(merchant) if e.action == "profile.update"]
    assert event.actor == merchant_owner
    assert sorted(event.data["fields"]) == ["city", "credit_code", "legal_rep_id_number"]
    assert "11010519491231002X" not in str(event.data)


def test_profile_update_with_nothing_changed_writes_no_audit_row(merchant, merchant_owner):
    merchant_update_profile(merchant=merchant, by=merchant_owner, data={"city": merchant.city})
    assert actions(merchant) == []


def test_mistyped_credit_code_is_refused_and_nothing_is_half_saved(merchant, merchant_owner):
    with pytest.raises(ValidationError) as caught:
        merchant_update_profile(
            merchant=merchant, by=merchant_owner, data={"city": "杭州", "credit_code": "91330100799655058C"}
        )
    assert caught.value.message_dict["credit_code"] == [
        "The check character does not match: the last character should be B, not C."
    ]
    assert fresh(merchant).city == "深圳"
    assert actions(merchant) == []


def test_credit_code_of_another_merchant_is_refused_with_a_clear_message(merchant, merchant_owner, other_merchant):
    with pytest.raises(ValidationError) as caught:
        merchant_update_profile(merchant=merchant, by=merchant_owner, data={"credit_code": other_merchant.credit_code})
    assert caught.value.message_dict["credit_code"] == [
        "Another merchant has already registered this credit code. Check it against your licence."
    ]


def test_only_the_owner_changes_the_profile(merchant, other_merchant_owner, loan_officer):
    for outsider in (other_merchant_owner, loan_officer):
        with pytest.raises(PermissionDenied):
            merchant_update_profile(merchant=merchant, by=outsider, data={"city": "杭州"})
    assert fresh(merchant).city == "深圳"


def test_server_owned_fields_cannot_be_changed_through_the_profile(merchant, merchant_owner):
    with pytest.raises(ValidationError, match="cannot be changed here: kyc_state"):
        merchant_update_profile(merchant=merchant, by=merchant_owner, data={"kyc_state": KycState.VERIFIED})
    assert fresh(merchant).kyc_state == KycState.DRAFT


def test_submitted_profile_is_locked(submitted_merchant, merchant_owner):
    with pytest.raises(KycError) as caught:
        merchant_update_profile(merchant=submitted_merchant, by=merchant_owner, data={"city": "杭州"})
    assert kyc_message(caught) == "The profile cannot be changed while its KYC is Submitted."
    assert fresh(submitted_merchant).city == "深圳"


def test_rejected_profile_can_be_corrected(submitted_merchant, merchant_owner, loan_officer):
    kyc_reject(merchant=submitted_merchant, by=loan_officer, reason="Licence photo is blurred")
    merchant_update_profile(merchant=submitted_merchant, by=merchant_owner, data={"city": "杭州"})
    assert fresh(submitted_merchant).city == "杭州"


# kyc_submit


def test_owner_submits_a_complete_profile(ready_merchant, merchant_owner):
    submitted = kyc_submit(merchant=ready_merchant, by=merchant_owner)
    stored = fresh(submitted)
    assert stored.kyc_state == KycState.SUBMITTED
    assert stored.kyc_submitted_at is not None
    [event] = audit_trail(ready_merchant).filter(action="kyc.submit")
    assert (event.actor, event.from_state, event.to_state) == (merchant_owner, "draft", "submitted")


def test_submit_without_documents_lists_the_missing_documents(merchant, merchant_owner):
    with pytest.raises(KycError) as caught:
        kyc_submit(merchant=merchant, by=merchant_owner)
    assert kyc_message(caught) == "Before submitting, upload Business licence, ID card, front, ID card, back."
    assert fresh(merchant).kyc_state == KycState.DRAFT
    assert actions(merchant) == []


def test_submit_with_missing_fields_names_them(merchant_owner, other_merchant_owner):
    merchant = merchant_get_or_create(owner=other_merchant_owner)
    add_required_documents(merchant)
    with pytest.raises(KycError) as caught:
        kyc_submit(merchant=merchant, by=other_merchant_owner)
    message = kyc_message(caught)
    assert message.startswith("Before submitting, fill in Legal name, Unified social credit code, Industry")
    assert "Settlement account number" in message
    assert "upload" not in message


def test_submit_twice_is_refused_as_wrong_state(submitted_merchant, merchant_owner):
    with pytest.raises(KycError) as caught:
        kyc_submit(merchant=submitted_merchant, by=merchant_owner)
    assert kyc_message(caught) == "KYC can be submitted from draft or rejected; it is Submitted."
    assert actions(submitted_merchant).count("kyc.submit") == 1


def test_only_the_owner_can_submit(ready_merchant, other_merchant_owner, loan_officer):
    for outsider in (other_merchant_owner, loan_officer):
        with pytest.raises(PermissionDenied):
            kyc_submit(merchant=ready_merchant, by=outsider)
    assert fresh(ready_merchant).kyc_state == KycState.DRAFT


def test_resubmitting_after_rejection_clears_the_reason(submitted_merchant, merchant_owner, loan_officer):
    kyc_reject(merchant=submitted_merchant, by=loan_officer, reason="Licence photo is blurred")
    resubmitted = fresh(kyc_submit(merchant=submitted_merchant, by=merchant_owner))
    assert (resubmitted.kyc_state, resubmitted.kyc_rejection_reason) == (KycState.SUBMITTED, "")
    assert actions(submitted_merchant)[-3:] == ["kyc.submit", "kyc.reject", "kyc.submit"]


# kyc_verify


def test_loan_officer_verifies_and_the_merchant_is_emailed_after_commit(
    submitted_merchant, loan_officer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        kyc_verify(merchant=submitted_merchant, by=loan_officer)
    # Nothing is sent until the transaction commits.
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()

    stored = fresh(submitted_merchant)
    assert (stored.kyc_state, stored.kyc_reviewed_by) == (KycState.VERIFIED, loan_officer)
    [event] = audit_trail(stored).filter(action="kyc.verify")
    assert (event.actor, event.from_state, event.to_state) == (loan_officer, "submitted", "verified")
    [email] = mail.outbox
    assert email.to == ["owner@shop-a.example"]
    assert email.subject == "Your business is verified"
    assert "杭州甲商贸有限公司" in email.body


def test_verify_a_draft_is_refused_as_wrong_state(ready_merchant, loan_officer):
    with pytest.raises(KycError) as caught:
        kyc_verify(merchant=ready_merchant, by=loan_officer)
    assert kyc_message(caught) == "Only a submitted KYC can be verified; this one is Draft."
    assert fresh(ready_merchant).kyc_state == KycState.DRAFT


def test_verify_twice_is_refused(verified_merchant, loan_officer):
    with pytest.raises(KycError, match="this one is Verified"):
        kyc_verify(merchant=verified_merchant, by=loan_officer)
    assert actions(verified_merchant).count("kyc.verify") == 1


def test_merchant_owner_and_outsider_cannot_verify(
    submitted_merchant, merchant_owner, other_merchant_owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for outsider in (merchant_owner, other_merchant_owner):
            with pytest.raises(PermissionDenied):
                kyc_verify(merchant=submitted_merchant, by=outsider)
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED
    assert "kyc.verify" not in actions(submitted_merchant)
    assert mail.outbox == []


# kyc_reject


def test_officer_rejects_with_a_reason_the_merchant_reads(
    submitted_merchant, loan_officer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        kyc_reject(merchant=submitted_merchant, by=loan_officer, reason="  Licence photo is blurred  ")
    stored = fresh(submitted_merchant)
    assert (stored.kyc_state, stored.kyc_rejection_reason) == (KycState.REJECTED, "Licence photo is blurred")
    [event] = audit_trail(stored).filter(action="kyc.reject")
    assert (event.from_state, event.to_state, event.reason) == ("submitted", "rejected", "Licence photo is blurred")
    [email] = mail.outbox
    assert email.subject == "Your KYC needs changes"
    assert "Licence photo is blurred" in email.body


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_without_a_reason_is_refused(submitted_merchant, loan_officer, reason):
    with pytest.raises(KycError) as caught:
        kyc_reject(merchant=submitted_merchant, by=loan_officer, reason=reason)
    assert kyc_message(caught) == "A reason is required to reject a KYC; the merchant will read it."
    assert fresh(submitted_merchant).kyc_state == KycState.SUBMITTED


def test_reject_a_verified_merchant_is_refused(verified_merchant, loan_officer):
    with pytest.raises(KycError, match=re.escape("Only a submitted KYC can be rejected; this one is Verified.")):
        kyc_reject(merchant=verified_merchant, by=loan_officer, reason="Changed my mind")


def test_merchant_owner_cannot_reject(submitted_merchant, merchant_owner):
    with pytest.raises(PermissionDenied):
        kyc_reject(merchant=submitted_merchant, by=merchant_owner, reason="no")


def test_officer_who_owns_the_merchant_cannot_review_it(loan_officer):
    own = MerchantFactory(owner=loan_officer)
    add_required_documents(own)
    kyc_submit(merchant=own, by=loan_officer)
    with pytest.raises(PermissionDenied, match="Nobody can review their own merchant"):
        kyc_verify(merchant=own, by=loan_officer)


# merchant_suspend and merchant_reinstate


def test_senior_officer_suspends_and_reinstates(verified_merchant, senior_officer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        merchant_suspend(merchant=verified_merchant, by=senior_officer, reason="Fraud alert from payments")
        assert fresh(verified_merchant).kyc_state == KycState.SUSPENDED
        merchant_reinstate(merchant=verified_merchant, by=senior_officer, reason="Alert cleared")
    assert fresh(verified_merchant).kyc_state == KycState.VERIFIED
    events = list(audit_trail(verified_merchant).filter(action__startswith="merchant."))
    assert [(e.action, e.from_state, e.to_state, e.reason) for e in events] == [
        ("merchant.suspend", "verified", "suspended", "Fraud alert from payments"),
        ("merchant.reinstate", "suspended", "verified", "Alert cleared"),
    ]
    assert [email.subject for email in mail.outbox[-2:]] == [
        "Your merchant account is suspended",
        "Your merchant account is active again",
    ]


def test_loan_officer_may_not_suspend(verified_merchant, loan_officer):
    with pytest.raises(PermissionDenied):
        merchant_suspend(merchant=verified_merchant, by=loan_officer, reason="Fraud alert")
    assert fresh(verified_merchant).kyc_state == KycState.VERIFIED


def test_suspend_needs_a_verified_merchant_and_a_reason(submitted_merchant, senior_officer, loan_officer):
    with pytest.raises(KycError, match=re.escape("Only a verified merchant can be suspended; this one is Submitted.")):
        merchant_suspend(merchant=submitted_merchant, by=senior_officer, reason="Fraud alert")
    kyc_verify(merchant=submitted_merchant, by=loan_officer)
    with pytest.raises(KycError, match=re.escape("A reason is required to suspend a merchant.")):
        merchant_suspend(merchant=submitted_merchant, by=senior_officer, reason=" ")


def test_reinstate_needs_a_suspended_merchant(verified_merchant, senior_officer):
    with pytest.raises(KycError, match=re.escape("Only a suspended merchant can be reinstated; this one is Verified.")):
        merchant_reinstate(merchant=verified_merchant, by=senior_officer, reason="ok")


# Concurrency on the real database: the row lock lets exactly one of two simultaneous requests through.


def _race(target, count: int = 2) -> list[object]:
    barrier = threading.Barrier(count)
    outcomes: list[object] = []

    def run():
        try:
            barrier.wait()
            outcomes.append(target())
        except (KycError, PermissionDenied) as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_verifying_at_once_verify_exactly_once(submitted_merchant, loan_officer, senior_officer):
    officers = iter([loan_officer, senior_officer])
    lock = threading.Lock()

    def verify():
        with lock:
            officer = next(officers)
        return kyc_verify(merchant=submitted_merchant, by=officer)

    outcomes = _race(verify)
    assert sorted(type(o).__name__ for o in outcomes) == ["KycError", "Merchant"], outcomes
    [refusal] = [o for o in outcomes if isinstance(o, KycError)]
    assert "this one is Verified" in " ".join(refusal.messages)
    assert actions(submitted_merchant).count("kyc.verify") == 1
    assert fresh(submitted_merchant).kyc_state == KycState.VERIFIED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_double_click_on_submit_submits_exactly_once(ready_merchant, merchant_owner):
    outcomes = _race(lambda: kyc_submit(merchant=ready_merchant, by=merchant_owner))
    assert sorted(type(o).__name__ for o in outcomes) == ["KycError", "Merchant"], outcomes
    assert actions(ready_merchant).count("kyc.submit") == 1
