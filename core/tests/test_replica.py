"""The read-only alias: reads by name only, writes always to the primary, a read-only transactions on PostgreSQL."""

import pytest
from django.db import DatabaseError, connections, router, transaction

from config.routers import NO_JIT, READ_ONLY_TRANSACTIONS, replica_database, with_session_options
from core.db import read_only
from core.models import Notice
from core.tests.factories import NoticeFactory

PRIMARY = {"ENGINE": "django.db.backends.postgresql", "NAME": "loans", "HOST": "db1", "CONN_MAX_AGE": 60}


def test_without_a_replica_the_alias_is_the_primary_in_read_only_transactions():
    replica = replica_database(PRIMARY, None)

    assert (replica["HOST"], replica["NAME"], replica["CONN_MAX_AGE"]) == ("db1", "loans", 60)
    assert replica["OPTIONS"]["options"] == f"{NO_JIT} {READ_ONLY_TRANSACTIONS}"
    assert replica["TEST"] == {"MIRROR": "default"}
    assert "OPTIONS" not in PRIMARY  # the primary's own settings are left alone


def test_a_replica_url_points_the_alias_at_the_replica_with_the_primarys_pool_settings():
    replica = replica_database(PRIMARY, {"ENGINE": "django.db.backends.postgresql", "NAME": "loans", "HOST": "db2"})

    assert (replica["HOST"], replica["CONN_MAX_AGE"]) == ("db2", 60)
    assert replica["OPTIONS"]["options"] == f"{NO_JIT} {READ_ONLY_TRANSACTIONS}"


def test_session_options_are_added_once_to_what_was_given_and_only_on_postgresql():
    given = {**PRIMARY, "OPTIONS": {"options": "-c statement_timeout=5000", "sslmode": "require"}}

    settings = with_session_options(with_session_options(given, NO_JIT), NO_JIT)
    assert settings["OPTIONS"] == {"options": f"-c statement_timeout=5000 {NO_JIT}", "sslmode": "require"}
    assert given["OPTIONS"]["options"] == "-c statement_timeout=5000"  # the given settings are left alone
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    assert with_session_options(sqlite, NO_JIT) == sqlite


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "replica"])
def test_the_portals_sessions_never_compile_queries_to_machine_code():
    # A stress run's chunk spent 1.7 s in JIT compilation before a 0.3 s execution (config.routers.NO_JIT).
    for alias in ("default", "replica"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone() == ("off",), alias


def test_writes_go_to_the_primary_even_for_an_object_read_from_the_replica():
    notice = Notice(title="read from the replica")
    notice._state.db = "replica"

    assert router.db_for_write(Notice, instance=notice) == "default"
    assert router.db_for_read(Notice) == "default"
    assert router.allow_migrate("replica", "core") is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_read_only_code_sees_committed_rows_and_cannot_write_through_the_alias(merchant_owner):
    notice = NoticeFactory(user=merchant_owner, title="Instalment 3 is due")

    assert list(read_only(Notice.objects.filter(user=merchant_owner)).values_list("title", flat=True)) == [
        "Instalment 3 is due"
    ]
    with pytest.raises(DatabaseError, match="read-only transaction"), transaction.atomic(using="replica"):
        Notice.objects.using("replica").filter(pk=notice.pk).update(title="changed")
    connections["replica"].close()
    assert Notice.objects.get(pk=notice.pk).title == "Instalment 3 is due"
