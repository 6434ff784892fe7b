"""Nightly runs in chunks: planned by key, each chunk done once, failures and lost workers taken up by the sweep.

The job here is a small one of core's own: it marks the notices in its chunk as read (and counts them), so the
mechanism is tested without any app above core.
"""

import datetime
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.models import AuditEvent, JobChunk, JobRun, Notice
from core.services.jobs import (
    JobRunFailedError,
    chunked_job_register,
    job_chunk_run,
    job_run_finish,
    job_run_now,
    job_run_start,
    job_runs_resume,
)
from core.tests.factories import NoticeFactory

ON = datetime.date(2027, 6, 15)
JOB = "test-notices-read"


class Work:
    """The test job: marks unread notices in ``[first, last]`` read; can be told to fail on a notice's chunk."""

    def __init__(self) -> None:
        self.fail_on: int | None = None
        self.calls = 0

    def keys(self, on):
        return Notice.objects.all()

    def run_chunk(self, on, first_id, last_id):
        self.calls += 1
        rows = Notice.objects.filter(read_at__isnull=True)
        if first_id is not None:
            rows = rows.filter(pk__gte=first_id)
        if last_id is not None:
            rows = rows.filter(pk__lte=last_id)
        marked = rows.update(read_at=timezone.now())
        if self.fail_on is not None and (first_id or 0) <= self.fail_on <= (last_id or 10**18):
            raise RuntimeError(f"notice {self.fail_on} cannot be read")
        return {"notices_read": marked}


@pytest.fixture
def work(settings):
    settings.JOBS_CHUNK_SIZE = 2
    job = Work()
    chunked_job_register(name=JOB, keys=job.keys, run_chunk=job.run_chunk)
    return job


@pytest.fixture
def notices(merchant_owner):
    return [NoticeFactory(user=merchant_owner) for _ in range(5)]


def _chunks(run: JobRun) -> list[tuple]:
    return list(run.chunks.order_by("number").values_list("first_id", "last_id", "status", "attempts"))


@pytest.mark.django_db
def test_a_run_is_cut_into_chunks_by_key_and_records_what_it_did(work, notices):
    ids = [notice.pk for notice in notices]

    assert job_run_now(job=JOB, on=ON) == {"notices_read": 5}

    run = JobRun.objects.get(job=JOB, business_date=ON)
    # Every second key starts a chunk; the first and the last chunk are open, so no later row falls outside.
    assert _chunks(run) == [
        (None, ids[2] - 1, "done", 1),
        (ids[2], ids[4] - 1, "done", 1),
        (ids[4], None, "done", 1),
    ]
    assert (run.status, run.chunks_total, run.chunk_size, run.counts) == ("done", 3, 2, {"notices_read": 5})
    assert run.finished_at is not None
    actions = list(AuditEvent.objects.filter(object_id=str(run.pk)).order_by("pk").values_list("action", "to_state"))
    assert actions == [("job.plan", "running"), ("job.finish", "done")]
    assert not Notice.objects.filter(read_at__isnull=True).exists()


@pytest.mark.django_db
def test_running_the_same_day_again_changes_nothing(work, notices):
    job_run_now(job=JOB, on=ON)
    run = JobRun.objects.get()
    NoticeFactory(user=notices[0].user)  # arrives after the day's run: tomorrow's work

    assert job_run_now(job=JOB, on=ON) == {}
    assert job_run_start(job=JOB, on=ON).pk == run.pk

    assert JobRun.objects.count() == 1
    assert [attempts for *_bounds, attempts in _chunks(run)] == [1, 1, 1]
    assert work.calls == 3
    assert Notice.objects.filter(read_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_a_chunk_run_twice_does_its_work_once(work, notices):
    job_run_now(job=JOB, on=ON)
    chunk = JobChunk.objects.get(number=1)

    outcome = job_chunk_run(chunk_id=chunk.pk)

    assert (outcome.status, outcome.ran, outcome.counts) == ("done", False, {"notices_read": 2})
    chunk.refresh_from_db()
    assert chunk.attempts == 1
    assert work.calls == 3


@pytest.mark.django_db
def test_a_failed_chunk_rolls_back_is_recorded_and_the_sweep_runs_it_again(
    work, notices, django_capture_on_commit_callbacks
):
    work.fail_on = notices[2].pk

    with pytest.raises(JobRunFailedError, match=r"1 of 3 chunks of test-notices-read for 2027-06-15 failed; chunk 2"):
        job_run_now(job=JOB, on=ON)

    run = JobRun.objects.get()
    failed = JobChunk.objects.get(number=2)
    assert (run.status, failed.status, failed.attempts) == ("failed", "failed", 1)
    assert failed.error == f"RuntimeError: notice {notices[2].pk} cannot be read"
    # The failed chunk's work was rolled back with it: its two notices are still unread.
    assert set(Notice.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == {
        notices[2].pk,
        notices[3].pk,
    }
    assert run.counts == {"notices_read": 3}

    work.fail_on = None
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert job_runs_resume() == {"runs_recorded": 0, "chunks_redispatched": 1}
    assert len(callbacks) == 1  # the chord is sent once the sweep's transaction commits

    run.refresh_from_db()
    failed.refresh_from_db()
    assert (run.status, run.counts) == ("done", {"notices_read": 5})
    assert (failed.status, failed.attempts, failed.error) == ("done", 2, "")
    finishes = AuditEvent.objects.filter(object_id=str(run.pk), action="job.finish").order_by("pk")
    assert list(finishes.values_list("from_state", "to_state")) == [("running", "failed"), ("failed", "done")]


@pytest.mark.django_db
def test_a_chunk_that_failed_too_often_is_left_for_an_operator(work, notices, settings):
    settings.JOBS_CHUNK_MAX_ATTEMPTS = 1
    work.fail_on = notices[0].pk
    with pytest.raises(JobRunFailedError):
        job_run_now(job=JOB, on=ON)

    assert job_runs_resume() == {"runs_recorded": 0, "chunks_redispatched": 0}
    assert JobRun.objects.get().status == "failed"


@pytest.mark.django_db
def test_a_chunk_whose_worker_died_is_run_again_by_the_sweep(work, notices, django_capture_on_commit_callbacks):
    with transaction.atomic():
        job_run_start(job=JOB, on=ON)  # planned; the chord is never sent (its callback is not run here)
    run = JobRun.objects.get()
    # Chunk 1 was taken by a worker that was killed: its attempt is counted, its work rolled back.
    JobChunk.objects.filter(run=run, number=1).update(
        status="running", attempts=1, started_at=timezone.now() - timedelta(hours=1)
    )
    JobRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert job_runs_resume() == {"runs_recorded": 0, "chunks_redispatched": 3}

    run.refresh_from_db()
    assert run.status == "done"
    assert [attempts for *_bounds, attempts in _chunks(run)] == [2, 1, 1]
    assert Notice.objects.filter(read_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_chunk_running_now_is_not_taken_from_its_worker(work, notices):
    with transaction.atomic():
        job_run_start(job=JOB, on=ON)
    JobChunk.objects.filter(number=1).update(status="running", attempts=1, started_at=timezone.now())

    assert job_runs_resume() == {"runs_recorded": 0, "chunks_redispatched": 0}


@pytest.mark.django_db
def test_starting_a_run_queues_its_chord_on_commit_and_the_chord_records_it(
    work, notices, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = job_run_start(job=JOB, on=ON)
    assert len(callbacks) == 1
    assert (run.status, run.chunks_total) == ("running", 3)
    assert work.calls == 0

    # Eager Celery (the demo, the tests) runs the chord in this process: the chunks, then the run's last step.
    callbacks[0]()

    run.refresh_from_db()
    assert (run.status, run.counts) == ("done", {"notices_read": 5})
    assert work.calls == 3


@pytest.mark.django_db
def test_a_run_with_nothing_to_do_is_recorded_at_once(work):
    run = job_run_start(job=JOB, on=ON)

    assert (run.status, run.chunks_total, run.counts) == ("done", 0, {})


@pytest.mark.django_db
def test_finishing_waits_for_chunks_still_to_run(work, notices):
    with transaction.atomic():
        run = job_run_start(job=JOB, on=ON)

    assert job_run_finish(run_id=run.pk).status == "running"
    assert not AuditEvent.objects.filter(action="job.finish").exists()


@pytest.mark.django_db
def test_an_unknown_job_is_refused_with_the_jobs_there_are(work):
    with pytest.raises(
        LookupError, match=r"No chunked job is registered as 'nightly-typo'; the jobs are .*test-notices"
    ):
        job_run_start(job="nightly-typo", on=ON)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_chunk_do_its_work_once(work, notices):
    job_run_now(job=JOB, on=ON)
    chunk = JobChunk.objects.get(number=1)
    JobChunk.objects.filter(pk=chunk.pk).update(status="failed")  # as if a first attempt had failed
    Notice.objects.filter(pk__in=[notices[0].pk, notices[1].pk]).update(read_at=None)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        try:
            barrier.wait()
            outcomes.append(job_chunk_run(chunk_id=chunk.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcome.ran for outcome in outcomes) == [False, True]
    assert [outcome.counts for outcome in outcomes if outcome.ran] == [{"notices_read": 2}]
    chunk.refresh_from_db()
    assert chunk.status == "done"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_starts_of_the_same_day_plan_one_run(work, notices, django_capture_on_commit_callbacks):
    barrier = threading.Barrier(2)
    runs = []

    def start():
        try:
            barrier.wait()
            with transaction.atomic():
                runs.append(job_run_start(job=JOB, on=ON).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(runs)) == 1
    assert JobRun.objects.count() == 1
    assert JobChunk.objects.count() == 3
