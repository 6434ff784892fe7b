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
