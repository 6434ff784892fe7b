"""POST/GET /api/v1/sales/: the requesting merchant declares sales taken elsewhere and lists its own days."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.models import AuditEvent
from merchants.models import SalesDay
from merchants.tests.factories import SalesDayFactory

URL = "/api/v1/sales/"
HEADER = "date,gross_sales,refunds,transaction_count,distinct_customers"


def day(date: str, gross: str = "1000.00", refunds: str = "0", transactions=20, customers=18) -> dict:
    return {
        "date": date,
        "gross_sales": gross,
        "refunds": refunds,
        "transaction_count": transactions,
        "distinct_customers": customers,
    }


@pytest.fixture
def api(merchant):
    client = APIClient()
    client.force_authenticate(merchant.owner)
    return client


def test_json_days_are_declared_with_counts_and_201(api, merchant):
    response = api.post(URL, {"days": [day("2025-03-01"), day("2025-03-02", gross="12.5")]}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "created": 2,
        "replaced": 0,
        "unchanged": 0,
        "first_date": "2025-03-01",
        "last_date": "2025-03-02",
    }
    declared = SalesDay.all_rows.get(merchant=merchant, date="2025-03-02")
    assert (declared.gross_sales, declared.source, declared.batch_id) == (Decimal("12.50"), "declared", "api")
    assert not SalesDay.objects.exists()  # the credit file is the platform's alone


def test_sending_the_same_days_again_is_a_200_with_nothing_new(api, merchant):
    api.post(URL, {"days": [day("2025-03-01")]}, format="json")

    response = api.post(URL, {"days": [day("2025-03-01")]}, format="json")

    assert response.status_code == 200
    assert response.json()["unchanged"] == 1
    assert SalesDay.all_rows.filter(merchant=merchant).count() == 1


def test_a_csv_file_can_be_uploaded_as_multipart(api, merchant):
    upload = SimpleUploadedFile("sales.csv", f"{HEADER}\n2025-03-01,500.00,5.00,10,9\n".encode(), "text/csv")

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 201
    assert response.json()["created"] == 1
    assert AuditEvent.objects.filter(action="sales.import", object_id=str(merchant.pk)).get().data["format"] == "csv"


def test_a_bad_csv_is_a_400_naming_line_and_column_and_nothing_is_saved(api, merchant):
    upload = SimpleUploadedFile(
        "sales.csv", f"{HEADER}\n2025-03-01,500.00,5.00,10,9\n2025-03-02,12.3x,0,10,9\n".encode(), "text/csv"
    )

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_sales_data"
    assert body["message"] == "The sales data has 1 problem(s); nothing was imported."
    assert body["errors"] == [
        {
            "line": 3,
            "index": None,
            "column": "gross_sales",
            "message": "'12.3x' is not an amount; use digits with up to two decimals.",
            "text": "line 3, column gross_sales: '12.3x' is not an amount; use digits with up to two decimals.",
        }
    ]
    assert body["fields"] == {"gross_sales": [body["errors"][0]["text"]]}
    assert not SalesDay.all_rows.exists()


def test_bad_json_values_are_a_400_naming_the_position_and_field(api, merchant):
    days = [day("2025-03-01"), day("2025-03-02", gross="100.00", refunds="150.00"), day("2099-01-01")]

    response = api.post(URL, {"days": days}, format="json")

    assert response.status_code == 400
    texts = [error["text"] for error in response.json()["errors"]]
    assert texts[0].startswith("days[1].refunds: refunds (150.00) are more than the day's gross sales (100.00)")
    assert texts[1].startswith("days[2].date: 2099-01-01 is in the future")
    assert not SalesDay.all_rows.exists()


def test_a_missing_field_in_json_is_named_with_its_position(api):
    incomplete = day("2025-03-01")
    del incomplete["refunds"]

    response = api.post(URL, {"days": [day("2025-02-28"), incomplete]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["text"] == "days[1].refunds: This field is required."


def test_an_empty_list_of_days_is_refused(api):
    response = api.post(URL, {"days": []}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"days": ["This list may not be empty."]}


def test_the_list_returns_the_merchants_days_in_range_with_amounts_as_strings(api, merchant, other_merchant):
    for n in range(5):
        SalesDayFactory(merchant=merchant, date=datetime.date(2025, 3, 1) + datetime.timedelta(days=n))
    SalesDayFactory(merchant=other_merchant, date=datetime.date(2025, 3, 2), gross_sales=Decimal("777.77"))

    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 3, 3), gross_sales=Decimal("99.00"), source="declared")

    response = api.get(URL, {"from": "2025-03-02", "to": "2025-03-03"})

    assert response.status_code == 200
    platform = {"source": "platform", "source_label": "Platform settlement feed"}
    assert response.json()["results"] == [
        {
            "date": "2025-03-02",
            "gross_sales": "3200.00",
            "refunds": "40.00",
            "transaction_count": 80,
            "distinct_customers": 65,
            **platform,
        },
        {
            "date": "2025-03-03",
            "gross_sales": "3200.00",
            "refunds": "40.00",
            "transaction_count": 80,
            "distinct_customers": 65,
            **platform,
        },
        {
            "date": "2025-03-03",
            "gross_sales": "99.00",
            "refunds": "40.00",
            "transaction_count": 80,
            "distinct_customers": 65,
            "source": "declared",
            "source_label": "Declared by the merchant",
        },
    ]
    only_declared = api.get(URL, {"source": "declared"}).json()["results"]
    assert [(d["date"], d["source"]) for d in only_declared] == [("2025-03-03", "declared")]


def test_the_list_comes_in_cursor_pages_oldest_first(api, merchant):
    for n in range(7):
        SalesDayFactory(merchant=merchant, date=datetime.date(2025, 3, 1) + datetime.timedelta(days=n))

    first = api.get(URL, {"page_size": 5}).json()
    second = api.get(first["next"]).json()

    assert [day["date"] for day in first["results"]] == [f"2025-03-0{n}" for n in range(1, 6)]
    assert [day["date"] for day in second["results"]] == ["2025-03-06", "2025-03-07"]
    assert second["next"] is None


def test_a_malformed_range_is_a_400(api):
    response = api.get(URL, {"from": "2025-03-05", "to": "2025-03-01"})

    assert response.status_code == 400
    assert "“to” must be on or after “from”." in str(response.json())


def test_an_anonymous_request_is_refused(db):
    response = APIClient().post(URL, {"days": [day("2025-03-01")]}, format="json")

    assert response.status_code in (401, 403)
    assert not SalesDay.all_rows.exists()


@pytest.mark.parametrize("persona", ["loan_officer", "partner_user"])
def test_users_without_a_merchant_can_neither_import_nor_list(request, merchant, persona):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(persona))

    posted = client.post(URL, {"days": [day("2025-03-01")]}, format="json")
    listed = client.get(URL)

    assert posted.status_code == 403
    assert listed.status_code == 403
    assert not SalesDay.all_rows.exists()


def test_an_owner_always_imports_into_its_own_merchant(merchant, other_merchant):
    client = APIClient()
    client.force_authenticate(other_merchant.owner)

    client.post(URL, {"days": [day("2025-03-01")]}, format="json")

    assert SalesDay.all_rows.filter(merchant=other_merchant).count() == 1
    assert not SalesDay.all_rows.filter(merchant=merchant).exists()


def test_the_schema_documents_both_request_formats(api):
    response = api.get("/api/v1/schema/", {"format": "json"})

    operation = response.json()["paths"]["/api/v1/sales/"]["post"]
    assert operation["summary"] == "Declare sales taken elsewhere (CSV file or JSON)"
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
