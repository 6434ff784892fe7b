"""Keeping the sales history's monthly partitions ahead of the calendar (PostgreSQL only).

The table is partitioned by month of ``date`` (migration ``0006_scale_sales_partitions``). A month needs its
partition before its first row arrives; a row for a month without one lands in the DEFAULT partition, so it is never
refused or lost, but every query then reads the whole default partition as well. ``sales_partitions_ensure`` runs
every night (``merchants.tasks.sales_partitions_ensure_task``) and

* creates the partition of this month and of the next ``months_ahead`` months, and
* gives every month found in the default partition (old history imported late, a date far ahead) a partition of
  its own, moving its rows there.

It is idempotent: a month that has its partition is left alone, and two runs at once wait for each other.
"""

import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from merchants.models import SalesDay
from merchants.selectors.sales import month_start

DEFAULT_PARTITION_SUFFIX = "_default"
# Any fixed number: two runs take the same transaction-level advisory lock and so never race.
_ADVISORY_LOCK = 0x5A1E5DA1


def sales_partition_name(month: datetime.date) -> str:
    return f"{SalesDay._meta.db_table}_y{month.year:04d}m{month.month:02d}"


def sales_partitions_ensure(*, today: datetime.date, months_ahead: int) -> list[str]:
    """Create the missing monthly partitions; return the names created, oldest month first.

    On a database other than PostgreSQL (the SQLite demo) the table is a plain one and there is nothing to do.
    On PostgreSQL a sales table that is not partitioned is an error, not a skip: it means a migration is missing.
    """
    if connection.vendor != "postgresql":
        return []
    table = SalesDay._meta.db_table
    default = table + DEFAULT_PARTITION_SUFFIX
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        if cursor.fetchone() != ("p",):
            raise ImproperlyConfigured(f"{table} is not partitioned: run `manage.py migrate merchants`.")
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = %s::regclass",
            [table],
        )
        existing = {name for (name,) in cursor.fetchall()}
        months = {month_start(today, months_back=-ahead) for ahead in range(months_ahead + 1)}
        if default in existing:
            cursor.execute(f"SELECT DISTINCT date_trunc('month', date)::date FROM {default}")  # noqa: S608
            months |= {month for (month,) in cursor.fetchall()}
        for month in sorted(months):
            name = sales_partition_name(month)
            if name in existing:
                continue
            _partition_create(cursor, table=table, default=default if default in existing else None, month=month)
            created.append(name)
    return created


def _partition_create(cursor, *, table: str, default: str | None, month: datetime.date) -> None:
    """Build the month's table beside the parent, move the month's rows out of the default partition, attach it.

    Attaching (rather than CREATE TABLE … PARTITION OF) is what allows moving the rows first: PostgreSQL refuses a
    new partition while the default partition still holds rows of its range. Attaching takes only a SHARE UPDATE
    EXCLUSIVE lock on the parent, so the portal keeps reading and writing sales meanwhile; the indexes, the
    foreign key and the check constraints are added to the new partition by PostgreSQL as it is attached.
    """
    name = sales_partition_name(month)
    following = month_start(month, months_back=-1)
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # A CHECK matching the range lets ATTACH skip its validation scan of the new table.
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (date >= %s AND date < %s)", [month, following]
    )
    if default is not None:
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE date >= %s AND date < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved",
            [month, following],
        )
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [month, following])
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
