"""Signing the contract: the service's rules, then the sign page with its password or passkey re-authentication.

The contract is the accepted 20,000-yuan operating loan's, prepared as the task does it (``prepared_contract``).
"""

import hashlib
import threading
from unittest import mock

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD
from core.models import AuditEvent
from core.selectors.audit import audit_trail
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.contracts import (
    PASSWORD_ATTEMPTS,
    ContractConflict,
    ContractError,
    SignerLockedOut,
    consent_text,
    contract_create_for,
    signer_password_check,
)
from lending.origination.tests.factories import BROWSER, IP, prepared_contract, sign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_password_counters():
    # The wrong-password counters live in the cache; no test inherits another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def contract(accepted_application, django_capture_on_commit_callbacks) -> Contract:
    return prepared_contract(accepted_application, django_capture_on_commit_callbacks)


# The service.


def test_signing_records_signer_time_ip_browser_hash_consent_and_reauthentication(
    contract, settings, django_capture_on_commit_callbacks
):
    owner = contract.application.merchant.owner
    with django_capture_on_commit_callbacks(execute=False):
        signed = sign(contract)

    signed.refresh_from_db()
    assert signed.status == Contract.Status.SIGNED
    assert signed.signer == owner
    assert signed.signed_at is not None
    assert signed.signer_ip == IP
    assert signed.signer_user_agent == BROWSER
    assert signed.signed_sha256 == contract.sha256
    assert signed.consent_text_version == settings.CONTRACT_CONSENT_VERSION
    assert signed.reauthenticated_with == "password"
    application = LoanApplication.objects.get(pk=contract.application_id)
    assert application.state == ApplicationState.SIGNED
    assert application.signed_at is not None


def test_signing_writes_one_audit_row_for_the_contract_and_one_for_the_application(
    contract, django_capture_on_commit_callbacks
):
    owner = contract.application.merchant.owner
    with django_capture_on_commit_callbacks(execute=False):
        sign(contract)

    contract_sign_row = [e for e in audit_trail(contract) if e.action == "contract.sign"]
    assert [(e.actor, e.from_state, e.to_state) for e in contract_sign_row] == [(owner, "ready", "signed")]
    assert contract_sign_row[0].data["sha256"] == contract.sha256
    application_rows = [e for e in audit_trail(contract.application) if e.action == "application.sign"]
    assert [(e.actor, e.from_state, e.to_state) for e in application_rows] == [(owner, "contracted", "signed")]


def test_signing_queues_the_funding_task_after_the_commit(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sign(contract)
    assert len(callbacks) == 1

    with mock.patch("lending.origination.tasks.application_fund_task.delay") as delay:
        callbacks[0]()
    delay.assert_called_once_with(contract.application_id)


def test_after_signing_the_funding_task_funds_the_application(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign(contract)

    application = LoanApplication.objects.get(pk=contract.application_id)
    assert application.state == ApplicationState.FUNDED
    assert application.loan is not None


def test_signing_without_consent_is_refused_with_a_consent_field_error(contract):
    with pytest.raises(ContractError) as refused:
        sign(contract, consent=False)

    assert refused.value.message_dict == {"consent": ["You must agree to the contract terms"]}
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY
    assert LoanApplication.objects.get(pk=contract.application_id).state == ApplicationState.CONTRACTED


def test_only_the_merchants_owner_can_sign(contract, other_merchant_owner, loan_officer):
    for outsider in (other_merchant_owner, loan_officer):
        with pytest.raises(PermissionDenied):
            sign(contract, by=outsider)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY


def test_signing_without_reauthentication_is_refused(contract):
    with pytest.raises(PermissionDenied, match="Confirm it is you"):
        sign(contract, reauthenticated_with="")


def test_a_contract_still_being_prepared_cannot_be_signed(accepted_application, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        preparing = contract_create_for(application_id=accepted_application.pk)

    with pytest.raises(ContractConflict, match="being prepared") as refused:
        sign(preparing)
    assert refused.value.code == "not_ready"


def test_a_contract_of_an_application_in_the_wrong_state_cannot_be_signed(contract):
    # Withdrawn meanwhile by an officer's hand in the database: signing must look at the application too.
    LoanApplication.objects.filter(pk=contract.application_id).update(state=ApplicationState.WITHDRAWN)

    with pytest.raises(ContractConflict, match="cannot be signed while the application is Withdrawn"):
        sign(contract)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY


def test_a_signed_contract_cannot_be_signed_again(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = sign(contract)

    with pytest.raises(ContractConflict, match="already signed") as refused:
        sign(contract)

    assert refused.value.code == "already_signed"
    assert Contract.objects.get(pk=contract.pk).signed_at == first.signed_at
    assert AuditEvent.objects.filter(action="contract.sign", object_id=str(contract.pk)).count() == 1


def test_a_superseded_version_cannot_be_signed(contract, django_capture_on_commit_callbacks):
    LoanApplication.objects.filter(pk=contract.application_id).update(state=ApplicationState.ACCEPTED)
    newer = prepared_contract(contract.application, django_capture_on_commit_callbacks)

    with pytest.raises(ContractConflict, match="replaced by a newer one"):
        sign(contract)
    assert newer.version == 2
    assert Contract.objects.get(pk=newer.pk).status == Contract.Status.READY


def test_a_pdf_altered_on_storage_is_refused_and_the_refusal_is_recorded(contract):
    with contract.pdf.storage.open(contract.pdf.name, "wb") as stored:
        stored.write(b"%PDF-1.7 a different document")

    with pytest.raises(ContractConflict, match="does not match the one prepared") as refused:
        sign(contract)

    assert refused.value.code == "integrity_failed"
    contract.refresh_from_db()
    assert contract.status == Contract.Status.READY
    assert not contract.signed_sha256
    assert LoanApplication.objects.get(pk=contract.application_id).state == ApplicationState.CONTRACTED
    alarm = AuditEvent.objects.get(action="contract.integrity_failed", object_id=str(contract.pk))
    assert alarm.data == {
        "expected": contract.sha256,
        "found": hashlib.sha256(b"%PDF-1.7 a different document").hexdigest(),
    }


def test_a_pdf_missing_from_storage_is_refused(contract):
    contract.pdf.storage.delete(contract.pdf.name)

    with pytest.raises(ContractConflict, match="does not match the one prepared"):
        sign(contract)


def test_a_signed_contract_is_never_rendered_again(contract, django_capture_on_commit_callbacks):
    from lending.origination.services.contracts import contract_render

    with django_capture_on_commit_callbacks(execute=False):
        sign(contract)
    signed = Contract.objects.get(pk=contract.pk)

    again = contract_render(contract_id=contract.pk)

    assert (again.status, again.sha256, again.pdf.name) == ("signed", signed.sha256, signed.pdf.name)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_signatures_exactly_one_wins(accepted_application, django_capture_on_commit_callbacks):
    contract = prepared_contract(accepted_application, django_capture_on_commit_callbacks)
    attempts = 4
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            sign(Contract.objects.get(pk=contract.pk))
            outcomes.append("signed")
        except ApplicationConflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    # The funding task is not the subject here. It is patched once, around all the threads: patching a shared
    # attribute inside each thread would race, and a thread could restore another's mock for good.
    with mock.patch("lending.origination.tasks.application_fund_task.delay"):
        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(outcomes) == ["already_signed"] * (attempts - 1) + ["signed"]
    assert AuditEvent.objects.filter(action="contract.sign", object_id=str(contract.pk)).count() == 1
    assert LoanApplication.objects.get(pk=contract.application_id).state == ApplicationState.SIGNED


# The password check before signing.


def test_the_right_password_passes_and_a_wrong_one_names_the_password_field(merchant_owner):
    signer_password_check(user=merchant_owner, password=DEFAULT_PASSWORD)

    with pytest.raises(ContractError) as refused:
        signer_password_check(user=merchant_owner, password="not my password")
    assert list(refused.value.message_dict) == ["password"]
    assert "The password is not correct" in refused.value.message_dict["password"][0]
    assert f"{PASSWORD_ATTEMPTS - 1} attempt(s) left" in refused.value.message_dict["password"][0]


def test_after_five_wrong_passwords_even_the_right_one_is_refused_for_fifteen_minutes(merchant_owner):
    for _attempt in range(PASSWORD_ATTEMPTS - 1):
        with pytest.raises(ContractError, match="not correct"):
            signer_password_check(user=merchant_owner, password="guess")
    with pytest.raises(SignerLockedOut):
        signer_password_check(user=merchant_owner, password="guess")

    with pytest.raises(SignerLockedOut) as refused:
        signer_password_check(user=merchant_owner, password=DEFAULT_PASSWORD)
    assert "Too many wrong passwords" in refused.value.message_dict["password"][0]
    assert "15 minute(s)" in refused.value.message_dict["password"][0]
    assert 0 < refused.value.retry_after <= 15 * 60 + 1


def test_wrong_passwords_are_counted_per_user(merchant_owner, other_merchant_owner):
    for _attempt in range(PASSWORD_ATTEMPTS):
        with pytest.raises(ContractError):
            signer_password_check(user=other_merchant_owner, password="guess")

    signer_password_check(user=merchant_owner, password=DEFAULT_PASSWORD)


# The sign page.


def sign_url(application_id: int) -> str:
    return reverse("lending:contract-sign", kwargs={"pk": application_id})


def pdf_url(application_id: int) -> str:
    return reverse("lending:contract-pdf", kwargs={"pk": application_id})


def post_sign(client, contract: Contract, **fields):
    data = {"document_id": str(contract.document_id), "consent": "on", "password": DEFAULT_PASSWORD, **fields}
    data = {name: value for name, value in data.items() if value is not None}
    return client.post(sign_url(contract.application_id), data, REMOTE_ADDR=IP, HTTP_USER_AGENT=BROWSER)


def test_sign_page_embeds_the_pdf_with_the_consent_and_the_password_field(client, contract):
    client.force_login(contract.application.merchant.owner)

    response = client.get(sign_url(contract.application_id))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data="{pdf_url(contract.application_id)}"' in html
    assert f'src="{pdf_url(contract.application_id)}"' in html
    assert consent_text(language="en") in html
    assert 'name="consent"' in html
    assert 'type="password"' in html
    assert str(contract.document_id) in html
    # No passkey yet: no passkey button.
    assert "Use a passkey instead" not in html


def test_signing_on_the_page_with_password_and_consent_signs_and_says_so(
    client, contract, django_capture_on_commit_callbacks
):
    client.force_login(contract.application.merchant.owner)

    with django_capture_on_commit_callbacks(execute=False):
        response = post_sign(client, contract)

    assert response.status_code == 302
    assert response["Location"] == reverse("lending:application-detail", kwargs={"pk": contract.application_id})
    contract.refresh_from_db()
    assert (contract.status, contract.signer_ip, contract.signer_user_agent, contract.reauthenticated_with) == (
        "signed",
        IP,
        BROWSER,
        "password",
    )
    assert "You have signed your loan contract" in client.get(response["Location"]).content.decode()
    sign_page = client.get(sign_url(contract.application_id)).content.decode()
    assert "You signed this contract on" in sign_page
    assert contract.signed_sha256 in sign_page
    assert 'name="consent"' not in sign_page


def test_a_wrong_password_on_the_page_is_shown_at_the_password_field_and_nothing_is_signed(client, contract):
    client.force_login(contract.application.merchant.owner)

    response = post_sign(client, contract, password="not my password")

    assert response.status_code == 200
    assert "The password is not correct" in response.content.decode()
    assert response.context["form"].errors["password"]
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_the_page_refuses_a_sixth_password_with_a_clear_message(client, contract):
    client.force_login(contract.application.merchant.owner)
    for _attempt in range(PASSWORD_ATTEMPTS):
        post_sign(client, contract, password="guess")

    response = post_sign(client, contract)

    assert "Too many wrong passwords" in response.content.decode()
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_without_the_consent_ticked_the_page_says_it_must_be_given(client, contract):
    client.force_login(contract.application.merchant.owner)

    response = post_sign(client, contract, consent=None)

    assert response.status_code == 200
    assert response.context["form"].errors["consent"] == ["You must agree to the contract terms"]
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_another_merchant_gets_404_for_the_sign_page_the_signature_and_the_pdf(
    client, contract, other_merchant_owner, other_merchant
):
    client.force_login(other_merchant_owner)

    assert client.get(sign_url(contract.application_id)).status_code == 404
    assert post_sign(client, contract).status_code == 404
    assert client.get(pdf_url(contract.application_id)).status_code == 404
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY


def test_the_owner_reads_the_pdf_inline_in_a_frame_of_the_portal(client, contract):
    client.force_login(contract.application.merchant.owner)

    response = client.get(pdf_url(contract.application_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Cache-Control"] == "private, no-store"
    assert hashlib.sha256(response.content).hexdigest() == contract.sha256


def test_staff_see_the_pdf_only_with_the_view_contract_permission(client, contract, staff_without_role, loan_officer):
    client.force_login(staff_without_role)
    assert client.get(pdf_url(contract.application_id)).status_code == 404

    staff_without_role.user_permissions.add(
        Permission.objects.get(codename="view_contract", content_type__app_label="lending")
    )
    response = client.get(pdf_url(contract.application_id))
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == contract.sha256
    # Loan officers hold the permission through their role.
    client.force_login(loan_officer)
    assert client.get(pdf_url(contract.application_id)).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client, contract):
    response = client.get(sign_url(contract.application_id))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client.get(pdf_url(contract.application_id)).status_code == 302


def test_while_the_contract_is_prepared_the_page_says_so_and_refreshes(
    client, accepted_application, django_capture_on_commit_callbacks
):
    client.force_login(accepted_application.merchant.owner)
    before = client.get(sign_url(accepted_application.pk))
    with django_capture_on_commit_callbacks(execute=False):
        contract_create_for(application_id=accepted_application.pk)
    rendering = client.get(sign_url(accepted_application.pk))

    for response in (before, rendering):
        html = response.content.decode()
        assert response.status_code == 200
        assert "Your contract is being prepared" in html
        assert '<meta http-equiv="refresh" content="3">' in html
        assert 'name="consent"' not in html


@pytest.fixture
def passkey(merchant_owner) -> Authenticator:
    return Authenticator.objects.create(
        user=merchant_owner,
        type=Authenticator.Type.WEBAUTHN,
        data={"name": "Phone", "credential": {}, "passwordless": True},
    )


def test_use_a_passkey_instead_goes_to_allauths_reauthentication_and_back(client, contract, passkey):
    client.force_login(contract.application.merchant.owner)

    html = client.get(sign_url(contract.application_id)).content.decode()

    expected = f"{reverse('mfa_reauthenticate_webauthn')}?next=%2Floans%2Fapplications%2F{contract.application_id}"
    assert "Use a passkey instead" in html
    assert f'href="{expected}%2Fsign%2F"' in html


def test_after_a_passkey_reauthentication_the_merchant_signs_without_a_password(
    client, contract, passkey, django_capture_on_commit_callbacks
):
    client.force_login(contract.application.merchant.owner)
    back_to = sign_url(contract.application_id)
    # allauth's own re-authentication view, with the browser's WebAuthn assertion accepted as valid.
    with (
        mock.patch("allauth.mfa.webauthn.internal.auth.parse_authentication_response"),
        mock.patch("allauth.mfa.webauthn.internal.auth.complete_authentication", return_value=passkey),
    ):
        response = client.post(
            f"{reverse('mfa_reauthenticate_webauthn')}?next={back_to}",
            {"credential": '{"id": "passkey"}', "next": back_to},
        )
    assert response.status_code == 302
    assert response["Location"] == back_to
    page = client.get(back_to).content.decode()
    assert "You confirmed it is you with a passkey a moment ago." in page
    assert 'type="password"' not in page

    with django_capture_on_commit_callbacks(execute=False):
        post_sign(client, contract, password=None)

    contract.refresh_from_db()
    assert (contract.status, contract.reauthenticated_with) == ("signed", "passkey")


def test_a_passkey_reauthentication_older_than_allauths_timeout_no_longer_counts(client, contract, passkey, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    client.force_login(contract.application.merchant.owner)
    back_to = sign_url(contract.application_id)
    with (
        mock.patch("allauth.mfa.webauthn.internal.auth.parse_authentication_response"),
        mock.patch("allauth.mfa.webauthn.internal.auth.complete_authentication", return_value=passkey),
    ):
        reauthenticated = client.post(
            f"{reverse('mfa_reauthenticate_webauthn')}?next={back_to}", {"credential": '{"id": "passkey"}'}
        )
    assert reauthenticated["Location"] == back_to

    response = post_sign(client, contract, password=None)

    assert response.status_code == 200
    assert "Enter your password to confirm it is you." in response.content.decode()
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.READY
