"""Per-user request limits for the API; a refused request answers 429 with ``Retry-After`` and the error shape.

Counted atomically in the shared cache (``CACHE_URL``, Redis in production), so racing cannot get past a limit.

Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on each request, so an operator can change them
in settings (and tests with ``override_settings``); each class carries a default for when the setting is absent.
The sign-in limit lives with the token endpoint (``accounts.api.views.AuthThrottle``).
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class AtomicCounterMixin(SimpleRateThrottle):
    """Count requests with one atomic increment in the shared cache, so concurrent requests cannot overshoot.

    DRF's own throttle reads the client's request history, decides, then writes the history back: requests that
    arrive together all read the same history and all pass (22 got through a 20-per-hour limit by racing it).
    Here each request increments a counter (``INCR`` on Redis, under a lock in the in-process cache) and is let
    through only if its own increment is within the limit, so exactly the limit passes however many race.

    The window is fixed and starts with the client's first request in it: after ``duration`` seconds the counter
    expires and the next request starts a new window. ``Retry-After`` is the time left in the window.
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # add() does nothing when the window is already open; the start is kept only to say when it ends.
        self.cache.add(f"{self.key}:start", self.now, self.duration)
        self.cache.add(self.key, 0, self.duration)
        try:
            count = self.cache.incr(self.key)
        except ValueError:
            # The window expired between add() and incr(): this request opens the next one.
            self.cache.add(self.key, 0, self.duration)
            count = self.cache.incr(self.key)
        return count <= self.num_requests

    def wait(self) -> float:
        started = self.cache.get(f"{self.key}:start")
        if started is None:
            return float(self.duration)
        return max(1.0, self.duration - (self.now - started))


class ScopedUserRateThrottle(AtomicCounterMixin, UserRateThrottle):
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
