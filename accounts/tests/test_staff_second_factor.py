"""Staff reach the back office only through the portal's sign-in and only with a second factor, which they cannot
give themselves: an administrator issues a one-time enrolment link."""

import pytest
from allauth.core.context import request_context
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.web.views import admin_login

pytestmark = pytest.mark.django_db

REFUSAL = "Your staff account has no second factor yet, so the back office is closed to it"


@pytest.fixture
def staff_mfa_required(settings):
    settings.STAFF_MFA_REQUIRED = True


def current_totp_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


@pytest.mark.usefixtures("staff_mfa_required")
def test_staff_without_a_second_factor_cannot_open_the_back_office(client, verified_officer):
    client.force_login(verified_officer)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 403
    html = response.content.decode()
    assert REFUSAL in html
    assert "Ask an administrator for a one-time enrolment link." in html


@pytest.mark.usefixtures("staff_mfa_required")
def test_every_admin_page_is_covered_not_only_the_index(client, verified_officer):
    client.force_login(verified_officer)

    response = client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 403


@pytest.mark.usefixtures("staff_mfa_required")
@pytest.mark.parametrize("url_name", ["mfa_activate_totp", "mfa_add_webauthn", "mfa_generate_recovery_codes"])
def test_staff_holding_only_a_password_cannot_enrol_their_own_factor(client, verified_officer, url_name):
    client.force_login(verified_officer)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})

    shown = client.get(reverse(url_name))
    posted = client.post(reverse(url_name), {"code": "123456"})

    assert shown.status_code == posted.status_code == 403
    assert REFUSAL in shown.content.decode()
    assert not Authenticator.objects.filter(user=verified_officer).exists()


@pytest.mark.usefixtures("staff_mfa_required")
def test_staff_with_an_authenticator_app_reach_the_back_office(client, verified_officer):
    TOTP.activate(verified_officer, generate_totp_secret())
    client.force_login(verified_officer)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "Back office" in response.content.decode()


@pytest.mark.usefixtures("staff_mfa_required")
def test_recovery_codes_alone_do_not_count_as_a_second_factor(client, verified_officer):
    RecoveryCodes.activate(verified_officer)
    client.force_login(verified_officer)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 403


@pytest.mark.usefixtures("staff_mfa_required")
def test_merchants_may_add_their_own_factors(client, verified_owner):
    client.force_login(verified_owner)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})

    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 200
    assert REFUSAL not in response.content.decode()
    assert not Authenticator.objects.filter(user=verified_owner).exists()


def test_the_demo_setting_lets_staff_without_a_second_factor_in(client, settings, verified_officer):
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(verified_officer)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200


@pytest.mark.usefixtures("staff_mfa_required")
@pytest.mark.urls("accounts.tests.urls")
def test_staff_sign_in_with_password_and_authenticator_code_then_reach_admin(client, verified_officer):
    secret = generate_totp_secret()
    TOTP.activate(verified_officer, secret)

    start = client.get(reverse("admin:index"), follow=True)
    assert [url for url, _status in start.redirect_chain] == [
        "/admin/login/?next=/admin/",
        "/accounts/login/?next=%2Fadmin%2F",
    ]

    response = client.post(
        "/accounts/login/?next=%2Fadmin%2F",
        {"login": verified_officer.email, "password": DEFAULT_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": current_totp_code(secret)})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.usefixtures("staff_mfa_required")
@pytest.mark.urls("accounts.tests.urls")
def test_a_wrong_authenticator_code_keeps_staff_out(client, verified_officer):
    secret = generate_totp_secret()
    TOTP.activate(verified_officer, secret)
    client.post(reverse("account_login"), {"login": verified_officer.email, "password": DEFAULT_PASSWORD})
    right = current_totp_code(secret)
    wrong = "000000" if right != "000000" else "111111"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.urls("accounts.tests.urls")
def test_django_admins_own_password_form_is_never_shown(client, verified_officer):
    response = client.post("/admin/login/", {"username": verified_officer.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def call_admin_login(path: str, user):
    """Call the view directly, as Django's admin would, with what the middleware normally provides."""
    request = RequestFactory().get(path)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    # allauth reads the current request from its context (AccountMiddleware sets it on real requests).
    with request_context(request):
        return request, admin_login(request)


def test_admin_login_sends_visitors_to_the_portal_sign_in_and_keeps_where_they_were_going():
    _request, response = call_admin_login("/admin/login/?next=/admin/merchants/merchant/", AnonymousUser())

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fmerchants%2Fmerchant%2F"


def test_admin_login_ignores_a_next_address_on_another_site():
    _request, response = call_admin_login("/admin/login/?next=https://evil.example/phish", AnonymousUser())

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert response["Location"].startswith("/accounts/login/?next=")


def test_admin_login_sends_a_signed_in_merchant_home_with_a_reason(verified_owner):
    request, response = call_admin_login("/admin/login/?next=/admin/", verified_owner)

    assert response.status_code == 302
    assert response["Location"] == reverse("merchants:dashboard")
    assert [str(m) for m in get_messages(request)] == ["Your account has no access to the back office."]


def test_admin_login_lets_signed_in_staff_through_to_the_back_office(verified_officer):
    _request, response = call_admin_login("/admin/login/", verified_officer)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
