"""What the fraud watch and model drift hook into below them, registered once the app is ready.

- lending's scheduled jobs (``manage.py run_day``, the demo's catch-up): the two daily jobs beat runs;
- lending's demo loader (``lending.demo_hooks.demo_loaded``): the loan-and-run demo case;
- the system check of the thresholds (imported, it registers itself).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from lending.demo_hooks import demo_loaded
from lending.origination.services.scheduled import ScheduledJob, scheduled_job_register
from risk.selectors import watch_settings  # noqa: F401 - registers the thresholds' system check
from risk.services.watch import watch_alerts_raise
from risk.services.watch_drift import stability_readings_compute


def _watch(on) -> dict[str, int]:
    run = watch_alerts_raise(on=on)
    return {"loans_turned": run.findings, "alerts_raised": run.raised}


def _drift(on) -> dict[str, int]:
    run = stability_readings_compute(on=on)
    return {"stability_readings": run.readings, "drift_alerts": run.alerts}


def _demo(sender, *, today, officer, senior, **kwargs):
    from risk.services.watch_demo import watch_demo_load

    return watch_demo_load(today=today, officer=officer)


def watch_hooks_register() -> None:
    scheduled_job_register(
        ScheduledJob(
            "risk-watch-after-payout",
            _("flags funded merchants whose sales, refunds or settlement account turned after the payout"),
            _watch,
        )
    )
    scheduled_job_register(
        ScheduledJob(
            "risk-model-drift",
            _("stores the active scorecard's population stability and raises drift alerts"),
            _drift,
        )
    )
    demo_loaded.connect(_demo, dispatch_uid="risk.watch_demo")
