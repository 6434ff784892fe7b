"""The applications list stays fast at millions of rows: every filter and search is read through an index, the count
stops early, and the API's list never counts (PostgreSQL).

The plans are PostgreSQL's own choices on a table with realistic statistics: 30,000 applications written in one
``INSERT … SELECT generate_series`` and analysed, spread like the portal's (2 % referred, a few signed or waiting
for a second approval, most decided or closed, three products, one in 97 a counter-offer). No planner setting is
forced: a plan that reads the table from end to end shows up as a ``Seq Scan`` and fails the test.
"""

from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from core.admin.mixins import EstimatedCountPaginator
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import LoanApplication
from merchants.tests.factories import MerchantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 30_000
CHANGELIST = "/admin/lending/loanapplication/"


def _index_named(fields: list[str]) -> str:
    return next(index.name for index in LoanApplication._meta.indexes if index.fields == fields)


@pytest.fixture
def book(db):
    """ROWS applications over 20 merchants and three products, with the table analysed."""
    products = [LoanProductFactory(code=f"plan-{n}") for n in range(3)]
    merchants = [MerchantFactory() for _ in range(20)]
    template = LoanApplication.objects.create(
        merchant=merchants[0],
        product=products[0],
        amount=Decimal("30000.00"),
        term=12,
        repayment_method=products[0].repayment_methods[0],
    )
    columns = [f.column for f in LoanApplication._meta.concrete_fields if not f.primary_key]
    replaced = {
        "merchant_id": "(%(merchants)s::bigint[])[1 + g %% 20]",
        "product_id": "(%(products)s::bigint[])[1 + g %% 3]",
        "state": "CASE WHEN g %% 100 < 2 THEN 'referred' WHEN g %% 100 = 2 THEN 'signed' "
        "WHEN g %% 100 = 3 THEN 'awaiting_second_approval' WHEN g %% 100 < 40 THEN 'declined' "
        "WHEN g %% 100 < 70 THEN 'funded' WHEN g %% 100 < 80 THEN 'expired' ELSE 'withdrawn' END",
        "is_counter_offer": "g %% 97 = 0",
        "created_at": "now() - g * interval '1 minute'",
        "submission_token": "NULL",
    }
    values = [replaced.get(column, f"t.{column}") for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO lending_loanapplication ({', '.join(columns)}) "  # noqa: S608 - the model's columns
            f"SELECT {', '.join(values)} FROM lending_loanapplication t, generate_series(1, %(rows)s) g "
            "WHERE t.id = %(template)s",
            {
                "merchants": [m.pk for m in merchants],
                "products": [p.pk for p in products],
                "rows": ROWS - 1,
                "template": template.pk,
            },
        )
        cursor.execute("ANALYZE")
    return {"products": products, "merchants": merchants}


def _page(params: dict):
    """The changelist the officer gets for ``params``: (the page's queryset, the changelist)."""
    request = RequestFactory().get(CHANGELIST, params)
    request.user = UserFactory(is_staff=True, is_superuser=True)
    changelist = site._registry[LoanApplication].get_changelist_instance(request)
    return changelist.paginator.page(1).object_list, changelist


def _plan(queryset) -> str:
    return queryset.explain()


@pytest.mark.parametrize(
    ("params", "index_fields"),
    [
        ({}, ["-created_at", "-id"]),
        ({"state__exact": "referred"}, ["state", "-created_at"]),
        ({"state__exact": "declined"}, ["state", "-created_at"]),
        ({"queue": "referred"}, ["state", "-created_at"]),
        ({"queue": "second_approval"}, ["state", "-created_at"]),
        ({"queue": "to_fund"}, ["state", "-created_at"]),
        ({"product__id__exact": "first"}, ["product", "-created_at"]),
        ({"is_counter_offer__exact": "1"}, ["is_counter_offer", "-created_at"]),
        ({"is_counter_offer__exact": "0"}, ["is_counter_offer", "-created_at"]),
    ],
)
def test_each_filter_of_the_applications_list_reads_its_page_through_its_index(book, params, index_fields):
    if params.get("product__id__exact") == "first":
        params = {"product__id__exact": str(book["products"][0].pk)}
    page, changelist = _page(params)

    plan = _plan(page)

    assert len(changelist.result_list) == 100
    assert "Seq Scan on lending_loanapplication" not in plan
    # Either the filter's own index or the list's order (scanned in order, the filter checked row by row): both
    # read about one page of rows, never the table.
    expected = {_index_named(index_fields), _index_named(["-created_at", "-id"])}
    assert any(f"using {name} on lending_loanapplication" in plan for name in expected), plan


def test_a_filtered_list_is_counted_only_up_to_the_threshold_then_estimated(book, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 1000)
    declined = LoanApplication.objects.filter(state="declined").count()
    referred = LoanApplication.objects.filter(state="referred").count()

    with CaptureQueriesContext(connection) as queries:
        _page_declined, changelist = _page({"state__exact": "declined"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    estimate = changelist.result_count

    # The count stopped after 1,001 rows, and the planner's estimate sized the pages: near the truth, not counted.
    assert counts
    assert all("LIMIT 1001" in sql for sql in counts if "declined" in sql)
    assert estimate > 1000
    assert abs(estimate - declined) < declined * 0.2
    # A short list is counted exactly.
    _page_referred, changelist = _page({"state__exact": "referred"})
    assert changelist.result_count == referred


@pytest.mark.parametrize("what", ["id", "credit_code", "legal_name"])
def test_a_search_by_an_exact_identifier_reads_through_an_index_and_finds_it(book, what):
    merchant = book["merchants"][3]
    application = LoanApplication.objects.filter(merchant=merchant).order_by("-created_at", "-id").first()
    term = {"id": str(application.pk), "credit_code": merchant.credit_code, "legal_name": merchant.legal_name}[what]

    page, changelist = _page({"q": term})

    found = {row.pk for row in changelist.result_list}
    assert application.pk in found
    if what == "id":
        assert found == {application.pk}
    else:
        assert {row.merchant_id for row in changelist.result_list} == {merchant.pk}
    assert "Seq Scan on lending_loanapplication" not in _plan(page)


def test_a_search_finds_only_exact_identifiers_and_a_term_no_field_can_hold_finds_nothing(book):
    merchant = book["merchants"][5]

    _page_part, by_part = _page({"q": merchant.legal_name[:6]})
    _page_lower, by_lower_case = _page({"q": merchant.credit_code.lower()})
    _page_text, by_letters = _page({"q": "x" * 300})

    assert list(by_part.result_list) == []
    assert {row.merchant_id for row in by_lower_case.result_list} == {merchant.pk}
    assert list(by_letters.result_list) == []


def test_the_api_list_pages_by_cursor_without_counting(book, client):
    merchant = book["merchants"][7]
    client.force_login(merchant.owner)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/applications/")

    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 50
    assert body["next"]
    assert "cursor=" in body["next"]
    assert "count" not in body
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
