"""Nightly jobs in chunks: a run is cut into slices of rows by primary key, and workers run the slices in parallel.

A job registers itself by name (``chunked_job_register``, from its app's ``AppConfig.ready()``: core sits below
every app and never imports them) with two functions: the rows it works over (a queryset of their primary keys),
and the work for one slice (``run_chunk(on, first_id, last_id) -> counts``). Then:

- ``job_run_start(job=, on=)`` plans the day's run (``JobRun``, unique per job and date) and its chunks
  (``JobChunk``, every ``JOBS_CHUNK_SIZE``-th key a boundary), and once that commits dispatches one Celery task per
  chunk as a group, chorded to ``job_run_finish``, which records the run when the last chunk has finished. Beat's
  tasks call it.
- ``job_run_now(job=, on=)`` does the same in this process, one chunk after the other: ``manage.py run_day`` and
  the demo, which have no workers.
- ``job_runs_resume()`` (beat, every ten minutes) runs again the chunks that failed (up to
  ``JOBS_CHUNK_MAX_ATTEMPTS``) or whose worker died (still running after ``JOBS_CHUNK_STALE_MINUTES``), and records a
  run whose chunks are all done when its chord's last step never came.

Invariants:

- A chunk's work and its ``done`` mark commit in one transaction, with the chunk's row locked. A chunk run twice
  (a retry, a message delivered again after a worker was killed, the sweep) either waits for the other attempt's
  lock and then finds itself done, or finds its earlier attempt rolled back and does the work once. The per-row work
  is idempotent too (each job says why), so even a slice's rows served by another path are not served twice.
- Starting a day's run again finds the run: it never plans a second one, so nothing is done twice.
- Runs and their outcomes are audited (one row when a run is planned, one when it is recorded); a chunk's own
  bookkeeping (attempts, status, error) is on its row, like an instalment's status, not in the audit trail.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.models import JobChunk, JobRun
from core.services.audit import audit_record
from core.transactions import chord_on_commit

logger = logging.getLogger(__name__)

Counts = dict[str, int]
CHUNK_TASK = "core.tasks.job_chunk_task"
FINISH_TASK = "core.tasks.job_run_finish_task"
# Runs older than this are left alone by the sweep: an operator looks at them (admin, the API) instead.
RESUME_WITHIN_DAYS = 7
C = JobChunk.Status


@dataclass(frozen=True)
class ChunkedJob:
    """A nightly job that can be cut into chunks: the keys it works over, and the work for one slice of them."""

    name: str
    keys: Callable[[date], QuerySet]
    run_chunk: Callable[[date, int | None, int | None], Counts]


_JOBS: dict[str, ChunkedJob] = {}


def chunked_job_register(*, name: str, keys: Callable[[date], QuerySet], run_chunk: Callable[..., Counts]) -> None:
    """Make ``name`` (the job's beat schedule name) runnable in chunks; called from an ``AppConfig.ready()``.

    ``keys(on)`` is a queryset of the rows the job works over on business date ``on`` (only their primary keys are
    read, in order); ``run_chunk(on, first_id, last_id)`` does the work for the rows whose key is in that inclusive
    range (``None``: open on that side), is idempotent, and returns counts of what it did.
    """
    _JOBS[name] = ChunkedJob(name=name, keys=keys, run_chunk=run_chunk)


def chunked_job(name: str) -> ChunkedJob:
    try:
        return _JOBS[name]
    except KeyError:
        raise LookupError(
            f"No chunked job is registered as {name!r}; the jobs are {', '.join(sorted(_JOBS))}."
        ) from None


def chunked_jobs() -> list[str]:
    return sorted(_JOBS)


def chunk_size() -> int:
    return int(settings.JOBS_CHUNK_SIZE)


def _boundaries(keys: QuerySet, size: int) -> list[int]:
    """Every ``size``-th key in order, from the first: where each chunk begins. Counted in the database (a window
    function), so planning a million rows reads a few hundred keys, not a million."""
    numbered = keys.order_by().annotate(row=Window(RowNumber(), order_by=F("pk").asc()))
    return sorted(numbered.filter(row__in=_every(size, keys.count())).values_list("pk", flat=True))


def _every(size: int, total: int) -> list[int]:
    return list(range(1, total + 1, size))


def _plan(*, job: str, on: date, by=None) -> tuple[JobRun, bool]:
    """The day's run of ``job`` with its chunks: the existing one, or a new one (``True``), planned in this
    transaction with one audit row."""
    spec = chunked_job(job)
    existing = JobRun.objects.filter(job=job, business_date=on).first()
    if existing is not None:
        return existing, False
    size = chunk_size()
    starts = _boundaries(spec.keys(on), size)
    try:
        with transaction.atomic():
            run = JobRun.objects.create(job=job, business_date=on, chunk_size=size, chunks_total=len(starts))
    except IntegrityError:
        # Planned at the same moment by another process (beat and an operator): theirs is the day's run.
        return JobRun.objects.get(job=job, business_date=on), False
    JobChunk.objects.bulk_create(
        JobChunk(
            run=run,
            number=number,
            first_id=None if number == 1 else start,
            last_id=starts[number] - 1 if number < len(starts) else None,
        )
        for number, start in enumerate(starts, start=1)
    )
    audit_record(
        subject=run,
        action="job.plan",
        by=by,
        to_state=run.status,
        reason=f"{job} for {on.isoformat()}",
        data={"chunks": len(starts), "chunk_size": size},
    )
    return run, True


def job_run_start(*, job: str, on: date, by=None) -> JobRun:
    """Plan the day's run of ``job`` for ``on`` and hand its chunks to the workers once this commits.

    A run already planned for the day is returned as it is (the sweep takes up what it left). A run with no rows to
    work on is recorded at once.
    """
    with transaction.atomic():
        run, created = _plan(job=job, on=on, by=by)
        if not created:
            return run
        chunk_ids = list(run.chunks.order_by("number").values_list("pk", flat=True))
        if not chunk_ids:
            return job_run_finish(run_id=run.pk)
        chord_on_commit(
            header=CHUNK_TASK, header_args=[(pk,) for pk in chunk_ids], body=FINISH_TASK, body_args=(run.pk,)
        )
    return run


class JobRunFailedError(Exception):
    """Some chunks of a run failed (each chunk's error is on its row); the rest are done and stay done."""


def job_run_now(*, job: str, on: date, by=None) -> Counts:
    """Run the day's run of ``job`` in this process, chunk after chunk, and record it; returns what this call did.

    Plans the run if needed; chunks already done (an earlier call, the workers) are skipped, so a second call for
    the same day does nothing and returns no counts. Raises ``JobRunFailedError`` when a chunk fails: the others are
    done, and calling again runs only what is left.
    """
    with transaction.atomic():
        run, _created = _plan(job=job, on=on, by=by)
    did: Counter = Counter()
    for chunk_id in run.chunks.exclude(status=C.DONE).order_by("number").values_list("pk", flat=True):
        outcome = job_chunk_run(chunk_id=chunk_id)
        if outcome.ran:
            did.update(outcome.counts)
    run = job_run_finish(run_id=run.pk)
    if run.status == JobRun.Status.FAILED:
        failed = run.chunks.filter(status=C.FAILED).order_by("number")
        first = failed.first()
        raise JobRunFailedError(
            f"{failed.count()} of {run.chunks_total} chunks of {job} for {on.isoformat()} failed; "
            f"chunk {first.number} ({first.bounds}): {first.error}"
        )
    return dict(did)


@dataclass(frozen=True)
class ChunkOutcome:
    status: str
    counts: Counts
    ran: bool  # False: the chunk was done already and nothing was done now


def job_chunk_run(*, chunk_id: int) -> ChunkOutcome:
    """Run one chunk, once: its work and its ``done`` mark in one transaction, with the chunk's row locked.

    Only the chunk's row (``of=("self",)``): locking the run's row too, through the join, would make every chunk of
    the run wait for the one before it, and the workers would take turns instead of working side by side.

    The attempt is counted first, in a transaction of its own, so the count survives a worker killed mid-chunk. An
    error rolls the chunk's work back and marks it failed with the error (for the sweep to try again); it is not
    raised, so one bad slice never stops the chord that records the run.
    """
    with transaction.atomic():
        chunk = JobChunk.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
        if chunk.status == C.DONE:
            return ChunkOutcome(status=chunk.status, counts=chunk.counts, ran=False)
        chunk.attempts += 1
        chunk.status = C.RUNNING
        chunk.started_at = timezone.now()
        chunk.save(update_fields=["attempts", "status", "started_at"])
    spec = chunked_job(chunk.run.job)
    try:
        with transaction.atomic():
            chunk = JobChunk.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
            if chunk.status == C.DONE:
                return ChunkOutcome(status=chunk.status, counts=chunk.counts, ran=False)
            counts = spec.run_chunk(chunk.run.business_date, chunk.first_id, chunk.last_id)
            chunk.status = C.DONE
            chunk.counts = {key: value for key, value in counts.items() if value}
            chunk.error = ""
            chunk.finished_at = timezone.now()
            chunk.save(update_fields=["status", "counts", "error", "finished_at"])
            return ChunkOutcome(status=chunk.status, counts=chunk.counts, ran=True)
    except Exception as exc:
        logger.exception("Chunk %s of %s failed", chunk.number, chunk.run)
        with transaction.atomic():
            chunk = JobChunk.objects.select_for_update().get(pk=chunk_id)
            if chunk.status != C.DONE:
                chunk.status = C.FAILED
                chunk.error = f"{type(exc).__name__}: {exc}"[:2000]
                chunk.finished_at = timezone.now()
                chunk.save(update_fields=["status", "error", "finished_at"])
        return ChunkOutcome(status=C.FAILED, counts={}, ran=False)


def job_run_finish(*, run_id: int) -> JobRun:
    """Record a run whose chunks have all finished: ``done`` with their counts added up, or ``failed`` if any failed.

    Nothing happens while a chunk is pending or running (the sweep comes back), nor to a run already done. A failed
    run whose failed chunks later succeed is recorded again, as done. One audit row each time it is recorded.
    """
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(pk=run_id)
        if run.status == JobRun.Status.DONE:
            return run
        statuses = Counter(run.chunks.values_list("status", flat=True))
        if statuses[C.PENDING] or statuses[C.RUNNING]:
            return run
        totals: Counter = Counter()
        for counts in run.chunks.filter(status=C.DONE).values_list("counts", flat=True):
            totals.update(counts)
        previous = run.status
        run.status = JobRun.Status.FAILED if statuses[C.FAILED] else JobRun.Status.DONE
        run.counts = dict(sorted(totals.items()))
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "counts", "finished_at"])
        audit_record(
            subject=run,
            action="job.finish",
            from_state=previous,
            to_state=run.status,
            reason=f"{run.job} for {run.business_date.isoformat()}",
            data={"chunks_failed": statuses[C.FAILED], "chunks_total": run.chunks_total, "counts": run.counts},
        )
    return run


def job_runs_resume() -> Counts:
    """Take up runs left unfinished: run again each chunk that failed (while it has attempts left) or whose worker
    died, as a new chord that records the run; record a run whose chunks are all finished. Returns what it did."""
    now = timezone.now()
    stale_before = now - timedelta(minutes=int(settings.JOBS_CHUNK_STALE_MINUTES))
    max_attempts = int(settings.JOBS_CHUNK_MAX_ATTEMPTS)
    counts = {"runs_recorded": 0, "chunks_redispatched": 0}
    runs = JobRun.objects.filter(
        status__in=(JobRun.Status.RUNNING, JobRun.Status.FAILED),
        started_at__gte=now - timedelta(days=RESUME_WITHIN_DAYS),
    ).order_by("pk")
    for run in runs:
        with transaction.atomic():
            run = JobRun.objects.select_for_update().get(pk=run.pk)
            chunks = run.chunks.exclude(status=C.DONE)
            again = [
                chunk.pk
                for chunk in chunks
                if (chunk.status == C.FAILED and chunk.attempts < max_attempts)
                or (chunk.status == C.RUNNING and chunk.started_at is not None and chunk.started_at < stale_before)
                or (chunk.status == C.PENDING and run.started_at < stale_before)
            ]
            if again:
                chord_on_commit(
                    header=CHUNK_TASK, header_args=[(pk,) for pk in again], body=FINISH_TASK, body_args=(run.pk,)
                )
                counts["chunks_redispatched"] += len(again)
                continue
        if not chunks.filter(status__in=(C.PENDING, C.RUNNING)).exists() and run.status == JobRun.Status.RUNNING:
            job_run_finish(run_id=run.pk)
            counts["runs_recorded"] += 1
    return counts


__all__ = [
    "ChunkOutcome",
    "ChunkedJob",
    "JobRunFailedError",
    "chunk_size",
    "chunked_job",
    "chunked_job_register",
    "chunked_jobs",
    "job_chunk_run",
    "job_run_finish",
    "job_run_now",
    "job_run_start",
    "job_runs_resume",
]
