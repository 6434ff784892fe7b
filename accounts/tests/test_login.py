"""Signing in by email: one answer for every failure, and failed attempts throttled per account and per IP."""

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.roles import Role
from accounts.tests.conftest import verify_email
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, make_user

pytestmark = pytest.mark.django_db

MISMATCH = "The email address and/or password you specified are not correct."
TOO_MANY = "Too many failed login attempts. Try again later."
# The limits under test, spelt out so the numbers in the assertions are visible here.
LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip", "signup": "20/m/ip", "confirm_email": "1/3m/key"}


def attempt(client, email: str, password: str, ip: str = "203.0.113.7"):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=ip)


def form_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def test_right_password_signs_the_merchant_in_and_opens_the_dashboard(client, verified_owner):
    response = attempt(client, verified_owner.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("merchants:dashboard")
    assert int(client.session["_auth_user_id"]) == verified_owner.pk


def test_email_is_matched_whatever_its_capitals(client, verified_owner):
    response = attempt(client, verified_owner.email.upper(), DEFAULT_PASSWORD)

    assert response.status_code == 302


def test_staff_land_in_the_back_office_after_signing_in(client, verified_officer):
    response = attempt(client, verified_officer.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_unknown_email_gets_exactly_the_answer_a_wrong_password_gets(client, verified_owner):
    wrong_password = attempt(client, verified_owner.email, "not-the-password")
    unknown_email = attempt(client, "nobody-here@example.com", "not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 200
    assert form_errors(wrong_password) == form_errors(unknown_email) == [MISMATCH]
    assert MISMATCH in wrong_password.content.decode()
    assert MISMATCH in unknown_email.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_after_five_failures_for_one_account_even_the_right_password_is_refused(client, verified_owner):
    # The attacker moves between addresses, so the per-IP limit is not what stops them.
    for n in range(5):
        response = attempt(client, verified_owner.email, f"guess-{n}", ip=f"198.51.100.{n + 1}")
        assert form_errors(response) == [MISMATCH]

    response = attempt(client, verified_owner.email, DEFAULT_PASSWORD, ip="198.51.100.99")

    assert response.status_code == 200
    assert form_errors(response) == [TOO_MANY]
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_the_account_lock_does_not_lock_out_other_accounts(client, verified_owner):
    other = make_user(Role.MERCHANT_OWNER, email="other-shop@example.com")
    verify_email(other)
    for n in range(5):
        attempt(client, verified_owner.email, f"guess-{n}", ip=f"198.51.100.{n + 1}")

    response = attempt(client, other.email, DEFAULT_PASSWORD, ip="198.51.100.50")

    assert response.status_code == 302


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_after_ten_failures_from_one_ip_across_many_emails_that_ip_is_refused(client, verified_owner):
    for n in range(10):
        response = attempt(client, f"sprayed-{n}@example.com", "Summer2024!", ip="192.0.2.66")
        assert form_errors(response) == [MISMATCH]

    from_same_ip = attempt(client, verified_owner.email, DEFAULT_PASSWORD, ip="192.0.2.66")
    from_elsewhere = attempt(client, verified_owner.email, DEFAULT_PASSWORD, ip="192.0.2.67")

    assert form_errors(from_same_ip) == [TOO_MANY]
    assert from_elsewhere.status_code == 302


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_a_successful_sign_in_does_not_count_as_a_failure(client, verified_owner):
    for _ in range(6):
        response = attempt(client, verified_owner.email, DEFAULT_PASSWORD)
        assert response.status_code == 302
        client.logout()


def test_an_unverified_address_is_sent_a_code_instead_of_signing_in(client, db):
    unverified = UserFactory(email="not-yet@shop.example", roles=[Role.MERCHANT_OWNER])
    response = attempt(client, unverified.email, DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
