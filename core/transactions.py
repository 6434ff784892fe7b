"""After-commit work that must never undo, or fail, the step that committed.

Services queue Celery tasks with ``task_on_commit("app.tasks.name", *ids)``: by the task's registered name, so a
service never imports a task module (the tasks import the services; the other way round would be a cycle).
"""

from collections.abc import Callable

from celery import chord, current_app, signature
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


def chord_on_commit(*, header: str, header_args: list[tuple], body: str, body_args: tuple = ()) -> None:
    """Once the current transaction commits, run ``header`` once per tuple of ``header_args`` in parallel (a Celery
    group), then ``body(results, *body_args)`` when every one of them has finished (a chord).

    By the tasks' registered names, checked now (as ``task_on_commit`` does). A chord needs a result backend to
    count its header's results; with ``CELERY_TASK_ALWAYS_EAGER`` (the demo, the tests) Celery runs the whole chord
    in this process instead, the group first and the body after it, with no backend.
    """
    for name in (header, body):
        registered_task(name)
    app = current_app._get_current_object()

    def queue() -> None:
        chord([signature(header, args=args, app=app) for args in header_args])(signature(body, args=body_args, app=app))

    queue.__qualname__ = f"chord({header} x {len(header_args)}, {body}).delay"
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
