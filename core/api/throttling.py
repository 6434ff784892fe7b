"""Per-user request limits for the API; a refused request answers 429 with ``Retry-After`` and the error shape.

Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on each request, so an operator can change them
in settings (and tests with ``override_settings``); each class carries a default for when the setting is absent.
The sign-in limit lives with the token endpoint (``accounts.api.views.AuthThrottle``).
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class ScopedUserRateThrottle(UserRateThrottle):
    """A per-user (per-IP when anonymous) limit named by ``scope``, with ``default_rate`` as the fallback."""

    default_rate: str | None = None

    def get_rate(self) -> str | None:
        # DRF's own lookup reads a dict captured at import time, which misses later settings changes.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or self.default_rate


class ApplicationsThrottle(ScopedUserRateThrottle):
    """Loan applications per hour: a real merchant applies a few times; a script applying 20 times is not shopping."""

    scope = "applications"
    default_rate = "20/hour"


class ApplicationsDailyThrottle(ScopedUserRateThrottle):
    """Loan applications per day, so the hourly limit cannot be used all day long."""

    scope = "applications_daily"
    default_rate = "100/day"


# What an application endpoint puts in ``throttle_classes``: both windows apply.
APPLICATIONS_THROTTLES = [ApplicationsThrottle, ApplicationsDailyThrottle]
