"""The nightly servicing run on a real Celery worker over Redis: its chunks as a group, the chord recording the run."""

import datetime
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import current_app
from django.db import connection, transaction

from core.models import JobRun
from core.services.jobs import job_run_start
from lending.servicing.models import Loan, LoanState
from lending.servicing.tests.factories import make_loan, servicing_product_make

ON = datetime.date(2027, 2, 19)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_of_two_processes_runs_the_chunks_and_the_chord_records_the_day(merchant, settings):
    settings.JOBS_CHUNK_SIZE = 2
    product = servicing_product_make()
    loans = [make_loan(merchant, product) for _ in range(5)]
    queue = f"test-nightly-{uuid.uuid4().hex[:8]}"
    # The worker reads the test database: the server of DATABASE_URL, the name the test run gave it.
    test_database = connection.settings_dict["NAME"]
    database_url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{test_database}"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "JOBS_CHUNK_SIZE": "2",
        "DATABASE_URL": database_url,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=2", "-Q", queue, "-l", "WARNING"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    saved = (current_app.conf.task_always_eager, current_app.conf.task_default_queue)
    try:
        current_app.conf.task_always_eager = False
        current_app.conf.task_default_queue = queue
        with transaction.atomic():
            run = job_run_start(job="lending-servicing-daily", on=ON)
        deadline = time.monotonic() + 120
        while run.status == JobRun.Status.RUNNING and time.monotonic() < deadline:
            time.sleep(0.5)
            run.refresh_from_db()
    finally:
        current_app.conf.task_always_eager, current_app.conf.task_default_queue = saved
        worker.terminate()
        output = worker.communicate(timeout=60)[0].decode(errors="replace")

    assert run.status == JobRun.Status.DONE, output[-3000:]
    assert run.chunks_total == 3
    assert sorted(run.chunks.values_list("attempts", flat=True)) == [1, 1, 1]
    assert run.counts["loans_overdue"] == 5
    assert set(Loan.objects.filter(pk__in=[loan.pk for loan in loans]).values_list("state", flat=True)) == {
        LoanState.OVERDUE
    }
    assert settings.CELERY_RESULT_BACKEND  # the chord counted its chunks there
