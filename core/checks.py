"""Checks of our own: settings every process needs (always), and deployment ones run by ``check --deploy``."""

from decimal import Decimal

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

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


@register()
def annual_cost_ceiling_check(app_configs, **kwargs):
    """The ceiling on the annualised cost is a control: missing or malformed, nothing may start (never a skip)."""
    value = getattr(settings, "ANNUAL_COST_CEILING", None)
    if isinstance(value, Decimal) and value.is_finite() and 0 < value <= 100:
        return []
    return [
        Error(
            f"ANNUAL_COST_CEILING must be a Decimal percentage above 0 and at most 100; it is {value!r}.",
            hint="Set ANNUAL_COST_CEILING, e.g. 24.00 for 24 % a year.",
            id="core.E001",
        )
    ]


@register(deploy=True)
def contract_party_details_check(app_configs, **kwargs):
    """The contract states the lender's registered address and number and the dispute venue."""
    names = ("LENDER_REGISTERED_ADDRESS", "LENDER_REGISTRATION_NUMBER", "DISPUTE_RESOLUTION_VENUE")
    missing = [name for name in names if not str(getattr(settings, name, "") or "").strip()]
    errors = [
        Error(f"{name} is empty: every loan contract must state it.", hint=f"Set {name}.", id="core.E002")
        for name in missing
    ]
    fictional = [name for name in names if "fictional" in str(getattr(settings, name, "") or "")]
    errors += [
        Error(f"{name} is the demo's fictional value.", hint=f"Set {name} to the real one.", id="core.E003")
        for name in fictional
    ]
    return errors


@register()
def chunked_runs_check(app_configs, **kwargs):
    """The nightly runs are cut into chunks whose chord needs a result backend, and chunks of a positive size."""
    errors = []
    for name in ("JOBS_CHUNK_SIZE", "JOBS_CHUNK_MAX_ATTEMPTS", "JOBS_CHUNK_STALE_MINUTES"):
        value = getattr(settings, name, None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(
                    f"{name} must be a whole number of at least 1; it is {value!r}.",
                    hint=f"Set {name}.",
                    id="core.E004",
                )
            )
    if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and not getattr(
        settings, "CELERY_RESULT_BACKEND", None
    ):
        errors.append(
            Error(
                "CELERY_RESULT_BACKEND is empty: the nightly runs' chords cannot tell when their chunks have finished.",
                hint="Set CELERY_RESULT_BACKEND, e.g. the Redis of CELERY_BROKER_URL (the default).",
                id="core.E005",
            )
        )
    return errors
