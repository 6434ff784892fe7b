"""Reading from the read-only database alias (see ``config.routers``).

Read-only work that can bear a moment's lag (dashboards, stress runs, exports, monitoring) reads through
``read_only(queryset)``. Nothing that writes or decides money may: a decision, a limit, a payment and the nightly
jobs read the primary, as every queryset does unless it is passed here.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import QuerySet

READ_ONLY_ALIAS = "replica"

Q = TypeVar("Q", bound=QuerySet)


def read_only(queryset: Q) -> Q:
    """``queryset`` read from the replica (the primary when no replica is configured), in read-only transactions."""
    return queryset.using(READ_ONLY_ALIAS)


__all__ = ["READ_ONLY_ALIAS", "read_only"]
