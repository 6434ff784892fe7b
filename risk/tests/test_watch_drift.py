"""Model governance on a schedule: the daily population stability readings, and drift alerts for risk managers."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from core.exceptions import StateConflict
from core.models import Notice
from core.selectors.audit import audit_trail
from risk.models.watch import DriftAlert, DriftAlertStatus, StabilityReading
from risk.services.watch_drift import drift_alert_acknowledge, stability_readings_compute
from risk.tasks import model_drift_task
from risk.tests.factories_watch import active_scorecard, at, decided

DAY = datetime.date(2026, 6, 30)


@pytest.fixture
def scorecard(db):
    return active_scorecard(activated=at(DAY - datetime.timedelta(days=200)))


def test_the_days_score_psi_is_stored_and_a_stable_one_raises_nothing(scorecard, merchant):
    # Bands get 2, 2, 4, 2 of 10 against 20/30/30/20 %: PSI 0.0693 (as the monitoring page computes it).
    decided(
        scorecard,
        merchant,
        ["540", "549.99", "550", "599", "600", "610", "620", "649.99", "650", "700"],
        at_moment=at(DAY - datetime.timedelta(days=2)),
    )

    run = stability_readings_compute(on=DAY)

    reading = StabilityReading.objects.get()
    assert (reading.subject, reading.psi, reading.decisions, reading.baseline, reading.threshold) == (
        "score",
        Decimal("0.0693"),
        10,
        "training",
        Decimal("0.2500"),
    )
    assert (run.readings, run.alerts) == (1, 0)
    assert not DriftAlert.objects.exists()


def test_a_shifted_population_raises_a_drift_alert_and_tells_the_risk_managers(
    scorecard, merchant, risk_manager, loan_officer, django_capture_on_commit_callbacks
):
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))

    with django_capture_on_commit_callbacks() as callbacks:
        run = stability_readings_compute(on=DAY)

    alert = DriftAlert.objects.get()
    assert (alert.subject, alert.psi, alert.threshold, alert.status, run.alerts) == (
        "score",
        Decimal("7.6092"),
        Decimal("0.2500"),
        DriftAlertStatus.OPEN,
        1,
    )
    (event,) = audit_trail(alert)
    assert event.reason == "PSI of score for scorecard v1 is 7.6092, above 0.25."
    notice = Notice.objects.get()
    assert (notice.user, notice.title) == (risk_manager, "Scorecard drift: score")
    assert notice.url == reverse("admin:risk_driftalert_change", args=[alert.pk])
    assert len(callbacks) == 1  # its email, queued once the readings commit


def test_the_drift_notice_is_in_the_portals_language_and_the_audit_row_in_english(
    scorecard, merchant, risk_manager, settings
):
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))

    with translation.override("en"):
        stability_readings_compute(on=DAY)

    alert = DriftAlert.objects.get()
    assert audit_trail(alert).get().reason == "PSI of score for scorecard v1 is 7.6092, above 0.25."
    assert list(Notice.objects.values_list("title", "body")) == [
        ("评分卡漂移：score", "评分卡 v1 的 score PSI 为 7.6092，高于 0.25。")
    ]


def test_computing_the_same_day_again_changes_nothing(scorecard, merchant):
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))

    stability_readings_compute(on=DAY)
    again = stability_readings_compute(on=DAY)

    assert (again.readings, again.alerts) == (0, 0)
    assert (StabilityReading.objects.count(), DriftAlert.objects.count()) == (1, 1)


def test_an_open_drift_alert_is_not_raised_again_the_next_day(scorecard, merchant):
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))

    stability_readings_compute(on=DAY)
    next_day = stability_readings_compute(on=DAY + datetime.timedelta(days=1))

    assert (next_day.readings, next_day.alerts) == (1, 0)
    assert DriftAlert.objects.count() == 1


def test_the_threshold_is_a_setting(scorecard, merchant, settings):
    decided(
        scorecard,
        merchant,
        ["540", "549.99", "550", "599", "600", "610", "620", "649.99", "650", "700"],
        at_moment=at(DAY - datetime.timedelta(days=2)),
    )
    settings.RISK_DRIFT_PSI_THRESHOLD = Decimal("0.05")

    assert stability_readings_compute(on=DAY).alerts == 1


def test_without_an_active_scorecard_there_is_nothing_to_read(db):
    assert stability_readings_compute(on=DAY).readings == 0


def test_the_task_computes_the_day_it_is_given(scorecard, merchant):
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))

    assert model_drift_task(DAY.isoformat()) == {"readings": 1, "alerts": 1}


# Acknowledging.


@pytest.fixture
def drift(scorecard, merchant):
    decided(scorecard, merchant, ["660"] * 10, at_moment=at(DAY - datetime.timedelta(days=2)))
    stability_readings_compute(on=DAY)
    return DriftAlert.objects.get()


def test_a_risk_manager_acknowledges_with_a_note(drift, risk_manager):
    drift_alert_acknowledge(alert=drift, by=risk_manager, note="Retraining on the last six months.")

    drift = DriftAlert.objects.get(pk=drift.pk)
    assert (drift.status, drift.acknowledged_by) == (DriftAlertStatus.ACKNOWLEDGED, risk_manager)
    assert audit_trail(drift).last().action == "drift_alert.acknowledge"
    with pytest.raises(StateConflict, match="already acknowledged"):
        drift_alert_acknowledge(alert=drift, by=risk_manager, note="Again.")


def test_acknowledging_needs_a_note_and_a_risk_manager(drift, loan_officer, risk_manager):
    with pytest.raises(ValidationError, match="Say what is being done about the drift"):
        drift_alert_acknowledge(alert=drift, by=risk_manager, note="")
    with pytest.raises(PermissionDenied, match="acknowledge model drift alerts"):
        drift_alert_acknowledge(alert=drift, by=loan_officer, note="Seen.")

    assert DriftAlert.objects.get(pk=drift.pk).status == DriftAlertStatus.OPEN


def test_the_drift_pages_state_the_threshold(client, risk_manager, drift):
    client.force_login(risk_manager)

    readings = client.get(reverse("admin:risk_stabilityreading_changelist")).content.decode()
    alerts = client.get(reverse("admin:risk_driftalert_changelist")).content.decode()

    for page in (readings, alerts):
        assert "A PSI above 0.25 is drift: the risk managers get an alert." in page
    assert "7.6092" in alerts


def test_acknowledging_from_the_list_asks_for_the_note(client, risk_manager, drift):
    client.force_login(risk_manager)
    url = reverse("admin:risk_driftalert_changelist")
    selected = {"action": "acknowledge_alerts", "_selected_action": [drift.pk]}

    assert client.post(url, {**selected, "confirm": "1", "note": ""}).status_code == 400
    client.post(url, {**selected, "confirm": "1", "note": "Watching next week's figures."})

    assert DriftAlert.objects.get(pk=drift.pk).acknowledgement_note == "Watching next week's figures."
