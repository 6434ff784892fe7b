"""The sales history is partitioned by month on PostgreSQL, kept ahead by a nightly task, and loses no row."""

import datetime
import re
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from merchants.checks import sales_partition_months_ahead_check
from merchants.models import SalesDay
from merchants.services.sales_partitions import sales_partitions_ensure
from merchants.tasks import sales_partitions_ensure_task
from merchants.tests.factories import MerchantFactory, SalesDayFactory

TABLE = "merchants_salesday"


def _partition_of(row_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [row_id])  # noqa: S608
        return cursor.fetchone()[0]


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [TABLE],
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_sales_table_is_partitioned_by_month_of_its_date_with_a_default_partition():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_partkeydef(%s::regclass)", [TABLE])
        assert cursor.fetchone() == ("RANGE (date)",)
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            [TABLE],
        )
        assert cursor.fetchone() == ("PRIMARY KEY (id, date)",)
    this_month = datetime.date.today().replace(day=1)
    assert {f"{TABLE}_default", f"{TABLE}_y{this_month:%Y}m{this_month:%m}"} <= _partitions()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_day_of_a_month_without_a_partition_is_kept_and_the_nightly_task_moves_it_to_its_own_month(settings):
    settings.SALES_PARTITION_MONTHS_AHEAD = 2
    old_day = SalesDayFactory(date=datetime.date(2019, 3, 10), gross_sales=Decimal("1234.56"))
    assert _partition_of(old_day.pk) == f"{TABLE}_default"

    created = sales_partitions_ensure_task()

    assert f"{TABLE}_y2019m03" in created
    assert _partition_of(old_day.pk) == f"{TABLE}_y2019m03"
    again = SalesDay.objects.get(pk=old_day.pk)
    assert (again.date, again.gross_sales, again.merchant_id) == (
        datetime.date(2019, 3, 10),
        Decimal("1234.56"),
        old_day.merchant_id,
    )
    assert sales_partitions_ensure_task() == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_task_creates_this_month_and_the_months_ahead_once():
    created = sales_partitions_ensure(today=datetime.date(2031, 11, 20), months_ahead=3)

    assert created == [f"{TABLE}_y2031m11", f"{TABLE}_y2031m12", f"{TABLE}_y2032m01", f"{TABLE}_y2032m02"]
    assert sales_partitions_ensure(today=datetime.date(2031, 11, 20), months_ahead=3) == []
    day = SalesDayFactory(date=datetime.date(2032, 2, 29))
    assert _partition_of(day.pk) == f"{TABLE}_y2032m02"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_each_partition_once():
    names = [f"{TABLE}_y2033m05", f"{TABLE}_y2033m06", f"{TABLE}_y2033m07"]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(sales_partitions_ensure(today=datetime.date(2033, 5, 1), months_ahead=2))
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert sorted(results, key=len) == [[], names]
    finally:
        # DDL outlives a transactional test's flush: leave the test database as it was.
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")


def test_the_partitions_are_kept_ahead_every_night():
    entry = settings.CELERY_BEAT_SCHEDULE["merchants-sales-partitions"]
    assert entry["task"] == "merchants.tasks.sales_partitions_ensure_task"
    assert entry["schedule"].hour == {0}


@pytest.mark.parametrize("value", [None, 0, 25, "3", True])
def test_a_missing_or_malformed_months_ahead_setting_stops_the_portal(settings, value):
    settings.SALES_PARTITION_MONTHS_AHEAD = value

    errors = sales_partition_months_ahead_check(None)

    assert [error.id for error in errors] == ["merchants.E001"]
    assert "SALES_PARTITION_MONTHS_AHEAD" in errors[0].msg


def test_a_whole_number_of_months_ahead_passes_the_check(settings):
    settings.SALES_PARTITION_MONTHS_AHEAD = 3
    assert sales_partition_months_ahead_check(None) == []


BEFORE_PARTITIONS = [("merchants", "0005_watch_borrowing_freeze")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_install_with_a_plain_sales_table_migrates_to_partitions_with_every_row_and_id_kept():
    old = _migrate(BEFORE_PARTITIONS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        assert cursor.fetchone() == ("r",)
    merchant = MerchantFactory()
    old_sales_days = old.get_model("merchants", "SalesDay")
    written = [
        old_sales_days.objects.create(
            merchant_id=merchant.pk,
            date=day,
            gross_sales=Decimal("100.00") + index,
            refunds=Decimal("0.00"),
            transaction_count=3,
            distinct_customers=2,
            source="platform",
            version=version,
            superseded_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC) if version == 1 and index == 0 else None,
        )
        for index, (day, version) in enumerate(
            [(datetime.date(2024, 2, 29), 1), (datetime.date(2024, 2, 29), 2), (datetime.date(2025, 7, 1), 1)]
        )
    ]
    before = sorted((row.pk, row.date, row.gross_sales, row.version, row.superseded_at) for row in written)

    try:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        _check_every_row_kept(merchant, before)
    finally:
        # The migration made partitions for these rows' months; other tests' plans should not meet them.
        this_month = datetime.date.today().replace(day=1)
        with connection.cursor() as cursor:
            for name in _partitions():
                month = re.fullmatch(rf"{TABLE}_y(\d{{4}})m(\d{{2}})", name)
                if month and datetime.date(int(month[1]), int(month[2]), 1) < this_month:
                    cursor.execute(f"DROP TABLE {name}")


def _check_every_row_kept(merchant, before) -> None:
    after = sorted(
        SalesDay.all_rows.values_list("pk", "date", "gross_sales", "version", "superseded_at").order_by("pk")
    )
    assert after == before
    assert {_partition_of(pk) for pk, *_rest in before} == {f"{TABLE}_y2024m02", f"{TABLE}_y2025m07"}
    fresh = SalesDayFactory(merchant=merchant, date=datetime.date(2025, 7, 2))
    assert fresh.pk > max(pk for pk, *_rest in before)
