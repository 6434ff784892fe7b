"""Stress scenarios and their runs: saving a scenario, starting a run, recording a chunk, summing the run up.

A run never happens in a web request. Starting one records the scenario's inputs and cuts the book into chunks of
``STRESS_CHUNK_SIZE`` loans (ranges of loan ids); one Celery task per chunk computes its partial sums and records
them. The last chunk to be recorded queues the task that sums the run up. This is the chord pattern kept in the
database rather than in a Celery result backend (the portal has none): the chunks recorded are counted under the
run's row lock, so a chunk computed twice replaces its own partial, never adds to it, and the run is summed once.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core.services.audit import audit_record
from core.transactions import task_on_commit
from lending.servicing.selectors.book import book_loan_ids
from risk.models.stress import StressRun, StressRunChunk, StressRunStatus, StressScenario
from risk.selectors.limits import limits_utilisation_stressed
from risk.selectors.stress import StressInputs, delinquency_rule, stress_chunk_sums, stress_results

RUN_PERMISSION = "risk.run_stress_test"
CHUNK_TASK = "risk.tasks.stress_chunk_task"
FINISH_TASK = "risk.tasks.stress_run_finish_task"
SCENARIO_FIELDS = (
    "sales_shock_percent",
    "sales_shock_scope",
    "sales_shock_industry",
    "sales_shock_region",
    "sales_pd_elasticity",
    "pd_multiplier",
    "lgd_percent",
    "fallback_pd_percent",
    "funding_rate_shock_bp",
    "capital_ratio_percent",
)


def stress_chunk_size() -> int:
    return int(settings.STRESS_CHUNK_SIZE)


def stress_settings_check(app_configs=None, **kwargs) -> list[Error]:
    """A run needs a chunk size: without one it would not know how to cut the book (an error, not a default)."""
    value = getattr(settings, "STRESS_CHUNK_SIZE", None)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return [
            Error(
                "STRESS_CHUNK_SIZE must be a whole number of loans, at least 1.",
                hint="Set STRESS_CHUNK_SIZE in the environment, e.g. 5000.",
                id="risk.E001",
            )
        ]
    return []


def _scenario_values(scenario: StressScenario) -> dict[str, Any]:
    return {name: str(getattr(scenario, name)) for name in SCENARIO_FIELDS}


def stress_scenario_save(*, scenario: StressScenario, by) -> StressScenario:
    """Save a new or changed scenario. A change to any input makes a new version, so runs of the earlier version
    keep saying what they ran; one audit row with the inputs."""
    if not by.has_perm("risk.change_stressscenario" if scenario.pk else "risk.add_stressscenario"):
        raise PermissionDenied
    with transaction.atomic():
        if scenario.pk is None:
            scenario.created_by = by
            scenario.version = 1
            scenario.save()
            action, previous = "stress_scenario_created", None
        else:
            locked = StressScenario.objects.select_for_update().get(pk=scenario.pk)
            previous = _scenario_values(locked)
            if previous != _scenario_values(scenario):
                scenario.version = locked.version + 1
            else:
                scenario.version = locked.version
            scenario.save()
            action = "stress_scenario_changed"
        audit_record(
            subject=scenario,
            action=action,
            by=by,
            data={"version": scenario.version, "inputs": _scenario_values(scenario), "before": previous},
        )
    return scenario


def _chunks(loan_ids: list[int], size: int) -> list[tuple[int, int]]:
    return [
        (loan_ids[start], loan_ids[min(start + size, len(loan_ids)) - 1]) for start in range(0, len(loan_ids), size)
    ]


def stress_run_start(*, scenario: StressScenario, by, as_of: datetime.date | None = None) -> StressRun:
    """Start a run of ``scenario`` over the book as it is now: record its inputs and version, cut the book into
    chunks and queue one task per chunk on commit (the sum-up task at once when the book is empty)."""
    if by is None or not by.has_perm(RUN_PERMISSION):
        raise PermissionDenied
    size = stress_chunk_size()
    with transaction.atomic():
        scenario = StressScenario.objects.select_for_update().get(pk=scenario.pk)
        as_of = as_of or timezone.localdate()
        ranges = _chunks(book_loan_ids(), size)
        run = StressRun.objects.create(
            scenario=scenario,
            scenario_version=scenario.version,
            inputs={
                "scenario": scenario.name,
                "version": scenario.version,
                **_scenario_values(scenario),
                "delinquency_pd_factors": delinquency_rule(),
                "chunk_size": size,
                "as_of": as_of.isoformat(),
            },
            as_of=as_of,
            chunks_total=len(ranges),
            requested_by=by,
        )
        StressRunChunk.objects.bulk_create(
            StressRunChunk(run=run, index=index, first_loan_id=first, last_loan_id=last)
            for index, (first, last) in enumerate(ranges)
        )
        audit_record(
            subject=run,
            action="stress_run_started",
            by=by,
            to_state=run.status,
            data={"scenario": scenario.name, "version": scenario.version, "chunks": len(ranges)},
        )
        for index in range(len(ranges)):
            task_on_commit(CHUNK_TASK, run.pk, index)
        if not ranges:
            task_on_commit(FINISH_TASK, run.pk)
    return run


def stress_chunk_record(*, run_id: int, index: int) -> bool:
    """Compute chunk ``index`` of the run and record its partial sums, replacing any it had; when every chunk is
    in, queue the sum-up on commit. False (and nothing changed) when the run is no longer running."""
    run = StressRun.objects.filter(pk=run_id).first()
    if run is None or run.status != StressRunStatus.RUNNING:
        return False
    chunk = StressRunChunk.objects.get(run_id=run_id, index=index)
    # The heavy read happens outside the transaction: the run's row is locked only to record it.
    partial = stress_chunk_sums(
        inputs=StressInputs.from_recorded(run.inputs),
        first_loan_id=chunk.first_loan_id,
        last_loan_id=chunk.last_loan_id,
    )
    with transaction.atomic():
        run = StressRun.objects.select_for_update().get(pk=run_id)
        if run.status != StressRunStatus.RUNNING:
            return False
        StressRunChunk.objects.filter(pk=chunk.pk).update(partial=partial, computed_at=timezone.now())
        run.chunks_done = StressRunChunk.objects.filter(run=run, computed_at__isnull=False).count()
        run.save(update_fields=["chunks_done"])
        if run.chunks_done == run.chunks_total:
            task_on_commit(FINISH_TASK, run.pk)
    return True


def stress_run_finish(*, run_id: int) -> StressRun:
    """Sum the run up from its chunks' partials once every chunk is in: running -> finished, one audit row.
    A second call finds it finished and changes nothing."""
    with transaction.atomic():
        run = StressRun.objects.select_for_update().get(pk=run_id)
        if run.status != StressRunStatus.RUNNING or run.chunks_done != run.chunks_total:
            return run
        partials = StressRunChunk.objects.filter(run=run).order_by("index").values_list("partial", flat=True)
        inputs = StressInputs.from_recorded(run.inputs)
        results = stress_results(inputs=inputs, partials=list(partials))
        results["limit_breaches"] = stressed_limit_breaches(results=results)
        before = run.status
        run.finish(results=results)
        run.save()
        audit_record(
            subject=run,
            action="stress_run_finished",
            from_state=before,
            to_state=run.status,
            data={"el_before_insurance": results["el_before_insurance"], "capital": results["capital"]["required"]},
        )
    return run


def stress_run_fail(*, run_id: int, error: str) -> StressRun:
    """A chunk or the sum-up failed: running -> failed with the error, one audit row (a finished run stays)."""
    with transaction.atomic():
        run = StressRun.objects.select_for_update().get(pk=run_id)
        if run.status != StressRunStatus.RUNNING:
            return run
        before = run.status
        run.fail(error=error[:2000])
        run.save()
        audit_record(
            subject=run, action="stress_run_failed", from_state=before, to_state=run.status, reason=error[:500]
        )
    return run


def stressed_limit_breaches(*, results: dict) -> list[dict]:
    """The exposure limits the stressed portfolio would breach: each limit in force measured against the portfolio
    less the run's expected loss before insurance (a limit set as a share of the portfolio tightens as it shrinks;
    see ``limits_utilisation_stressed``). Empty when every limit holds."""
    uses = limits_utilisation_stressed(portfolio_loss=Decimal(results["el_before_insurance"]))
    return [
        {
            "limit": f"{use.kind_label}: {use.label}",
            "value": str(use.exposure),
            "limit_amount": str(use.limit_amount),
        }
        for use in uses
        if use.status == "breach"
    ]
