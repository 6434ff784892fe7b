"""The daily fraud watch after payout: what it flags, with which evidence, once per loan, kind and day."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import IntegrityError, connection

from core.selectors.audit import audit_trail
from lending.origination.services.scheduled import scheduled_jobs
from merchants.choices import SalesSource
from merchants.services.kyc import merchant_update_profile
from risk.models.watch import WatchAlert, WatchAlertKind, WatchAlertStatus
from risk.selectors.watch_settings import watch_settings_check
from risk.services.watch import watch_alert_dismiss, watch_alerts_raise
from risk.tasks import watch_after_payout_task
from risk.tests.factories_watch import ON, PAID, at, history_around_payout, paid_out_loan, sales_days

K = WatchAlertKind
DAY = datetime.timedelta(days=1)


@pytest.fixture
def loan(merchant):
    return paid_out_loan(merchant)


def kinds() -> list[str]:
    return sorted(WatchAlert.objects.values_list("kind", flat=True))


# Loan-and-run.


def test_sales_collapsing_after_the_payout_raise_a_loan_and_run_alert_with_its_evidence(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="100.00")

    run = watch_alerts_raise(on=ON)

    assert (run.findings, run.raised) == (1, 1)
    alert = WatchAlert.objects.get()
    assert (alert.kind, alert.status, alert.loan, alert.merchant, alert.raised_on) == (
        K.LOAN_AND_RUN,
        WatchAlertStatus.OPEN,
        loan,
        merchant,
        ON,
    )
    assert alert.evidence == {
        "paid_out_on": "2026-06-01",
        "principal": "12000.00",
        "before": {"from": "2026-03-03", "to": "2026-05-31", "days": 90, "days_reported": 90},
        "after": {"from": "2026-06-02", "to": "2026-06-21", "days": 20, "days_reported": 20},
        "before_sales": "90000.00",
        "before_daily_average": "1000.00",
        "after_sales": "2000.00",
        "after_daily_average": "100.00",
        "ratio": "0.1000",
        "thresholds": {
            "RISK_WATCH_SALES_COLLAPSE_RATIO": "0.40",
            "RISK_WATCH_BASELINE_DAYS": "90",
            "RISK_WATCH_AFTER_DAYS": "30",
        },
    }
    (event,) = audit_trail(alert)
    assert (event.action, event.actor, event.to_state) == ("watch_alert.raise", None, "open")
    assert event.reason == "Sales collapsed after payout (loan-and-run)"


def test_the_audit_trail_is_written_in_english_whatever_the_language_of_the_run(merchant, loan):
    from django.utils import translation

    history_around_payout(merchant)

    with translation.override("zh-hans"):
        watch_alerts_raise(on=ON)

    assert audit_trail(WatchAlert.objects.get()).get().reason == "Sales collapsed after payout (loan-and-run)"


def test_a_day_the_platform_reported_nothing_after_the_payout_counts_as_no_takings(merchant, loan):
    sales_days(merchant, start=PAID - 90 * DAY, end=PAID - DAY, gross="1000.00")
    # Ten of the twenty days since at the old level, the other ten never reported: half the takings.
    sales_days(merchant, start=PAID + DAY, end=PAID + 10 * DAY, gross="1000.00")

    watch_alerts_raise(on=ON)
    assert kinds() == []  # 0.5 is above the 0.40 threshold

    watch_alerts_raise(on=ON + 10 * DAY)
    # Ten days later: 10,000.00 over the 30 days since, a third of the level before.
    assert WatchAlert.objects.get(kind=K.LOAN_AND_RUN).evidence["after_daily_average"] == "333.33"
    assert WatchAlert.objects.get(kind=K.LOAN_AND_RUN).evidence["ratio"] == "0.3333"


def test_a_loan_paid_out_long_ago_is_compared_over_the_last_days_with_the_days_before_its_payout(merchant, loan):
    on = PAID + 200 * DAY
    sales_days(merchant, start=PAID - 90 * DAY, end=PAID - DAY, gross="1000.00")
    sales_days(merchant, start=PAID, end=on - 31 * DAY, gross="900.00")
    sales_days(merchant, start=on - 30 * DAY, end=on - DAY, gross="100.00")

    watch_alerts_raise(on=on)

    evidence = WatchAlert.objects.get(kind=K.LOAN_AND_RUN).evidence
    assert (evidence["before_daily_average"], evidence["after_daily_average"]) == ("1000.00", "100.00")
    assert evidence["after"] == {"from": "2026-11-18", "to": "2026-12-17", "days": 30, "days_reported": 30}


def test_sales_holding_up_after_the_payout_raise_nothing(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="900.00")

    assert watch_alerts_raise(on=ON).raised == 0
    assert kinds() == []


def test_the_threshold_is_a_setting(merchant, loan, settings):
    history_around_payout(merchant, before="1000.00", after="500.00")
    assert watch_alerts_raise(on=ON).raised == 0

    settings.RISK_WATCH_SALES_COLLAPSE_RATIO = "0.60"
    assert watch_alerts_raise(on=ON).raised == 1
    assert WatchAlert.objects.get().evidence["thresholds"]["RISK_WATCH_SALES_COLLAPSE_RATIO"] == "0.60"


def test_too_soon_after_the_payout_nothing_is_compared(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="0.00", on=PAID + 14 * DAY)

    # 13 days since the payout (the 14th is the job's own day): fewer than RISK_WATCH_MIN_DAYS_AFTER_PAYOUT.
    assert watch_alerts_raise(on=PAID + 14 * DAY).raised == 0
    watch_alerts_raise(on=PAID + 15 * DAY)
    assert kinds() == [K.DORMANT, K.LOAN_AND_RUN]


def test_a_merchant_without_enough_history_before_the_payout_is_not_compared(merchant, loan):
    sales_days(merchant, start=PAID - 29 * DAY, end=PAID - DAY, gross="1000.00")  # 29 days: fewer than 30
    sales_days(merchant, start=PAID, end=ON - DAY, gross="0.00")

    assert watch_alerts_raise(on=ON).raised == 0


def test_declared_sales_never_feed_the_watch(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="50.00")
    # The merchant declares it kept trading elsewhere: evidence for an officer, not for the automated check.
    sales_days(merchant, start=PAID + DAY, end=ON - DAY, gross="5000.00", source=SalesSource.DECLARED)

    watch_alerts_raise(on=ON)

    alert = WatchAlert.objects.get(kind=K.LOAN_AND_RUN)
    assert alert.evidence["after_daily_average"] == "50.00"


def test_a_loan_paid_out_on_the_jobs_day_or_marked_as_fraud_is_not_watched(merchant, other_merchant, senior_officer):
    from lending.servicing.services.fraud import loan_mark_fraud

    fraud = paid_out_loan(other_merchant)
    history_around_payout(other_merchant)
    loan_mark_fraud(loan=fraud, by=senior_officer, reason="Confirmed by the platform's risk team.")
    later = paid_out_loan(merchant, paid_out_on=ON)  # paid out on the job's own day
    history_around_payout(merchant)

    assert watch_alerts_raise(on=ON).raised == 0
    assert WatchAlert.objects.filter(loan__in=[fraud, later]).count() == 0


# Refunds, dormancy, the settlement account.


def test_refunds_spiking_after_the_payout_raise_an_alert(merchant, loan):
    sales_days(merchant, start=PAID - 90 * DAY, end=PAID - DAY, gross="1000.00", refunds="20.00")
    sales_days(merchant, start=PAID, end=ON - DAY, gross="1000.00", refunds="300.00")

    watch_alerts_raise(on=ON)

    alert = WatchAlert.objects.get()
    assert alert.kind == K.REFUND_SPIKE
    assert (alert.evidence["before_refund_ratio"], alert.evidence["after_refund_ratio"]) == ("0.0200", "0.3000")
    assert alert.evidence["thresholds"] == {
        "RISK_WATCH_REFUND_SPIKE_MIN_RATIO": "0.10",
        "RISK_WATCH_REFUND_SPIKE_FACTOR": "3",
    }


def test_refunds_that_were_always_high_are_no_spike(merchant, loan):
    sales_days(merchant, start=PAID - 90 * DAY, end=PAID - DAY, gross="1000.00", refunds="150.00")
    sales_days(merchant, start=PAID, end=ON - DAY, gross="1000.00", refunds="200.00")

    assert watch_alerts_raise(on=ON).raised == 0


def test_a_merchant_gone_quiet_since_the_payout_is_dormant(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="0.00")

    watch_alerts_raise(on=ON)

    assert kinds() == [K.DORMANT, K.LOAN_AND_RUN]
    dormant = WatchAlert.objects.get(kind=K.DORMANT)
    assert dormant.evidence["last_day_with_sales"] == "2026-05-31"
    assert dormant.evidence["days_without_sales"] == 21
    assert dormant.evidence["quiet"] == {"from": "2026-06-08", "to": "2026-06-21", "days": 14, "days_reported": 14}


def test_a_settlement_account_changed_after_the_payout_raises_an_alert(merchant, merchant_owner, loan):
    history_around_payout(merchant, before="1000.00", after="1000.00")
    # The merchant (in KYC draft here) changes its account: the audit row records which fields changed.
    merchant_update_profile(
        merchant=merchant, by=merchant_owner, data={"settlement_account_number": "6222000011112222"}
    )

    watch_alerts_raise(on=ON)

    alert = WatchAlert.objects.get(kind=K.SETTLEMENT_ACCOUNT_CHANGED)
    assert alert.evidence["paid_to_account"].endswith(loan.disbursement.account_number[-4:])
    assert alert.evidence["account_now"].endswith("2222")
    (change,) = alert.evidence["changes"]
    assert change["fields"] == ["settlement_account_number"]
    assert change["by"] == str(merchant_owner)


def test_an_account_other_than_the_one_paid_is_flagged_even_without_a_recorded_change(merchant, loan):
    history_around_payout(merchant, before="1000.00", after="1000.00")
    type(merchant).objects.filter(pk=merchant.pk).update(settlement_account_number="6222999988887777")

    watch_alerts_raise(on=ON)

    alert = WatchAlert.objects.get()
    assert (alert.kind, alert.evidence["changes"], alert.evidence["account_now"][-4:]) == (
        K.SETTLEMENT_ACCOUNT_CHANGED,
        [],
        "7777",
    )


# Once per loan, kind and day.


def test_running_the_same_day_again_adds_nothing(merchant, loan):
    history_around_payout(merchant)

    assert watch_alerts_raise(on=ON).raised == 1
    assert watch_alerts_raise(on=ON).raised == 0
    assert WatchAlert.objects.count() == 1


def test_an_open_alert_is_not_raised_again_the_next_day(merchant, loan):
    history_around_payout(merchant, on=ON + DAY)

    watch_alerts_raise(on=ON)
    assert watch_alerts_raise(on=ON + DAY).raised == 0


def test_a_dismissed_alert_is_raised_again_only_if_it_still_holds_later(merchant, loan, loan_officer):
    history_around_payout(merchant, on=ON + 40 * DAY)
    watch_alerts_raise(on=ON)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: at(ON, 15))
        watch_alert_dismiss(alert=WatchAlert.objects.get(), by=loan_officer, note="Shop refitting, called the owner.")

    assert watch_alerts_raise(on=ON + 29 * DAY).raised == 0
    assert watch_alerts_raise(on=ON + 30 * DAY).raised == 1
    assert list(WatchAlert.objects.order_by("pk").values_list("status", "raised_on")) == [
        ("dismissed", ON),
        ("open", ON + 30 * DAY),
    ]


def test_the_database_holds_one_alert_per_loan_kind_and_day(merchant, loan):
    fields = {"merchant": merchant, "loan": loan, "kind": K.DORMANT, "raised_on": ON}
    WatchAlert.objects.create(**fields)

    with pytest.raises(IntegrityError):
        WatchAlert.objects.create(**fields)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_day_at_once_raise_each_alert_once(merchant):
    paid_out_loan(merchant)
    history_around_payout(merchant)
    barrier = threading.Barrier(2)
    raised: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            raised.append(watch_alerts_raise(on=ON).raised)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(raised) == [0, 1]
    assert WatchAlert.objects.count() == 1


# The task, beat and run_day.


def test_the_task_runs_the_day_it_is_given(merchant, loan):
    history_around_payout(merchant)

    assert watch_after_payout_task(ON.isoformat()) == {"findings": 1, "raised": 1}
    assert watch_after_payout_task(ON.isoformat()) == {"findings": 1, "raised": 0}


def test_beat_runs_the_watch_and_the_drift_job_daily_and_run_day_knows_them():
    beat = django_settings.CELERY_BEAT_SCHEDULE
    assert beat["risk-watch-after-payout"]["task"] == "risk.tasks.watch_after_payout_task"
    assert beat["risk-model-drift"]["task"] == "risk.tasks.model_drift_task"
    names = [job.name for _at, job in scheduled_jobs()]
    assert names.index("risk-watch-after-payout") > names.index("lending-servicing-daily")
    assert "risk-model-drift" in names


def test_run_day_runs_the_watch(merchant, loan, capsys):
    history_around_payout(merchant, on=datetime.date.today())

    call_command("run_day", "--job", "risk-watch-after-payout")

    assert "alerts raised 1" in capsys.readouterr().out
    assert WatchAlert.objects.get().kind == K.LOAN_AND_RUN


# The thresholds are settings, checked at start-up.


def test_every_threshold_set_passes_the_check():
    assert watch_settings_check(None) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RISK_WATCH_SALES_COLLAPSE_RATIO", None, "RISK_WATCH_SALES_COLLAPSE_RATIO must be a number from 0.01 to 0.99"),
        ("RISK_WATCH_SALES_COLLAPSE_RATIO", "1.5", "it is '1.5'"),
        ("RISK_WATCH_DORMANT_DAYS", "fourteen", "RISK_WATCH_DORMANT_DAYS must be a whole number of days"),
        ("RISK_DRIFT_PSI_THRESHOLD", 0, "RISK_DRIFT_PSI_THRESHOLD must be a number from 0.01 to 10"),
    ],
)
def test_a_missing_or_invalid_threshold_fails_the_check(settings, name, value, message):
    if value is None:
        del settings.RISK_WATCH_SALES_COLLAPSE_RATIO
    else:
        setattr(settings, name, value)

    (error,) = watch_settings_check(None)

    assert error.id == "risk.E101"
    assert message in error.msg


def test_a_missing_threshold_stops_the_job_instead_of_skipping(settings, merchant, loan):
    from django.core.exceptions import ImproperlyConfigured

    history_around_payout(merchant)
    del settings.RISK_WATCH_SALES_COLLAPSE_RATIO

    with pytest.raises(ImproperlyConfigured, match="RISK_WATCH_SALES_COLLAPSE_RATIO"):
        watch_alerts_raise(on=ON)
    assert not WatchAlert.objects.exists()
