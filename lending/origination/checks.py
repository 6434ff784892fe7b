"""Checks that origination's controls are configured: a control whose setting is missing fails, it never skips.

Run by every ``manage.py`` command (and so at start-up of the web and worker processes), not only ``--deploy``.
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


def four_eyes_threshold() -> Decimal:
    """Loans above this amount need a second officer's approval before payout (``settings.FOUR_EYES_THRESHOLD``).

    Raises ``ImproperlyConfigured`` when the setting is missing or not a positive amount: the control is never
    silently off.
    """
    value = getattr(settings, "FOUR_EYES_THRESHOLD", None)
    try:
        threshold = Decimal(str(value))
    except (InvalidOperation, ValueError):
        threshold = None
    if value is None or threshold is None or not threshold.is_finite() or threshold <= 0:
        raise ImproperlyConfigured(
            f"FOUR_EYES_THRESHOLD must be a positive amount in yuan (loans above it need a second approval); "
            f"it is {value!r}."
        )
    return threshold


@register()
def controls_configured_check(app_configs, **kwargs):
    try:
        four_eyes_threshold()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set FOUR_EYES_THRESHOLD, e.g. 200000.00.", id="lending.E001")]
    return []
