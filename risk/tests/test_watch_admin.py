"""The officers' pages of the fraud watch after payout: the list with its rules, an alert's evidence, the actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lending.servicing.models import Loan
from merchants.models import Merchant
from risk.models.watch import WatchAlert, WatchAlertKind, WatchAlertStatus
from risk.services.watch import watch_alerts_raise
from risk.tests.factories_watch import ON, history_around_payout, open_alert, paid_out_loan

LIST = reverse("admin:risk_watchalert_changelist")


@pytest.fixture
def alert(merchant):
    paid_out_loan(merchant)
    history_around_payout(merchant, before="1000.00", after="100.00")
    watch_alerts_raise(on=ON)
    return WatchAlert.objects.get(kind=WatchAlertKind.LOAN_AND_RUN)


def logged_in(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_list_states_the_thresholds_in_force_and_filters_by_status_and_kind(client, loan_officer, alert):
    page = logged_in(client, loan_officer).get(LIST, {"status__exact": "open", "kind__exact": "loan_and_run"})

    assert page.status_code == 200
    content = page.content.decode()
    assert "Loan-and-run: average daily sales since the payout below 40 % of the average before it." in content
    assert "Dormant: no platform sales at all in the last 14 days." in content
    assert "daily sales ¥1,000.00 before, ¥100.00 since (× 0.1000)" in content
    assert alert.merchant.legal_name in content


def test_an_alerts_page_shows_its_evidence_as_a_table_and_the_buttons(client, senior_officer, alert):
    page = logged_in(client, senior_officer).get(reverse("admin:risk_watchalert_change", args=[alert.pk]))

    content = page.content.decode()
    assert "<td>Daily average before (CNY, per reported day)</td><td>¥1,000.00</td>" in content
    assert "<td>Since ÷ before</td><td>0.1000</td>" in content
    assert "<td>Threshold RISK_WATCH_SALES_COLLAPSE_RATIO</td><td>0.40</td>" in content
    assert "2026-06-02 to 2026-06-21 (20 days, 20 reported by the platform)" in content
    assert "Open: the merchant may apply for new loans." in content
    for name in ("dismiss", "freeze", "fraud"):
        assert reverse(f"admin:risk_watchalert_{name}", args=[alert.pk]) in content
    assert 'name="_save"' not in content


def test_a_loan_officer_is_not_offered_marking_a_loan_as_fraud(client, loan_officer, alert):
    client = logged_in(client, loan_officer)
    page = client.get(reverse("admin:risk_watchalert_change", args=[alert.pk])).content.decode()

    assert reverse("admin:risk_watchalert_fraud", args=[alert.pk]) not in page
    assert client.get(reverse("admin:risk_watchalert_fraud", args=[alert.pk])).status_code == 403
    assert "confirm_fraud" not in client.get(LIST).content.decode()


def test_dismissing_from_the_list_asks_for_the_reason_first(client, loan_officer, alert):
    client = logged_in(client, loan_officer)
    selected = {"action": "dismiss_alerts", "_selected_action": [alert.pk]}

    asked = client.post(LIST, selected)
    assert asked.status_code == 200
    assert "These alerts will be closed as false positives" in asked.content.decode()
    without_note = client.post(LIST, {**selected, "confirm": "1", "note": ""})
    assert without_note.status_code == 400
    assert WatchAlert.objects.get(pk=alert.pk).status == WatchAlertStatus.OPEN

    done = client.post(LIST, {**selected, "confirm": "1", "note": "Refit; reopening Monday."}, follow=True)

    assert messages_of(done) == ["1 alert(s) dismissed."]
    assert WatchAlert.objects.get(pk=alert.pk).resolution_note == "Refit; reopening Monday."


def test_the_freeze_button_freezes_the_merchants_borrowing(client, loan_officer, alert):
    url = reverse("admin:risk_watchalert_freeze", args=[alert.pk])
    client = logged_in(client, loan_officer)

    response = client.post(url, {"confirm": "1", "note": "Calling the owner."}, follow=True)

    assert messages_of(response) == ["Borrowing frozen for 1 merchant(s)."]
    assert Merchant.objects.get(pk=alert.merchant_id).borrowing_frozen_reason == "Calling the owner."
    assert "Frozen since" in response.content.decode()


def test_a_senior_officer_marks_the_loan_as_fraud_from_the_list(client, senior_officer, merchant):
    alert = open_alert(merchant)
    client = logged_in(client, senior_officer)

    response = client.post(
        reverse("admin:risk_watchalert_changelist"),
        {"action": "confirm_fraud", "_selected_action": [alert.pk], "confirm": "1", "note": "Shop gone."},
        follow=True,
    )

    assert messages_of(response) == ["1 loan(s) marked as fraud."]
    assert WatchAlert.objects.get(pk=alert.pk).status == WatchAlertStatus.FRAUD
    assert Loan.objects.get(pk=alert.loan_id).fraud_marked_at is not None
    loan_page = client.get(reverse("admin:lending_loan_change", args=[alert.loan_id])).content.decode()
    assert "Shop gone." in loan_page
    assert "loan.mark_fraud" in loan_page  # its audit trail


def test_a_refusal_is_shown_as_a_message(client, loan_officer, merchant):
    alert = open_alert(merchant)
    client = logged_in(client, loan_officer)
    client.post(reverse("admin:risk_watchalert_freeze", args=[alert.pk]), {"confirm": "1", "note": "First."})

    response = client.post(
        reverse("admin:risk_watchalert_freeze", args=[alert.pk]), {"confirm": "1", "note": "Again."}, follow=True
    )

    assert messages_of(response)[0] == "Borrowing frozen for 1 merchant(s)."  # the first request's
    assert "borrowing is already frozen" in messages_of(response)[-1]


def test_the_back_office_index_lists_the_open_alerts(client, loan_officer, alert):
    content = logged_in(client, loan_officer).get(reverse("admin:index")).content.decode()

    assert "Fraud after payout" in content
    assert f"{LIST}?status__exact=open" in content


def test_someone_without_a_role_cannot_open_the_alerts(client, staff_without_role, alert):
    assert logged_in(client, staff_without_role).get(LIST).status_code == 403
