"""POST /api/v1/auth/token/ and DELETE /api/v1/auth/token/revoke/: tokens for API clients such as partner banks."""

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

# Errors come in the API's one shape (core.api.exceptions).
MISMATCH = {"code": "invalid_credentials", "message": "Email or password is not correct.", "fields": {}}
LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip", "signup": "20/m/ip", "confirm_email": "1/3m/key"}


@pytest.fixture
def api():
    return APIClient()


def obtain(api, email: str, password: str, ip: str = "203.0.113.20"):
    return api.post(reverse("api:auth-token"), {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def test_right_credentials_return_a_token_that_authenticates(api, partner_user):
    response = obtain(api, partner_user.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=partner_user).key
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.delete(reverse("api:auth-token-revoke")).status_code == 204


def test_asking_twice_returns_the_same_token(api, partner_user):
    first = obtain(api, partner_user.email, DEFAULT_PASSWORD).json()["token"]
    second = obtain(api, partner_user.email.upper(), DEFAULT_PASSWORD).json()["token"]

    assert first == second
    assert Token.objects.filter(user=partner_user).count() == 1


def test_wrong_password_and_unknown_email_get_the_same_401_body(api, partner_user):
    wrong_password = obtain(api, partner_user.email, "not-the-password")
    unknown_email = obtain(api, "nobody@partner-bank.example", "not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password["WWW-Authenticate"] == 'Token realm="api"'
    assert wrong_password.json() == unknown_email.json() == MISMATCH
    assert not Token.objects.exists()


def test_missing_fields_are_named(api):
    response = api.post(reverse("api:auth-token"), {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "email": ["Enter a valid email address."],
        "password": ["This field is required."],
    }


def test_inactive_user_gets_no_token(api, partner_user):
    partner_user.is_active = False
    partner_user.save()

    response = obtain(api, partner_user.email, DEFAULT_PASSWORD)

    assert response.status_code == 401
    assert response.json() == MISMATCH


def test_a_revoked_token_is_refused_afterwards(api, partner_user):
    token = obtain(api, partner_user.email, DEFAULT_PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api.delete(reverse("api:auth-token-revoke")).status_code == 204

    response = api.delete(reverse("api:auth-token-revoke"))
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "message": "Invalid token.", "fields": {}}
    assert not Token.objects.filter(user=partner_user).exists()


def test_revoking_needs_a_token(api):
    response = api.delete(reverse("api:auth-token-revoke"))

    assert response.status_code == 401


def test_more_than_twenty_requests_a_minute_from_one_ip_get_429_with_retry_after(api, partner_user):
    # Even successful requests count: the limit is on traffic, the account lock (below) on failures.
    for _ in range(20):
        assert obtain(api, partner_user.email, DEFAULT_PASSWORD, ip="198.51.100.40").status_code == 200

    response = obtain(api, partner_user.email, DEFAULT_PASSWORD, ip="198.51.100.40")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    assert obtain(api, partner_user.email, DEFAULT_PASSWORD, ip="198.51.100.41").status_code == 200


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_after_five_wrong_passwords_the_account_is_locked_on_the_api_too(api, partner_user):
    for n in range(5):
        assert obtain(api, partner_user.email, f"guess-{n}", ip=f"198.51.100.{n + 1}").status_code == 401

    response = obtain(api, partner_user.email, DEFAULT_PASSWORD, ip="198.51.100.77")

    assert response.status_code == 429
    assert int(response["Retry-After"]) == 300
    assert response.json()["code"] == "throttled"
    assert response.json()["message"].startswith("Too many failed login attempts. Try again later.")
    assert not Token.objects.exists()


@override_settings(ACCOUNT_RATE_LIMITS=LIMITS)
def test_failures_on_the_api_count_towards_the_web_sign_in_lock(api, client, verified_owner):
    for n in range(5):
        obtain(api, verified_owner.email, f"guess-{n}", ip=f"198.51.100.{n + 1}")

    response = client.post(reverse("account_login"), {"login": verified_owner.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    assert list(response.context["form"].non_field_errors()) == ["Too many failed login attempts. Try again later."]
