import os
import subprocess
import sys
import uuid

import pytest
from celery import current_app
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult
from django.conf import settings

from core.tasks import echo_task


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_unreachable(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == {"ok": False, "detail": "OperationalError"}


@pytest.mark.redis
def test_healthz_reaches_the_real_broker_when_not_eager(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == {"ok": True, "detail": "reachable"}


@pytest.mark.redis
def test_a_real_worker_runs_a_task_from_redis():
    """Start `celery worker` as its own process on the real broker and wait for a task's result."""
    broker = settings.CELERY_BROKER_URL
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    saved = current_app.conf.task_always_eager
    try:
        current_app.conf.task_always_eager = False
        sent = echo_task.apply_async(args=["paid out once"], queue=queue)
        # Read the result the worker stores in Redis through a backend of our own, leaving the
        # app's (disabled) result backend as the portal runs it.
        result = AsyncResult(sent.id, backend=RedisBackend(app=current_app, url=broker))
        assert result.get(timeout=60) == "paid out once"
    finally:
        current_app.conf.task_always_eager = saved
        worker.terminate()
        worker.wait(timeout=20)
