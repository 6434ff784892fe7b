"""`manage.py load_demo`: one login per role, each able to sign in at once, and nothing doubled on a second run."""

import io

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.roles import Role
from core.models import AuditEvent
from lending.catalogue.models import LoanProduct
from merchants.choices import KycState
from merchants.models import Merchant, SalesDay
from merchants.services.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

LOGINS = {
    "merchant@demo.example": Role.MERCHANT_OWNER,
    "merchant2@demo.example": Role.MERCHANT_OWNER,
    "officer@demo.example": Role.LOAN_OFFICER,
    "senior@demo.example": Role.SENIOR_OFFICER,
    "risk@demo.example": Role.RISK_MANAGER,
    "admin@demo.example": None,
    "partner@demo.example": Role.PARTNER,
}
STAFF = {"officer@demo.example", "senior@demo.example", "risk@demo.example", "admin@demo.example"}


@pytest.fixture(autouse=True)
def _clear_cache():
    # Sign-in attempts are counted in the cache; start every test from zero.
    cache.clear()


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "memberships": User.groups.through.objects.count(),
        "addresses": EmailAddress.objects.count(),
        "tokens": Token.objects.count(),
        "merchants": Merchant.objects.count(),
        "sales days": SalesDay.objects.count(),
        "audit rows": AuditEvent.objects.count(),
    }


def test_running_twice_creates_nothing_more():
    load_demo()
    first = counts()
    token = Token.objects.get(user__email="partner@demo.example").key

    load_demo()

    assert counts() == first
    assert Token.objects.get(user__email="partner@demo.example").key == token
    assert first["users"] >= len(LOGINS)


def test_output_names_every_login_the_password_the_address_and_the_partner_token(settings):
    settings.STAFF_MFA_REQUIRED = False

    output = load_demo()

    for email in LOGINS:
        assert email in output
    assert f"the same password for all): {DEMO_PASSWORD}" in output
    assert "http://127.0.0.1:8000" in output
    assert f"Partner API token: {Token.objects.get(user__email='partner@demo.example').key}" in output
    assert "Staff second factor is relaxed in this demo (STAFF_MFA_REQUIRED=false)" in output


def test_output_says_staff_need_a_second_factor_when_it_is_required(settings):
    settings.STAFF_MFA_REQUIRED = True

    output = load_demo()

    assert "Staff second factor is required" in output
    assert "relaxed" not in output


def test_every_demo_user_has_its_role_and_a_verified_address():
    load_demo()

    for email, role in LOGINS.items():
        user = User.objects.get(email=email)
        assert user.is_staff == (email in STAFF), email
        assert EmailAddress.objects.filter(user=user, email=email, verified=True, primary=True).exists(), email
        roles = set(user.groups.values_list("name", flat=True))
        assert roles == ({role.value} if role else set()), email
    assert User.objects.get(email="admin@demo.example").is_superuser
    assert User.objects.get(email="officer@demo.example").is_officer


def test_every_demo_login_signs_in_through_the_portal_form_without_an_email_code(client):
    load_demo()

    for email in LOGINS:
        response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert response["Location"] != reverse("account_email_verification_sent"), email
        assert int(client.session["_auth_user_id"]) == User.objects.get(email=email).pk
        client.logout()


def test_the_first_merchant_is_verified_with_24_months_of_sales():
    load_demo()

    merchant = Merchant.objects.get(owner__email="merchant@demo.example")
    assert merchant.kyc_state == KycState.VERIFIED
    assert merchant.missing_profile_fields() == []
    days = merchant.sales_days.order_by("date")
    assert days.count() == 730
    assert (days.last().date - days.first().date).days == 729
    assert AuditEvent.objects.filter(object_id=str(merchant.pk), action="kyc.seed_verified").count() == 1


def test_the_second_merchant_has_a_half_filled_draft_to_finish():
    load_demo()

    merchant = Merchant.objects.get(owner__email="merchant2@demo.example")
    assert merchant.kyc_state == KycState.DRAFT
    assert merchant.legal_name
    assert "credit_code" in merchant.missing_profile_fields()
    assert "legal_rep_id_number" in merchant.missing_profile_fields()
    assert not merchant.sales_days.exists()


def test_a_second_run_keeps_what_visitors_changed():
    load_demo()
    merchant2 = Merchant.objects.get(owner__email="merchant2@demo.example")
    merchant2.city = "宁波"
    merchant2.save()
    officer = User.objects.get(email="officer@demo.example")
    officer.set_password("changed-by-the-officer")
    officer.save()

    load_demo()

    assert Merchant.objects.get(owner__email="merchant2@demo.example").city == "宁波"
    assert User.objects.get(email="officer@demo.example").check_password("changed-by-the-officer")


def test_a_demoted_demo_officer_is_put_back_so_the_printed_login_works():
    load_demo()
    User.objects.filter(email="officer@demo.example").update(is_staff=False, is_active=False)

    load_demo()

    officer = User.objects.get(email="officer@demo.example")
    assert officer.is_staff
    assert officer.is_active


def test_seeded_portfolio_merchants_sign_in_with_the_same_password(client):
    load_demo()

    assert Group.objects.get(name=Role.MERCHANT_OWNER).user_set.filter(email="shop1@demo.example").exists()
    assert client.login(email="shop1@demo.example", password=DEMO_PASSWORD)


def test_the_four_demo_products_are_loaded_once(db):
    load_demo()
    load_demo()

    assert sorted(LoanProduct.objects.filter(is_active=True).values_list("kind", flat=True)) == sorted(
        ["short_term_working_capital", "operating_loan", "instalment_loan", "sales_share_advance"]
    )


def test_the_verified_demo_merchant_is_shown_a_pre_approved_limit(client, db):
    load_demo()

    assert client.login(email="merchant@demo.example", password=DEMO_PASSWORD)
    limit = Merchant.objects.get(owner__email="merchant@demo.example").pre_approved_limit
    assert limit.amount > 0
    page = client.get(reverse("merchants:dashboard")).content.decode()
    assert "Pre-approved up to ¥" in page
    assert f"{limit.amount:,.2f}" in page
