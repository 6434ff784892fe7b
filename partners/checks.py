"""Checks of the webhook settings: each is present and sane (always), and a deployment posts over the network."""

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

WEBHOOK_NUMBERS = ("PARTNER_WEBHOOK_TIMEOUT_SECONDS", "PARTNER_WEBHOOK_RETRY_HOURS", "PARTNER_WEBHOOK_ROTATION_HOURS")
MIN_RETRY_HOURS = 24


@register()
def webhook_settings_check(app_configs, **kwargs):
    errors = []
    path = getattr(settings, "PARTNER_WEBHOOK_TRANSPORT", "")
    try:
        if not callable(import_string(path)):
            raise ImportError("it is not callable")
    except (ImportError, RuntimeError) as exc:
        errors.append(Error(f"PARTNER_WEBHOOK_TRANSPORT = {path!r} cannot be loaded: {exc}", id="partners.E001"))
    for name in WEBHOOK_NUMBERS:
        value = getattr(settings, name, None)
        if not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"{name} must be a positive number, not {value!r}.", id="partners.E002"))
    retry = getattr(settings, "PARTNER_WEBHOOK_RETRY_HOURS", 0)
    if isinstance(retry, int | float) and 0 < retry < MIN_RETRY_HOURS:
        errors.append(
            Error(
                f"PARTNER_WEBHOOK_RETRY_HOURS must be at least {MIN_RETRY_HOURS}: partners are promised a day.",
                id="partners.E003",
            )
        )
    return errors


@register(deploy=True)
def webhook_transport_not_sandbox_check(app_configs, **kwargs):
    """A deployment delivers to partners' servers: the sandbox's in-process receiver would swallow every event."""
    path = str(getattr(settings, "PARTNER_WEBHOOK_TRANSPORT", ""))
    if path.startswith("sandbox."):
        return [
            Error(
                f"PARTNER_WEBHOOK_TRANSPORT is the sandbox's {path!r}: no partner would receive a webhook.",
                hint="Leave it at partners.services.webhooks.requests_transport.",
                id="partners.E004",
            )
        ]
    return []
