"""A decision's reads of the partitioned sales history touch only the months they need (PostgreSQL)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from merchants.models import SalesDay
from merchants.services.sales_partitions import sales_partitions_ensure
from merchants.tests.factories import MerchantFactory
from underwriting.selectors.features import merchant_features
from underwriting.selectors.fraud_signals import detect_signals

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

AS_OF = datetime.date(2026, 11, 15)
PARTITION = re.compile(r" on (merchants_salesday_\w+)")


@pytest.fixture
def three_years_of_sales():
    """A merchant with a sale every fourth day from November 2023 to the day before AS_OF, every month partitioned."""
    sales_partitions_ensure(today=datetime.date(2023, 11, 1), months_ahead=40)
    merchant = MerchantFactory()
    first = datetime.date(2023, 11, 1)
    SalesDay.all_rows.bulk_create(
        SalesDay(
            merchant=merchant,
            date=first + datetime.timedelta(days=offset),
            gross_sales=Decimal("2000.00"),
            refunds=Decimal("10.00"),
            transaction_count=40,
            distinct_customers=30,
        )
        for offset in range(0, (AS_OF - first).days, 4)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE merchants_salesday")
    return merchant


def _partitions_read(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return set(PARTITION.findall(plan))


def _months(first: datetime.date, last: datetime.date) -> set[str]:
    names, month = set(), first
    while month <= last:
        names.add(f"merchants_salesday_y{month:%Y}m{month:%m}")
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return names


def test_the_features_read_the_year_before_the_decision_month_and_nothing_after_it(three_years_of_sales):
    with CaptureQueriesContext(connection) as captured:
        features = merchant_features(merchant=three_years_of_sales, as_of=AS_OF)
    reads = [query["sql"] for query in captured.captured_queries if "merchants_salesday" in query["sql"]]

    assert features.months_active is not None
    assert len(reads) == 2
    read_by_query = sorted((_partitions_read(sql) for sql in reads), key=len)
    # The twelve full months before AS_OF's month, exactly.
    assert read_by_query[0] == _months(datetime.date(2025, 11, 1), datetime.date(2026, 10, 1))
    # The merchant's whole history up to AS_OF (how long it has sold), and no month after AS_OF's: of the
    # partitions made ahead (December 2026 to February 2027) none is read.
    assert _months(datetime.date(2023, 11, 1), datetime.date(2026, 11, 1)) <= read_by_query[1]
    assert [name for name in read_by_query[1] if "_default" not in name and name > "merchants_salesday_y2026m11"] == []


def test_the_window_dressing_signal_reads_only_its_baseline_and_last_month(three_years_of_sales):
    features = merchant_features(merchant=three_years_of_sales, as_of=AS_OF)
    with CaptureQueriesContext(connection) as captured:
        detect_signals(
            merchant=three_years_of_sales,
            features=features,
            requested_amount=Decimal("10000.00"),
            applications_last_30_days=0,
            as_of=AS_OF,
        )
    reads = [query["sql"] for query in captured.captured_queries if "merchants_salesday" in query["sql"]]

    assert len(reads) == 1
    # Six baseline months and the last full one: April to October 2026.
    assert _partitions_read(reads[0]) == _months(datetime.date(2026, 4, 1), datetime.date(2026, 10, 1))
