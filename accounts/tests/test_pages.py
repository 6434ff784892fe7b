"""allauth's pages render inside the portal's layout, in English and in Chinese."""

import re

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

PORTAL_FOOTER = "Every price is shown with its annual percentage rate (APR)."


def assert_in_portal_layout(response, *texts: str) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    assert '<header class="topbar">' in html
    assert 'href="/static/css/portal.css"' in html
    assert 'class="footer"' in html
    for text in texts:
        assert text in html
    return html


@pytest.mark.parametrize(
    ("url_name", "text"),
    [
        ("account_login", "Sign in with a passkey"),
        ("account_signup", "Sign up using a passkey"),
        ("account_signup_by_passkey", "Passkey Sign Up"),
        ("account_reset_password", "Password Reset"),
        ("account_reset_password_done", "We have sent you an email"),
    ],
)
def test_signed_out_pages_render_in_the_portal_layout(client, url_name, text):
    response = client.get(reverse(url_name))

    html = assert_in_portal_layout(response, text)
    assert '<form method="post"' in html or url_name == "account_reset_password_done"


def test_sign_in_page_puts_the_form_on_a_card_and_the_title_in_the_head(client):
    html = assert_in_portal_layout(client.get(reverse("account_login")))

    assert re.search(r"<title>\s*Sign In\s*· Merchant Loans</title>", html)
    assert 'class="card"' in html
    assert 'name="login"' in html
    assert 'name="password"' in html


def test_email_code_page_renders_in_the_portal_layout_after_signing_up(client):
    client.post(
        reverse("account_signup"),
        {"email": "dumplings@example.com", "password1": "Lychee-Harbour-2041", "password2": "Lychee-Harbour-2041"},
    )

    response = client.get(reverse("account_email_verification_sent"))

    html = assert_in_portal_layout(response, "Enter Email Verification Code", 'name="code"', "dumplings@example.com")
    assert re.search(r"<title>\s*Enter Email Verification Code\s*· Merchant Loans</title>", html)


def test_password_reset_link_page_renders(client, verified_owner):
    key = default_token_generator.make_token(verified_owner)
    url = reverse("account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(verified_owner), "key": key})

    response = client.get(url, follow=True)

    assert_in_portal_layout(response, "Change Password", 'name="password1"')


def sign_in(client, user) -> None:
    # allauth asks for the password again before any two-factor change, even right after signing in;
    # confirming it here lets the tests reach the set-up pages themselves.
    client.force_login(user)
    response = client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content.decode()


@pytest.mark.parametrize(
    ("url_name", "text"),
    [
        ("mfa_index", "Security Keys"),
        ("mfa_activate_totp", "Activate Authenticator App"),
        ("mfa_add_webauthn", "Add Security Key"),
        ("account_change_password", "Change Password"),
        ("account_email", "Email Addresses"),
        ("account_logout", "Are you sure you want to sign out?"),
    ],
)
def test_signed_in_account_pages_render_in_the_portal_layout_with_the_account_menu(
    client, verified_owner, url_name, text
):
    sign_in(client, verified_owner)

    html = assert_in_portal_layout(client.get(reverse(url_name)), text)

    assert '<nav class="subnav"' in html or url_name == "account_logout"


def test_every_user_can_start_adding_a_passkey_from_the_security_page(client, verified_owner):
    sign_in(client, verified_owner)

    html = assert_in_portal_layout(client.get(reverse("mfa_index")), "No security keys have been added.")
    assert f'href="{reverse("mfa_add_webauthn")}"' in html

    add_page = assert_in_portal_layout(client.get(reverse("mfa_add_webauthn")), "Add Security Key")
    assert 'id="mfa_webauthn_add"' in add_page


def test_two_factor_changes_after_an_old_sign_in_ask_for_the_password_in_the_portal_layout(client, verified_owner):
    client.force_login(verified_owner)

    response = client.get(reverse("mfa_add_webauthn"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert_in_portal_layout(response, "Confirm Access", 'name="password"')


def test_second_factor_step_of_sign_in_renders_in_the_portal_layout(client, verified_owner):
    TOTP.activate(verified_owner, generate_totp_secret())

    response = client.post(
        reverse("account_login"), {"login": verified_owner.email, "password": DEFAULT_PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("mfa_authenticate")
    assert_in_portal_layout(response, "Two-Factor Authentication", 'name="code"')
    assert Authenticator.objects.filter(user=verified_owner).count() == 1


def test_sign_in_page_speaks_chinese_when_chinese_is_chosen(client):
    client.cookies["django_language"] = "zh-hans"

    html = assert_in_portal_layout(client.get(reverse("account_login")))

    assert '<html lang="zh-CN">' in html
    assert PORTAL_FOOTER not in html, "the portal's own strings are translated too"
    # allauth ships its own Chinese translations.
    assert "登录" in html
