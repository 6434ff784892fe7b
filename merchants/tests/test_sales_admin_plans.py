"""The sales days' back-office list reads every filter's page through an index of the partitioned table (PostgreSQL).

40,000 rows over four monthly partitions, analysed, spread like the credit file: one in a hundred declared by the
merchant, one in a hundred a corrected-away version. No planner setting is forced.
"""

import datetime
import re

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory

from accounts.tests.factories import UserFactory
from merchants.models import SalesDay
from merchants.services.sales_partitions import sales_partitions_ensure
from merchants.tests.factories import MerchantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHANGELIST = "/admin/merchants/salesday/"
FIRST = datetime.date(2026, 7, 1)
# The months holding the test's rows: a Seq Scan on one of those would read the table; other partitions are empty.
SEQ_SCAN = re.compile(r"Seq Scan on merchants_salesday_(y2026m0[789]|y2026m10)\b")
INDEX_SCAN = re.compile(r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using|on) (\w+)")


@pytest.fixture
def sales_book(db):
    sales_partitions_ensure(today=FIRST, months_ahead=3)
    merchants = [MerchantFactory() for _ in range(330)]
    with connection.cursor() as cursor:
        # Versions: each merchant-day a hundredth of the time is a corrected-away version 1 beside its version 2.
        cursor.execute(
            "INSERT INTO merchants_salesday (merchant_id, date, gross_sales, refunds, transaction_count, "
            "distinct_customers, imported_at, source, batch_id, version, superseded_at) "
            "SELECT m, d::date, 1000, 0, 20, 15, now(), CASE WHEN (m + (d::date - %s::date)) %% 100 = 0 "
            "THEN 'declared' ELSE 'platform' END, 'plan', v, CASE WHEN v = 1 AND (m * 7 + (d::date - %s::date)) "
            "%% 100 = 1 THEN now() END FROM unnest(%s::bigint[]) m, generate_series(%s::date, %s::date - 1, "
            "'1 day') d, generate_series(1, 2) v WHERE v = 1 OR (m * 7 + (d::date - %s::date)) %% 100 = 1",
            [FIRST, FIRST, [m.pk for m in merchants], FIRST, FIRST + datetime.timedelta(days=120), FIRST],
        )
        cursor.execute("ANALYZE merchants_salesday")
    return merchants


def _page(params: dict):
    request = RequestFactory().get(CHANGELIST, params)
    request.user = UserFactory(is_staff=True, is_superuser=True)
    changelist = site._registry[SalesDay].get_changelist_instance(request)
    return changelist.paginator.page(1).object_list, changelist


def _indexes_used(plan: str) -> set[str]:
    """The table's indexes a plan reads: each partition's index is named by the partitioned index it belongs to."""
    names = set(INDEX_SCAN.findall(plan))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname, coalesce(parent.relname, child.relname) FROM pg_class child "
            "LEFT JOIN pg_inherits ON pg_inherits.inhrelid = child.oid "
            "LEFT JOIN pg_class parent ON parent.oid = pg_inherits.inhparent WHERE child.relname = ANY(%s)",
            [list(names)],
        )
        return {parent for _child, parent in cursor.fetchall()}


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "sales_newest_first"),
        ({"source__exact": "platform"}, "sales_newest_first"),
        ({"source__exact": "declared"}, "sales_declared_newest"),
        ({"superseded_at__isempty": "1"}, "sales_newest_first"),
        ({"superseded_at__isempty": "0"}, "sales_superseded_newest"),
        ({"date__year": "2026", "date__month": "8"}, "sales_newest_first"),
    ],
)
def test_each_filter_of_the_sales_list_reads_its_page_through_an_index(sales_book, params, index):
    page, changelist = _page(params)

    plan = page.explain()

    assert len(changelist.result_list) == 100
    assert not SEQ_SCAN.search(plan), plan
    assert index in _indexes_used(plan), plan


def test_a_search_by_a_merchants_credit_code_reads_only_its_rows_through_the_unique_index(sales_book):
    merchant = sales_book[42]

    page, changelist = _page({"q": merchant.credit_code})
    plan = page.explain()

    assert {row.merchant_id for row in changelist.result_list} == {merchant.pk}
    assert not SEQ_SCAN.search(plan), plan
    unique_indexes = {"one_sales_version_per_merchant_day_source", "one_current_sales_row_per_merchant_day_source"}
    assert _indexes_used(plan) & unique_indexes, plan
