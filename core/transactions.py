"""After-commit work that must never undo, or fail, the step that committed.

Services queue Celery tasks with ``task_on_commit("app.tasks.name", *ids)``: by the task's registered name, so a
service never imports a task module (the tasks import the services; the other way round would be a cycle).
"""

from collections.abc import Callable

from celery import current_app
from celery.app.task import Task
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


def task_on_commit(name: str, *args: object) -> None:
    """Queue the task registered as ``name`` with ``args`` once the current transaction commits.

    The name is looked up now, inside the service's transaction, so a misspelt name fails the step loudly instead of
    being logged after the commit; a broker that is down at the commit is only logged (see ``on_commit_robust``),
    and the sweeps take up what it never ran.
    """
    task = registered_task(name)

    def queue() -> None:
        task.delay(*args)

    queue.__qualname__ = f"{name}.delay"
    transaction.on_commit(queue, robust=True)


def registered_task(name: str) -> Task:
    """The Celery task registered as ``name``; the apps' task modules are imported on first use."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()
    try:
        return tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task is registered as {name!r}.") from None
