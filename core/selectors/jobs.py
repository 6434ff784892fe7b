"""Reading nightly runs with their progress: chunks done, failed and still to run, counted from the chunks."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from core.models import JobChunk, JobRun

C = JobChunk.Status


def job_runs_with_progress() -> QuerySet[JobRun]:
    """Every run, newest business date first, annotated with ``chunks_done``, ``chunks_failed`` and
    ``chunks_waiting`` (pending or running): one grouped query over the runs' chunks."""
    return JobRun.objects.annotate(
        chunks_done=Count("chunks", filter=Q(chunks__status=C.DONE)),
        chunks_failed=Count("chunks", filter=Q(chunks__status=C.FAILED)),
        chunks_waiting=Count("chunks", filter=Q(chunks__status__in=(C.PENDING, C.RUNNING))),
    ).order_by("-business_date", "-id")


def job_chunks_failed(*, run_ids: list[int]) -> dict[int, list[JobChunk]]:
    """The failed chunks of these runs, by run id, in chunk order (what an operator looks at first)."""
    failed: dict[int, list[JobChunk]] = {run_id: [] for run_id in run_ids}
    for chunk in JobChunk.objects.filter(run_id__in=run_ids, status=C.FAILED).order_by("run_id", "number"):
        failed[chunk.run_id].append(chunk)
    return failed


__all__ = ["job_chunks_failed", "job_runs_with_progress"]
