"""Racing the same call from several threads at once, for the concurrency tests on PostgreSQL."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

CONFLICT = "conflict"


def race(attempt: Callable[[], Any], *, times: int, conflicts: tuple[type[BaseException], ...] = ()) -> list[Any]:
    """Start ``attempt`` in ``times`` threads released together by a barrier; return what each got.

    Each thread's entry is ``attempt()``'s return value, or ``CONFLICT`` when it raised one of ``conflicts``
    (any other exception fails the test). Every thread closes its own database connection.
    """
    barrier = threading.Barrier(times)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(attempt())
        except conflicts:
            outcomes.append(CONFLICT)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return outcomes
