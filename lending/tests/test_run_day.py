"""`manage.py run_day`: a day's scheduled jobs on demand, each once, in beat's order; the second time, nothing more."""

import datetime
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from lending.origination.services import scheduled
from lending.servicing.models import Instalment, Loan, LoanState
from lending.servicing.tests.factories import database_snapshot, make_loan, servicing_product_make
from merchants.tests.factories import make_verified_merchant
from underwriting.models import PreApprovedLimit
from underwriting.services.demo import underwriting_seed

pytestmark = pytest.mark.django_db


def run_day(*args: str) -> str:
    out = io.StringIO()
    call_command("run_day", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def overdue_book(merchant_owner):
    """A verified merchant with an operating loan whose first instalment fell due 40 days ago, unpaid."""
    underwriting_seed()
    merchant = make_verified_merchant(merchant_owner)
    today = timezone.localdate()
    start = today - datetime.timedelta(days=70)
    return make_loan(merchant, servicing_product_make(), start=start, months=6)


def test_the_day_runs_every_scheduled_job_once_in_beats_order_for_the_date(monkeypatch, settings, overdue_book):
    calls = []
    for name, job in scheduled.JOBS.items():

        def record(on, name=name, job=job):
            calls.append((name, on))
            return job.run(on)

        monkeypatch.setitem(scheduled.JOBS, name, replace(job, run=record))
    day = timezone.localdate() - datetime.timedelta(days=1)

    output = run_day("--date", day.isoformat())

    assert sorted(calls) == sorted((name, day) for name in settings.CELERY_BEAT_SCHEDULE)
    names = [name for name, _on in calls]
    # The jobs that run every few minutes fire at midnight; the nightly ones follow at their hours: servicing at
    # 01:00 before the limits at 02:00 (and the jobs of the apps above lending at theirs).
    beat = settings.CELERY_BEAT_SCHEDULE
    every_few_minutes = {name for name, entry in beat.items() if not hasattr(entry["schedule"], "hour")}
    assert set(names[: len(every_few_minutes)]) == every_few_minutes
    assert names.index("lending-servicing-daily") < names.index("underwriting-preapproved-limits")
    for name in names:
        assert output.count(f" {name} (") == 1
    assert f"{len(beat)} jobs ran for {day.isoformat()}." in output


def test_the_day_services_the_loans_and_refreshes_the_limits_for_the_date(overdue_book):
    today = timezone.localdate()

    output = run_day()

    loan = Loan.objects.get(pk=overdue_book.pk)
    assert loan.state == LoanState.OVERDUE
    assert loan.serviced_on == today
    assert loan.days_past_due == (today - Instalment.objects.get(loan=loan, number=1).due_date).days
    assert Instalment.objects.get(loan=loan, number=1).penalty_due > Decimal("0.00")
    assert PreApprovedLimit.objects.filter(merchant=loan.merchant).exists()
    assert "loans overdue 1" in output
    assert f"Scheduled jobs for {today.isoformat()}:" in output


def test_running_the_day_again_changes_nothing(overdue_book):
    run_day()
    before = database_snapshot()
    limits = list(PreApprovedLimit.objects.values_list("merchant_id", "amount", "grade"))

    output = run_day()

    assert database_snapshot() == before
    assert list(PreApprovedLimit.objects.values_list("merchant_id", "amount", "grade")) == limits
    assert "sales-share sweeps for the day): nothing to do" in output


def test_a_malformed_date_is_refused_naming_the_option(overdue_book):
    with pytest.raises(CommandError, match="--date") as refused:
        run_day("--date", "2026-13-01")

    assert "YYYY-MM-DD" in str(refused.value)
    assert Loan.objects.get(pk=overdue_book.pk).serviced_on is None


def test_a_date_after_today_is_refused(overdue_book):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    with pytest.raises(CommandError, match=r"--date .* is after today"):
        run_day("--date", tomorrow.isoformat())

    assert Loan.objects.get(pk=overdue_book.pk).serviced_on is None


def test_one_job_can_be_run_alone(overdue_book):
    output = run_day("--job", "lending-servicing-daily")

    assert "1 job ran" in output
    assert not PreApprovedLimit.objects.exists()
    assert Loan.objects.get(pk=overdue_book.pk).serviced_on == timezone.localdate()


def test_a_job_beat_runs_but_the_command_lacks_is_an_error_not_a_silent_skip(settings):
    settings.CELERY_BEAT_SCHEDULE = {**settings.CELERY_BEAT_SCHEDULE, "new-nightly-job": {"schedule": 3600}}

    with pytest.raises(CommandError, match="new-nightly-job"):
        run_day()


def test_a_date_before_the_last_serviced_day_is_refused_so_days_never_run_backwards(overdue_book):
    run_day()
    before = database_snapshot()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    with pytest.raises(CommandError, match=r"--date .* is before .*the last day the nightly jobs ran for"):
        run_day("--date", yesterday.isoformat())

    assert database_snapshot() == before
