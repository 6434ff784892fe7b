"""Checks of the rails: they load (always), and a deployment uses real ones, never the sandbox (``check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

RAIL_SETTINGS = ("PAYOUT_ADAPTER", "COLLECTION_ADAPTER")
MIN_SECRET_LENGTH = 32


@register()
def rails_load_check(app_configs, **kwargs):
    errors = []
    for name in RAIL_SETTINGS:
        path = getattr(settings, name, "")
        try:
            import_string(path)
        except (ImportError, RuntimeError) as exc:  # RuntimeError: a model of an app not installed here
            errors.append(Error(f"{name} = {path!r} cannot be loaded: {exc}", id="lending.E010"))
    return errors


@register(deploy=True)
def rails_not_sandbox_check(app_configs, **kwargs):
    """A deployment moves real money: a sandbox rail would record payouts and collections that never happen."""
    errors = [
        Error(
            f"{name} is the sandbox's {getattr(settings, name)!r}: it moves no money.",
            hint="Set it to the platform's rail, e.g. lending.servicing.services.rails.PlatformWithholdingRail.",
            id="lending.E011",
        )
        for name in RAIL_SETTINGS
        if str(getattr(settings, name, "")).startswith("sandbox.")
    ]
    if "sandbox" in settings.INSTALLED_APPS:
        errors.append(Error("The sandbox app is installed; remove it from INSTALLED_APPS.", id="lending.E012"))
    secret = getattr(settings, "RAIL_CALLBACK_SECRET", "")
    if len(secret) < MIN_SECRET_LENGTH or secret.startswith("sandbox-"):
        errors.append(
            Error(
                f"RAIL_CALLBACK_SECRET must be the rail's own secret of at least {MIN_SECRET_LENGTH} characters.",
                id="lending.E013",
            )
        )
    return errors
