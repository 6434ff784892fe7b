"""The deployment checks of our own."""

from django.core.checks import run_checks
from django.test import override_settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1"}}


def _ids(**kwargs) -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True, **kwargs)}


@override_settings(CACHES=LOCMEM)
def test_a_cache_kept_in_each_process_is_a_deployment_warning():
    assert "core.W001" in _ids()


@override_settings(CACHES=REDIS)
def test_a_shared_cache_passes():
    assert "core.W001" not in _ids()


@override_settings(CACHES=LOCMEM)
def test_the_ordinary_checks_do_not_ask_for_a_shared_cache():
    assert "core.W001" not in {message.id for message in run_checks()}


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_RESULT_BACKEND=None)
def test_workers_without_a_result_backend_cannot_start_the_nightly_runs():
    errors = [message for message in run_checks() if message.id == "core.E005"]
    assert [error.msg for error in errors] == [
        "CELERY_RESULT_BACKEND is empty: the nightly runs' chords cannot tell when their chunks have finished."
    ]


@override_settings(CELERY_TASK_ALWAYS_EAGER=True, CELERY_RESULT_BACKEND=None)
def test_eager_tasks_need_no_result_backend():
    assert "core.E005" not in {message.id for message in run_checks()}


@override_settings(JOBS_CHUNK_SIZE=0)
def test_a_chunk_size_below_one_stops_everything():
    errors = [message for message in run_checks() if message.id == "core.E004"]
    assert [error.msg for error in errors] == ["JOBS_CHUNK_SIZE must be a whole number of at least 1; it is 0."]
