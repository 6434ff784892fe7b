"""The read-only database alias: "replica", a streaming replica of the primary or, without one, the primary itself.

Nothing is sent to the replica unless the code asks for it by name (``core.db.read_only(queryset)``), and only
read-only work may ask: dashboards, stress runs, exports, monitoring. A replica lags the primary by a moment, so
nothing that writes, and nothing that decides money (a decision, a limit, a payment, the nightly jobs), reads from
it. Two guards keep it that way: this router sends every write to the primary, even the save of an object that was
read from the replica, and on PostgreSQL the alias's connections start every transaction read-only
(``default_transaction_read_only``), so a write sent to it by mistake fails, whether or not a real replica is
configured.
"""

from __future__ import annotations

import copy

PRIMARY = "default"
REPLICA = "replica"
READ_ONLY_TRANSACTIONS = "-c default_transaction_read_only=on"
# PostgreSQL compiles a query's expressions to machine code (JIT) once its estimated cost passes a threshold. The
# portal's queries are short: a stress run's chunk, whose PD expressions JIT compiled for 1.7 s before a 0.3 s
# execution, is the costliest, and nothing runs long enough to win it back. Off for every session of the portal's.
NO_JIT = "-c jit=off"


def with_session_options(settings: dict, *session_options: str) -> dict:
    """``settings`` (a DATABASES entry) whose PostgreSQL sessions start with ``session_options`` besides any it had;
    other engines' settings unchanged."""
    if "postgresql" not in settings.get("ENGINE", ""):
        return settings
    settings = copy.deepcopy(settings)
    options = dict(settings.get("OPTIONS") or {})
    given = options.get("options", "")
    options["options"] = " ".join([given, *(option for option in session_options if option not in given)]).strip()
    settings["OPTIONS"] = options
    return settings


def replica_database(primary: dict, replica: dict | None) -> dict:
    """The settings of the "replica" alias: ``replica``'s when given, the primary's otherwise, made read-only.

    The primary's pool settings are kept (``CONN_MAX_AGE``, ``ATOMIC_REQUESTS``). In the test suite the alias is a
    mirror of the primary (Django points it at the test database instead of creating one).
    """
    settings = copy.deepcopy(primary)
    if replica is not None:
        settings.update(
            {key: value for key, value in replica.items() if key not in ("CONN_MAX_AGE", "ATOMIC_REQUESTS")}
        )
    settings["TEST"] = {**settings.get("TEST", {}), "MIRROR": PRIMARY}
    return with_session_options(settings, NO_JIT, READ_ONLY_TRANSACTIONS)


class PrimaryReplicaRouter:
    """Reads stay where the code sends them (the primary unless it names the replica); writes go to the primary."""

    def db_for_read(self, model, **hints):
        return None

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # The same rows under two names: an object read from the replica may point at one read from the primary.
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica gets its schema from the primary by replication.
        return db == PRIMARY
