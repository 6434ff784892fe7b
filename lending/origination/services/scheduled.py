"""The day's scheduled work, on demand: every job beat runs, once each, in the order beat first runs them in a day.

Beat (``settings.CELERY_BEAT_SCHEDULE``) runs each job as a Celery task, and each task calls one service. This
module calls the same services, so that an operator (``manage.py run_day``) or the demo can run a day's work
without a worker or a beat: the jobs that run every few minutes fire at midnight, servicing at 01:00, the
pre-approved limits at 02:00. Every job is safe to run twice (each service says why), so running a day again
changes nothing.

Dates: servicing and the pre-approved limits are computed for the date asked for. The other jobs act on what is
pending at the present moment (offers that lapsed, payouts and collections to reconcile, applications whose next
step never ran, emails never sent, old idempotency keys), whatever the date.

Every beat entry must be a job here (``scheduled_jobs`` refuses to run otherwise, and a test says so), so a job added
to beat cannot be forgotten by the operators' command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, time

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.api.idempotency import idempotency_keys_purge
from core.services.notices import notices_email_unsent
from lending.origination.services.applications import applications_expire_offers
from lending.origination.services.funding import applications_resume_stalled, disbursements_reconcile
from lending.servicing.selectors.loans import merchants_in_default
from lending.servicing.services.collection_requests import collections_reconcile
from lending.servicing.services.daily import servicing_run_day
from underwriting.services.decisions import preapproved_limits_refresh

Counts = dict[str, int]


@dataclass(frozen=True)
class ScheduledJob:
    """One entry of the beat schedule (``name``) and the service its task calls, given the day's date."""

    name: str
    does: object  # a lazy translation: what the job does, for the operator reading the output
    run: Callable[[date], Counts]


def _offers_expire(on: date) -> Counts:
    return {"offers_expired": applications_expire_offers()}


def _notices_email_unsent(on: date) -> Counts:
    return {"emails_sent": notices_email_unsent()}


def _idempotency_keys_purge(on: date) -> Counts:
    return {"keys_deleted": idempotency_keys_purge()}


def _preapproved_limits(on: date) -> Counts:
    return {"limits_refreshed": preapproved_limits_refresh(merchants_in_default=merchants_in_default, as_of=on)}


JOBS: dict[str, ScheduledJob] = {
    job.name: job
    for job in (
        ScheduledJob(
            "idempotency-keys-purge", _("forgets idempotency keys older than 48 hours"), _idempotency_keys_purge
        ),
        ScheduledJob("offers-expire", _("expires offers not accepted in time"), _offers_expire),
        ScheduledJob("notices-email-unsent", _("emails the notices whose email never went out"), _notices_email_unsent),
        ScheduledJob(
            "disbursements-reconcile",
            _("settles payouts the rail never answered"),
            lambda on: disbursements_reconcile(),
        ),
        ScheduledJob(
            "collections-reconcile",
            _("asks the rail about collections still pending"),
            lambda on: collections_reconcile(),
        ),
        ScheduledJob(
            "applications-resume-stalled",
            _("takes up applications whose next step never ran"),
            lambda on: applications_resume_stalled(),
        ),
        ScheduledJob(
            "lending-servicing-daily",
            _("arrears, late fees, defaults, reminders and sales-share sweeps for the day"),
            lambda on: servicing_run_day(on=on),
        ),
        ScheduledJob(
            "underwriting-preapproved-limits",
            _("recomputes every verified merchant's pre-approved limit"),
            _preapproved_limits,
        ),
    )
}


def scheduled_job_register(job: ScheduledJob) -> ScheduledJob:
    """Add a job of an app above lending (which lending may not import): the app registers it in its
    ``AppConfig.ready()`` next to its beat entry, so the operators' command runs it too. Registering the same name
    again replaces it."""
    JOBS[job.name] = job
    return job


def _first_run(entry: dict) -> time:
    """When beat first runs an entry in a day: a crontab's earliest hour and minute; an interval at midnight."""
    schedule = entry["schedule"]
    hours, minutes = getattr(schedule, "hour", None), getattr(schedule, "minute", None)
    if hours is None or minutes is None:
        return time(0, 0)
    return time(min(hours), min(minutes))


def scheduled_jobs() -> list[tuple[time, ScheduledJob]]:
    """Every beat entry's job with its first time of the day, in beat's order (by time, then as the schedule lists
    them). An entry without a job here is an error: a job added to beat must be added here too."""
    beat = settings.CELERY_BEAT_SCHEDULE
    missing = sorted(set(beat) - set(JOBS))
    if missing:
        raise LookupError(f"Beat runs {', '.join(missing)}, which lending.origination.services.scheduled lacks.")
    order = {name: position for position, name in enumerate(beat)}
    return sorted(
        ((_first_run(beat[name]), JOBS[name]) for name in beat), key=lambda item: (item[0], order[item[1].name])
    )


@dataclass(frozen=True)
class JobRun:
    at: time
    job: ScheduledJob
    counts: Counts


def scheduled_day_run(*, on: date, only: set[str] | None = None) -> Iterator[JobRun]:
    """Run the day's jobs for ``on`` in beat's order, one after the other, yielding what each did as it finishes.

    ``only`` runs just the named jobs (still in order). A job that raises stops the run there: the jobs before it
    have done their work, and running the day again after the fault is fixed repeats nothing.
    """
    for at, job in scheduled_jobs():
        if only is not None and job.name not in only:
            continue
        yield JobRun(at=at, job=job, counts=dict(job.run(on)))


__all__ = ["JOBS", "JobRun", "ScheduledJob", "scheduled_day_run", "scheduled_job_register", "scheduled_jobs"]
