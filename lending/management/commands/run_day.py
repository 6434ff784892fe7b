"""`manage.py run_day [--date YYYY-MM-DD]`: run a day's scheduled jobs now, in beat's order, and say what each did.

For operators (a night beat missed, a day to run again) and for the demo, which has no beat: the same services the
Celery tasks call (``lending.origination.services.scheduled``). Every job is safe to run twice.
"""

import argparse
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lending.origination.services.scheduled import scheduled_day_run, scheduled_jobs
from lending.servicing.selectors.daily import loans_last_serviced_on


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give a date as YYYY-MM-DD, such as 2026-03-31; {text!r} is not one"
        ) from None


class Command(BaseCommand):
    help = (
        "Run the day's scheduled jobs (servicing, pre-approved limits, offer expiry, reconciliations, unsent emails) "
        "once each, in the order beat runs them, and print what each did. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=_date,
            help=(
                "The business date to run (YYYY-MM-DD; today by default): not after today, nor before the last day "
                "the nightly jobs ran for."
            ),
        )
        parser.add_argument(
            "--job", action="append", dest="jobs", metavar="NAME", help="Run only this job (repeatable)."
        )

    def handle(self, *args, **options):
        today = timezone.localdate()
        on = options["date"] or today
        if on > today:
            raise CommandError(
                _("--date %(date)s is after today (%(today)s): the nightly jobs run for a day that has begun.")
                % {"date": on.isoformat(), "today": today.isoformat()}
            )
        last = loans_last_serviced_on()
        if last is not None and on < last:
            # Days run in order: servicing an earlier day after a later one would put days past due back and
            # cure, in the audit trail, loans that are overdue. A missed night is run before the nights after it.
            raise CommandError(
                _(
                    "--date %(date)s is before %(last)s, the last day the nightly jobs ran for: days are run in "
                    "order, never back."
                )
                % {"date": on.isoformat(), "last": last.isoformat()}
            )
        try:
            known = {job.name for _at, job in scheduled_jobs()}
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        unknown = sorted(set(options["jobs"] or ()) - known)
        if unknown:
            raise CommandError(
                _("--job %(unknown)s is not a scheduled job; the jobs are %(known)s.")
                % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known))}
            )
        self.stdout.write(_("Scheduled jobs for %(date)s:") % {"date": on.isoformat()})
        ran = 0
        try:
            for run in scheduled_day_run(on=on, only=set(options["jobs"]) if options["jobs"] else None):
                done = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in run.counts.items() if count)
                self.stdout.write(f"  {run.at:%H:%M}  {run.job.name} ({run.job.does}): {done or _('nothing to do')}")
                ran += 1
        except Exception as exc:
            raise CommandError(
                _("A job failed after %(ran)d had run: %(error)s. Every job is safe to run again once it is fixed.")
                % {"ran": ran, "error": exc}
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                ngettext("%(ran)d job ran for %(date)s.", "%(ran)d jobs ran for %(date)s.", ran)
                % {"ran": ran, "date": on.isoformat()}
            )
        )
