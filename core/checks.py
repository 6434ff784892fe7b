"""Deployment checks of our own, run by ``manage.py check --deploy`` beside Django's."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


@register(Tags.security, deploy=True)
def shared_cache_check(app_configs, **kwargs):
    """API throttles and failed-login limits count in the cache: a per-process cache multiplies every limit."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            Warning(
                "The default cache is kept in each process, so the API's throttles and the failed-login limits are "
                "counted per web process, not per site.",
                hint="Set CACHE_URL to a shared cache, e.g. redis://host:6379/1.",
                id="core.W001",
            )
        ]
    return []
