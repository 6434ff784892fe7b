"""After-commit work that must never undo, or fail, the step that committed."""

from collections.abc import Callable

from django.db import transaction


def on_commit_robust(func: Callable[..., object], *args: object) -> None:
    """Call ``func(*args)`` once the current transaction commits; an error is logged, never raised.

    For side effects such as queueing an email: the step has committed, so a broker that is down must not turn it
    into an error page. Django's ``on_commit(..., robust=True)`` logs a failure with the callable's
    ``__qualname__``, which a ``functools.partial`` lacks (the logging itself then raises, and the request fails
    after all), so the call is wrapped in a function carrying ``func``'s name.
    """

    def call() -> None:
        func(*args)

    call.__qualname__ = getattr(func, "__qualname__", repr(func))
    transaction.on_commit(call, robust=True)
