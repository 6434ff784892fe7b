"""The fraud-alert queue in Django admin, driven through the test client as a loan officer."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

import underwriting.admin.fraud  # noqa: F401  (registers FraudAlert until underwriting.admin.engine imports it)
from accounts.web.views import admin_login
from config import urls as root_urls
from core.selectors.audit import audit_trail
from merchants.tests.factories import MerchantFactory
from underwriting.choices import FraudSignal
from underwriting.models import FraudAlert

# The admin's URLs are read from its registry when the URLconf is first loaded, which in a full test
# run may be before this module registered FraudAlert; this URLconf is built after the registration.
urlpatterns = [path("admin/login/", admin_login), path("admin/", admin.site.urls), *root_urls.urlpatterns]
pytestmark = pytest.mark.urls(__name__)


def changelist() -> str:
    return reverse("admin:underwriting_fraudalert_changelist")


def grant(user, *codenames: str) -> None:
    permissions = Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    user.user_permissions.add(*permissions)


def change_url(alert: FraudAlert) -> str:
    return reverse("admin:underwriting_fraudalert_change", args=[alert.pk])


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def fresh(alert: FraudAlert) -> FraudAlert:
    return FraudAlert.objects.get(pk=alert.pk)


@pytest.fixture
def officer_client(client, loan_officer):
    grant(loan_officer, "view_fraudalert", "change_fraudalert")
    client.force_login(loan_officer)
    return client


@pytest.fixture
def shared_account_alert(merchant, other_merchant):
    return FraudAlert.objects.create(
        merchant=merchant,
        signal=FraudSignal.SHARED_BANK_ACCOUNT,
        details={
            "account_last4": "0042",
            "other_merchant_ids": [other_merchant.pk],
            "other_merchant_count": 1,
            "message_en": "The settlement account ending 0042 is also the settlement account of 1 other merchant.",
            "message_zh": "尾号 0042 的结算账户同时是平台上另外 1 家商户的结算账户。",
        },
    )


@pytest.fixture
def velocity_alert(other_merchant):
    return FraudAlert.objects.create(
        merchant=other_merchant,
        signal=FraudSignal.APPLICATION_VELOCITY,
        details={"applications_last_30_days": 4, "threshold": 3, "message_en": "4 loan applications."},
    )


def test_fraud_alert_admin_is_registered():
    assert admin.site.is_registered(FraudAlert)


# Looking at alerts.


def test_officer_lists_alerts_by_status_and_signal(officer_client, shared_account_alert, velocity_alert):
    velocity_alert.status = FraudAlert.Status.CLEARED
    velocity_alert.save()
    response = officer_client.get(changelist(), {"status__exact": "open"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [shared_account_alert]
    response = officer_client.get(changelist(), {"signal__exact": FraudSignal.APPLICATION_VELOCITY})
    assert list(response.context["cl"].result_list) == [velocity_alert]
    assert "4 loan applications." in response.content.decode()


def test_alert_list_runs_the_same_queries_for_one_alert_or_many(officer_client, shared_account_alert):
    with CaptureQueriesContext(connection) as one:
        officer_client.get(changelist())
    for _ in range(10):
        FraudAlert.objects.create(merchant=MerchantFactory(), signal=FraudSignal.WINDOW_DRESSING, details={})
    with CaptureQueriesContext(connection) as many:
        officer_client.get(changelist())
    assert len(many) == len(one)


def test_alert_page_shows_details_with_links_to_the_other_merchants(
    officer_client, shared_account_alert, other_merchant
):
    content = officer_client.get(change_url(shared_account_alert)).content.decode()
    other_url = reverse("admin:merchants_merchant_change", args=[other_merchant.pk])
    assert f'<a href="{other_url}">#{other_merchant.pk} {other_merchant.legal_name}</a>' in content
    assert "<th>Settlement account ending</th><td>0042</td>" in content
    assert "is also the settlement account of 1 other merchant" in content
    assert "Clear (false positive)" in content
    assert "Confirm fraud" in content


def test_status_cannot_be_edited_in_the_admin(officer_client, shared_account_alert):
    response = officer_client.post(change_url(shared_account_alert), {"status": FraudAlert.Status.CLEARED})
    assert response.status_code == 403
    assert fresh(shared_account_alert).status == FraudAlert.Status.OPEN


def test_merchant_owner_is_sent_to_the_admin_login(client, merchant_owner, shared_account_alert):
    client.force_login(merchant_owner)
    response = client.get(change_url(shared_account_alert))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# The actions.


def action(client, name: str, alerts: list[FraudAlert], **extra):
    return client.post(changelist(), {"action": name, "_selected_action": [alert.pk for alert in alerts], **extra})


def test_clear_action_asks_for_a_note_first(officer_client, shared_account_alert):
    response = action(officer_client, "clear_alerts", [shared_account_alert])
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="note"' in content
    assert "will be closed as false positives" in content
    assert fresh(shared_account_alert).status == FraudAlert.Status.OPEN


def test_clear_action_with_a_note_clears_the_alert_with_one_audit_row(
    officer_client, loan_officer, shared_account_alert
):
    response = action(
        officer_client, "clear_alerts", [shared_account_alert], apply="1", note="Family business, same owner."
    )
    assert response.status_code == 302
    alert = fresh(shared_account_alert)
    assert alert.status == FraudAlert.Status.CLEARED
    assert alert.resolved_by == loan_officer
    assert alert.resolution_note == "Family business, same owner."
    (event,) = audit_trail(alert)
    assert (event.action, event.actor, event.reason) == ("fraud_alert.clear", loan_officer, alert.resolution_note)
    followed = officer_client.get(response["Location"])
    assert "1 alert(s) cleared as false positives." in page_messages(followed)


def test_action_without_a_note_shows_the_page_again_with_the_error(officer_client, shared_account_alert):
    response = action(officer_client, "confirm_alerts", [shared_account_alert], apply="1", note="")
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert fresh(shared_account_alert).status == FraudAlert.Status.OPEN
    assert not audit_trail(shared_account_alert).exists()


def test_confirm_action_confirms_open_alerts_and_refuses_resolved_ones(
    officer_client, shared_account_alert, velocity_alert
):
    velocity_alert.status = FraudAlert.Status.CLEARED
    velocity_alert.save()
    response = action(
        officer_client, "confirm_alerts", [shared_account_alert, velocity_alert], apply="1", note="Shell companies."
    )
    assert fresh(shared_account_alert).status == FraudAlert.Status.CONFIRMED
    assert fresh(velocity_alert).status == FraudAlert.Status.CLEARED
    messages = page_messages(officer_client.get(response["Location"]))
    assert "1 alert(s) confirmed as fraud." in messages
    assert any("already cleared; only open alerts can be cleared or confirmed." in message for message in messages)


def test_staff_without_the_change_permission_see_alerts_but_no_actions(
    client, staff_without_role, shared_account_alert
):
    grant(staff_without_role, "view_fraudalert")
    client.force_login(staff_without_role)
    response = client.get(changelist())
    assert response.status_code == 200
    assert "clear_alerts" not in response.content.decode()
    action(client, "clear_alerts", [shared_account_alert], apply="1", note="Fine.")
    assert fresh(shared_account_alert).status == FraudAlert.Status.OPEN
    assert client.get(reverse("admin:underwriting_fraudalert_clear", args=[shared_account_alert.pk])).status_code == 403


# The buttons on one alert's page.


def test_clear_button_on_the_alert_page_clears_it_and_returns_to_the_alert(officer_client, shared_account_alert):
    url = reverse("admin:underwriting_fraudalert_clear", args=[shared_account_alert.pk])
    assert 'name="note"' in officer_client.get(url).content.decode()
    response = officer_client.post(url, {"note": "Spoke to the owner; two shops, one account."})
    assert response.status_code == 302
    assert response["Location"] == change_url(shared_account_alert)
    assert fresh(shared_account_alert).status == FraudAlert.Status.CLEARED


def test_resolved_alert_page_offers_no_buttons(officer_client, shared_account_alert):
    officer_client.post(
        reverse("admin:underwriting_fraudalert_confirm", args=[shared_account_alert.pk]), {"note": "Fraud."}
    )
    content = officer_client.get(change_url(shared_account_alert)).content.decode()
    assert reverse("admin:underwriting_fraudalert_clear", args=[shared_account_alert.pk]) not in content
    assert "Confirmed fraud" in content
