"""Sign-up by email: a code is emailed, entering it verifies the address and opens the merchant dashboard."""

import re

import pytest
from allauth.account.checks import settings_check as account_settings_check
from allauth.account.models import EmailAddress
from allauth.mfa.checks import settings_check as mfa_settings_check
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from core.selectors.audit import audit_trail

pytestmark = pytest.mark.django_db

PASSWORD = "Lychee-Harbour-2041"


def emailed_code(message) -> str:
    # The code stands alone on its own line in the message body.
    match = re.search(r"^\s*([A-Z0-9]{4,}(?:-[A-Z0-9]+)*)\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def sign_up(client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})


def test_signup_emails_a_code_and_asks_for_it_without_signing_in(client):
    response = sign_up(client, "New.Shop@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.shop@example.com"]
    assert mail.outbox[0].subject.startswith("[Merchant Loans] ")
    assert "Hello from Merchant Loans!" in mail.outbox[0].body
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Enter Email Verification Code" in page.content.decode()
    assert not page.wsgi_request.user.is_authenticated


def test_entering_the_emailed_code_verifies_the_address_and_opens_the_dashboard(client):
    sign_up(client, "noodles@example.com")
    code = emailed_code(mail.outbox[0])

    response = client.post(reverse("account_email_verification_sent"), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == reverse("merchants:dashboard")
    user = User.objects.get(email="noodles@example.com")
    assert EmailAddress.objects.filter(user=user, email="noodles@example.com", verified=True, primary=True).exists()
    assert user.has_role(Role.MERCHANT_OWNER)
    assert not user.is_staff
    assert int(client.session["_auth_user_id"]) == user.pk


def test_signup_grants_the_merchant_owner_role_with_an_audit_row(client):
    sign_up(client, "tea-house@example.com")

    user = User.objects.get(email="tea-house@example.com")
    rows = list(audit_trail(user))
    assert [(row.action, row.data, row.actor_id) for row in rows] == [
        ("role_granted", {"role": "merchant owner"}, user.pk)
    ]


def test_a_wrong_code_is_refused_and_the_address_stays_unverified(client):
    sign_up(client, "bakery@example.com")
    code = emailed_code(mail.outbox[0])
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)

    response = client.post(reverse("account_email_verification_sent"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not EmailAddress.objects.filter(email="bakery@example.com", verified=True).exists()
    assert "_auth_user_id" not in client.session


def test_signing_up_again_with_a_taken_email_looks_the_same_and_creates_nobody(client, verified_owner):
    response = sign_up(client, verified_owner.email)

    # The same "we sent you a code" answer as a real sign-up, so nobody learns which emails have accounts;
    # the owner gets an email saying someone tried.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email=verified_owner.email).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [verified_owner.email]


def test_mismatched_passwords_name_the_field(client):
    response = client.post(
        reverse("account_signup"), {"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD + "!"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == ["You must type the same password each time."]
    assert not User.objects.filter(email="x@example.com").exists()


def test_passkey_signup_verifies_the_email_by_code_before_creating_the_passkey(client):
    response = client.post(reverse("account_signup_by_passkey"), {"email": "passkey-shop@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="passkey-shop@example.com")
    assert not user.has_usable_password()
    assert user.has_role(Role.MERCHANT_OWNER)

    response = client.post(reverse("account_email_verification_sent"), {"code": emailed_code(mail.outbox[0])})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_signup_webauthn")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Create Passkey" in page.content.decode()


def test_allauth_accepts_the_passkey_signup_and_code_verification_settings():
    # Passkey sign-up needs mandatory verification by code and a required email; allauth checks that at start-up.
    assert mfa_settings_check(None) == []
    assert account_settings_check(None) == []
