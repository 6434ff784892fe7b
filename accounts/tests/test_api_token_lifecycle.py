"""API tokens go only to verified accounts, expire, are listed and revocable on the security page, and die with the
password that earned them and with the account."""

import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, make_user
from core.selectors.audit import audit_trail

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Osmanthus-Ferry-7391"


def obtain(email: str, password: str = DEFAULT_PASSWORD):
    return APIClient().post(
        reverse("api:auth-token"), {"email": email, "password": password}, format="json", REMOTE_ADDR="203.0.113.9"
    )


def api_get(key: str):
    return APIClient().get("/api/v1/applications/", HTTP_AUTHORIZATION=f"Token {key}")


@pytest.fixture
def unverified_owner(db):
    user = UserFactory(email="new@shop-d.example", roles=[Role.MERCHANT_OWNER])
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    return user


def test_an_account_whose_email_is_not_verified_gets_no_token(unverified_owner):
    response = obtain(unverified_owner.email)

    assert response.status_code == 403
    assert response.json() == {
        "code": "email_not_verified",
        "message": "Verify your email address first: sign in on the website and enter the code we email you.",
        "fields": {},
    }
    assert not Token.objects.exists()


def test_a_token_made_some_other_way_for_an_unverified_account_does_not_authenticate(unverified_owner):
    token = Token.objects.create(user=unverified_owner)

    response = api_get(token.key)

    assert response.status_code == 401
    assert response.json()["message"] == "Verify your email address before using the API."


def test_a_token_says_when_it_expires_and_is_refused_and_deleted_after_its_lifetime(settings, merchant):
    settings.API_TOKEN_LIFETIME = datetime.timedelta(days=7)
    answer = obtain(merchant.owner.email).json()
    token = Token.objects.get(key=answer["token"])
    assert datetime.datetime.fromisoformat(answer["expires"]) == token.created + datetime.timedelta(days=7)
    assert api_get(token.key).status_code == 200

    Token.objects.filter(pk=token.pk).update(created=timezone.now() - datetime.timedelta(days=7, seconds=1))
    refused = api_get(token.key)

    assert refused.status_code == 401
    assert refused.json() == {
        "code": "authentication_failed",
        "message": "This token has expired. Obtain a new one.",
        "fields": {},
    }
    assert not Token.objects.filter(user=merchant.owner).exists()
    fresh = obtain(merchant.owner.email).json()["token"]
    assert fresh != token.key
    assert api_get(fresh).status_code == 200


def test_obtaining_a_token_when_the_old_one_expired_replaces_it(settings, merchant):
    old = Token.objects.create(user=merchant.owner)
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - settings.API_TOKEN_LIFETIME)

    fresh = obtain(merchant.owner.email).json()["token"]

    assert fresh != old.key
    assert list(Token.objects.filter(user=merchant.owner).values_list("key", flat=True)) == [fresh]


def test_changing_the_password_on_the_web_kills_the_api_token(client, merchant):
    key = obtain(merchant.owner.email).json()["token"]
    client.force_login(merchant.owner)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    refused = api_get(key)
    assert refused.status_code == 401
    assert refused.json()["message"] == "Invalid token."
    assert [event.reason for event in audit_trail(merchant.owner) if event.action == "api_token.revoked"] == [
        "password changed"
    ]


def test_resetting_the_password_by_email_kills_the_api_token(client, merchant):
    key = obtain(merchant.owner.email).json()["token"]

    client.post(reverse("account_reset_password"), {"email": merchant.owner.email})
    link = re.search(r"https?://\S+/password/reset/key/\S+/", mail.outbox[-1].body).group(0)
    form = client.get(link, follow=True)
    response = client.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert api_get(key).status_code == 401
    assert obtain(merchant.owner.email, NEW_PASSWORD).status_code == 200


def test_deactivating_the_account_in_the_admin_kills_the_api_token(client, merchant):
    key = obtain(merchant.owner.email).json()["token"]
    admin = UserFactory(email="root@loanportal.example", is_staff=True, is_superuser=True)
    client.force_login(admin)

    owner = merchant.owner
    client.post(
        reverse("admin:accounts_user_change", args=[owner.pk]),
        {
            "email": owner.email,
            "first_name": "",
            "last_name": "",
            "is_active": "",
            "groups": [group.pk for group in owner.groups.all()],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    owner.refresh_from_db()
    assert owner.is_active is False
    assert not Token.objects.filter(user=owner).exists()
    assert api_get(key).status_code == 401


def test_the_security_page_lists_the_token_and_its_owner_can_revoke_it(client, merchant, other_merchant):
    key = obtain(merchant.owner.email).json()["token"]
    others = obtain(other_merchant.owner.email).json()["token"]
    client.force_login(merchant.owner)

    page = client.get(reverse("accounts:security"))

    html = page.content.decode()
    assert page.status_code == 200
    assert f"<code>{key[:6]}…</code>" in html
    assert key not in html
    assert others[:6] not in html

    response = client.post(reverse("accounts:security"), follow=True)

    assert "Your API token is revoked: programs using it are signed out." in response.content.decode()
    assert "You have no API token." in response.content.decode()
    assert api_get(key).status_code == 401
    assert api_get(others).status_code == 200


def test_the_security_page_needs_a_signed_in_user(client):
    response = client.get(reverse("accounts:security"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_partner_that_is_verified_still_gets_a_token(db):
    partner = make_user(Role.PARTNER, email="api@partner-z.example")

    assert obtain(partner.email).status_code == 200
