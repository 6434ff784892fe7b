"""Settings the merchants app cannot run without: missing or malformed, nothing starts (never a silent skip)."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def sales_partition_months_ahead_check(app_configs, **kwargs):
    """The nightly task creates the sales history's partitions this many months ahead (PostgreSQL)."""
    value = getattr(settings, "SALES_PARTITION_MONTHS_AHEAD", None)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 24:
        return []
    return [
        Error(
            f"SALES_PARTITION_MONTHS_AHEAD must be a whole number of months from 1 to 24; it is {value!r}.",
            hint="Set SALES_PARTITION_MONTHS_AHEAD, e.g. 3.",
            id="merchants.E001",
        )
    ]
