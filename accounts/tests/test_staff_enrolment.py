"""An administrator provisions a staff member's first second factor with a one-time link."""

import datetime
import io
import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffEnrolment
from accounts.roles import Role
from accounts.services.staff_enrolment import staff_enrolment_issue
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, make_user
from core.selectors.audit import audit_trail

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s]+/accounts/security/enrol/([\w-]+)/")


@pytest.fixture(autouse=True)
def _staff_mfa_required(settings):
    settings.STAFF_MFA_REQUIRED = True


@pytest.fixture
def administrator(db):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    admin = UserFactory(email="root@loanportal.example", is_staff=True, is_superuser=True)
    TOTP.activate(admin, generate_totp_secret())
    return admin


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def sign_in(client, user) -> None:
    client.force_login(user)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})


def issue_in_the_back_office(client, administrator, staff) -> str:
    client.force_login(administrator)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "issue_enrolment_link", "_selected_action": [staff.pk]},
    )
    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(shown) == 1
    assert shown[0].startswith(f"Enrolment link for {staff.email} (works once, within 24 hours):")
    client.logout()
    return LINK.search(shown[0]).group(1)


def test_with_the_administrators_link_a_staff_member_adds_an_app_and_reaches_the_back_office(
    client, administrator, loan_officer
):
    token = issue_in_the_back_office(client, administrator, loan_officer)
    sign_in(client, loan_officer)
    assert client.get(reverse("admin:index")).status_code == 403

    page = client.get(reverse("accounts:staff-enrol", args=[token]))
    assert "It works once." in page.content.decode()
    redeemed = client.post(reverse("accounts:staff-enrol", args=[token]))
    assert redeemed["Location"] == reverse("mfa_activate_totp")
    form = client.get(reverse("mfa_activate_totp")).context["form"]
    activated = client.post(reverse("mfa_activate_totp"), {"code": current_code(form.secret)})

    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=loan_officer, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("admin:index")).status_code == 200
    assert [event.action for event in audit_trail(loan_officer) if event.action.startswith("staff_enrolment")] == [
        "staff_enrolment.issued",
        "staff_enrolment.used",
    ]


def test_a_link_works_once(client, loan_officer):
    token = staff_enrolment_issue(user=loan_officer, by=None)
    sign_in(client, loan_officer)
    client.post(reverse("accounts:staff-enrol", args=[token]))
    client.logout()

    sign_in(client, loan_officer)
    again = client.post(reverse("accounts:staff-enrol", args=[token]))

    assert again.status_code == 404
    assert "This enrolment link is not valid" in again.content.decode()
    assert client.get(reverse("mfa_activate_totp")).status_code == 403


def test_opening_the_link_does_not_spend_it(client, loan_officer):
    token = staff_enrolment_issue(user=loan_officer, by=None)
    sign_in(client, loan_officer)

    client.get(reverse("accounts:staff-enrol", args=[token]))

    assert StaffEnrolment.objects.get(user=loan_officer).used_at is None


def test_a_link_issued_for_someone_else_does_not_open_the_set_up_pages(client, loan_officer, senior_officer):
    token = staff_enrolment_issue(user=senior_officer, by=None)
    sign_in(client, loan_officer)

    response = client.post(reverse("accounts:staff-enrol", args=[token]))

    assert response.status_code == 404
    assert client.get(reverse("mfa_activate_totp")).status_code == 403
    assert StaffEnrolment.objects.get(user=senior_officer).used_at is None


def test_an_expired_link_is_refused(client, loan_officer):
    token = staff_enrolment_issue(user=loan_officer, by=None)
    StaffEnrolment.objects.filter(user=loan_officer).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    sign_in(client, loan_officer)

    assert client.post(reverse("accounts:staff-enrol", args=[token])).status_code == 404


def test_a_new_link_replaces_the_unused_one(client, loan_officer):
    first = staff_enrolment_issue(user=loan_officer, by=None)
    second = staff_enrolment_issue(user=loan_officer, by=None)
    sign_in(client, loan_officer)

    assert client.post(reverse("accounts:staff-enrol", args=[first])).status_code == 404
    assert client.post(reverse("accounts:staff-enrol", args=[second])).status_code == 302


def test_merchants_get_no_enrolment_link(client, administrator):
    owner = make_user(Role.MERCHANT_OWNER, email="owner@shop-e.example")
    client.force_login(administrator)

    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "issue_enrolment_link", "_selected_action": [owner.pk]},
    )

    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "owner@shop-e.example: Enrolment links are only for active staff accounts."
    ]
    assert not StaffEnrolment.objects.exists()


def test_the_first_administrator_gets_a_link_from_the_command_line(loan_officer):
    out = io.StringIO()

    call_command("staff_enrolment_link", loan_officer.email, stdout=out)

    assert re.match(r"^/accounts/security/enrol/[\w-]+/\n\(works once, within 24 hours, signed in as ", out.getvalue())
    assert StaffEnrolment.objects.filter(user=loan_officer, used_at__isnull=True).count() == 1
