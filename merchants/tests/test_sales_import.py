"""Importing sales from CSV: every problem named by line and column, all or nothing, idempotent, versioned.

The reading rules are the same for the platform's feed and a merchant's declaration; most tests import as the
system (an operator's ``import_sales``), the platform rows of the credit file.
"""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.models import AuditEvent
from merchants.choices import SalesSource
from merchants.models import SalesDay
from merchants.services.sales import sales_import_csv, sales_import_rows
from merchants.services.sales_csv import MAX_DAYS_PER_IMPORT, SalesDataInvalid
from merchants.tests.factories import SalesDayFactory

HEADER = "date,gross_sales,refunds,transaction_count,distinct_customers"
GOOD = [
    "2025-03-01,12840.50,120.00,236,198",
    "2025-03-02,15203,0,281,240",
    "2025-03-03,9800.5,10.25,190,170",
]


def csv_upload(*lines: str, encoding: str = "utf-8", name: str = "sales.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join(lines).encode(encoding), content_type="text/csv")


def import_lines(merchant, *lines: str, by=None, source=SalesSource.PLATFORM, **kwargs):
    return sales_import_csv(merchant=merchant, csv_file=csv_upload(*lines, **kwargs), by=by, source=source)


def problems(merchant, *lines: str) -> list[str]:
    with pytest.raises(SalesDataInvalid) as caught:
        import_lines(merchant, *lines)
    return caught.value.messages()


def sales_audit(merchant):
    return AuditEvent.objects.filter(action="sales.import", object_id=str(merchant.pk)).order_by("id")


def test_a_valid_file_imports_every_day_with_exact_amounts(merchant):
    result = import_lines(merchant, HEADER, *GOOD)

    assert (result.created, result.replaced, result.unchanged) == (3, 0, 0)
    assert (result.first_date, result.last_date) == (datetime.date(2025, 3, 1), datetime.date(2025, 3, 3))
    days = list(SalesDay.objects.filter(merchant=merchant).order_by("date"))
    assert [d.gross_sales for d in days] == [Decimal("12840.50"), Decimal("15203.00"), Decimal("9800.50")]
    assert [d.refunds for d in days] == [Decimal("120.00"), Decimal("0.00"), Decimal("10.25")]
    assert [(d.transaction_count, d.distinct_customers) for d in days] == [(236, 198), (281, 240), (190, 170)]


def test_a_mistyped_amount_is_reported_with_its_line_column_and_the_allowed_format(merchant):
    assert problems(merchant, HEADER, GOOD[0], '2025-03-02,"12,3x",0,10,9') == [
        "line 3, column gross_sales: '12,3x' is not an amount; use digits with up to two decimals."
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2025/03/02,100,0,10,9", "line 3, column date: '2025/03/02' is not a date; write it as YYYY-MM-DD"),
        ("2025-02-30,100,0,10,9", "line 3, column date: '2025-02-30' is not a date"),
        ("2025-03-02,-100,0,10,9", "line 3, column gross_sales: '-100' is negative; amounts must be 0 or more."),
        ("2025-03-02,100.505,0,10,9", "line 3, column gross_sales: '100.505' has more than two decimals"),
        ("2025-03-02,100,,10,9", "line 3, column refunds: is empty; write 0 if there were none."),
        ("2025-03-02,100,0,10.5,9", "line 3, column transaction_count: '10.5' is not a whole number"),
        ("2025-03-02,100,0,10,-1", "line 3, column distinct_customers: '-1' is negative"),
        ("2025-03-02,100,0,10,9,oops", "line 3: this line has 6 values but the header has 5 column(s)"),
        ("2025-03-02,100,0,10", "line 3: this line has 4 values but the header has 5 column(s)"),
        ("2025-03-02,300000000,0,10,9", "line 3, column gross_sales: '300000000' is more than 100,000,000.00 yuan"),
        (
            "2025-03-02,300.00,500.00,10,9",
            "line 3, column refunds: refunds (500.00) are more than the day's gross sales (300.00)",
        ),
        (
            "2025-03-02,300.00,0,10,12",
            "line 3, column distinct_customers: distinct customers (12) are more than transactions (10)",
        ),
        ("2025-03-01,100,0,10,9", "line 3, column date: 2025-03-01 is already given on line 2"),
    ],
)
def test_each_bad_value_is_reported_by_line_and_column(merchant, line, expected):
    messages = problems(merchant, HEADER, GOOD[0], line)

    assert len(messages) == 1
    assert messages[0].startswith(expected)


def test_a_date_in_the_future_is_refused_naming_today(merchant):
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)

    assert problems(merchant, HEADER, f"{tomorrow},100,0,10,9") == [
        f"line 2, column date: {tomorrow} is in the future; sales can be imported up to today ({today})."
    ]


def test_a_missing_column_is_named_in_the_header_error(merchant):
    messages = problems(merchant, "date,gross_sales,transaction_count,distinct_customers", "2025-03-01,100,10,9")

    assert messages == [
        "line 1: missing column(s) refunds; the header must name "
        "date,gross_sales,refunds,transaction_count,distinct_customers."
    ]


def test_an_unknown_column_is_named(merchant):
    messages = problems(merchant, HEADER + ",note", "2025-03-01,100,0,10,9,hi")

    assert messages == [
        "line 1: unknown column(s) 'note'; the columns are "
        "date,gross_sales,refunds,transaction_count,distinct_customers."
    ]


def test_a_file_without_a_header_is_refused(merchant):
    assert problems(merchant, *GOOD)[0].startswith("line 1: the first line must be the header")


def test_an_empty_file_is_refused(merchant):
    assert problems(merchant, "") == [
        "The file is empty. Its first line must be the header: "
        "date,gross_sales,refunds,transaction_count,distinct_customers."
    ]


def test_a_header_without_days_is_refused(merchant):
    assert problems(merchant, HEADER, "", "") == [
        "The file has a header but no days. Add one line per day below the header."
    ]


def test_a_file_over_the_size_limit_is_refused_before_reading_it(merchant, settings):
    settings.SALES_CSV_MAX_BYTES = 100

    messages = problems(merchant, HEADER, *GOOD)

    assert messages == ["The file is larger than 100\xa0bytes, the most one import takes. Split it into smaller files."]


def test_more_than_five_years_of_days_is_refused(merchant):
    first = datetime.date(2015, 1, 1)
    lines = [f"{first + datetime.timedelta(days=n)},100,0,10,9" for n in range(MAX_DAYS_PER_IMPORT + 1)]

    assert problems(merchant, HEADER, *lines) == [
        "There are 1831 days; one import takes at most 1830 (five years). Split the history into several imports."
    ]


def test_a_bad_file_imports_nothing_even_when_most_lines_are_good(merchant):
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 3, 1), gross_sales=Decimal("1.00"))

    problems(merchant, HEADER, *GOOD, "2025-03-04,abc,0,10,9")

    assert SalesDay.objects.filter(merchant=merchant).count() == 1
    assert SalesDay.objects.get(merchant=merchant).gross_sales == Decimal("1.00")
    assert not sales_audit(merchant).exists()


def test_only_the_first_fifty_problems_are_listed_with_the_count_of_the_rest(merchant):
    lines = [f"2025-01-{day:02d},x,0,1,1" for day in range(1, 31)] + [f"2025-02-{d:02d},y,0,1,1" for d in range(1, 29)]

    with pytest.raises(SalesDataInvalid) as caught:
        import_lines(merchant, HEADER, *lines)

    assert caught.value.total == 58
    messages = caught.value.messages()
    assert len(messages) == 51
    assert messages[0].startswith("line 2, column gross_sales: 'x' is not an amount")
    assert messages[-1] == "… and 8 more problems."


def test_a_utf8_file_with_a_byte_order_mark_is_read(merchant):
    result = import_lines(merchant, "\ufeff" + HEADER, GOOD[0])

    assert result.created == 1


def test_a_gbk_file_from_excel_with_a_chinese_header_is_read(merchant):
    result = import_lines(merchant, "日期,销售额,退款,交易笔数,顾客数", "2025-03-01,888.80,0,20,18", encoding="gbk")

    assert result.created == 1
    assert SalesDay.objects.get(merchant=merchant).gross_sales == Decimal("888.80")


def test_importing_the_same_file_twice_adds_nothing_the_second_time(merchant):
    import_lines(merchant, HEADER, *GOOD)

    again = import_lines(merchant, HEADER, *GOOD)

    assert (again.created, again.replaced, again.unchanged) == (0, 0, 3)
    assert SalesDay.objects.filter(merchant=merchant).count() == 3
    assert sales_audit(merchant).count() == 1  # the second import changed nothing, so it has nothing to record


def test_changed_values_are_new_versions_the_old_ones_kept_and_one_audit_row_lists_them(merchant):
    import_lines(merchant, HEADER, *GOOD)

    result = import_lines(
        merchant,
        HEADER,
        "2025-03-01,12840.50,120.00,236,198",  # unchanged
        "2025-03-02,15300.00,0,281,240",  # gross sales corrected
        "2025-03-04,500,0,5,5",  # new
    )

    assert (result.created, result.replaced, result.unchanged) == (1, 1, 1)
    assert SalesDay.objects.filter(merchant=merchant).count() == 4
    assert SalesDay.objects.get(merchant=merchant, date="2025-03-02").gross_sales == Decimal("15300.00")
    versions = SalesDay.all_rows.filter(merchant=merchant, date="2025-03-02").order_by("version")
    assert [(v.version, v.gross_sales, v.superseded_at is not None) for v in versions] == [
        (1, Decimal("15203.00"), True),
        (2, Decimal("15300.00"), False),
    ]
    audit = sales_audit(merchant)
    assert audit.count() == 2
    latest = audit.last()
    assert latest.actor is None
    assert latest.data["source"] == "platform"
    assert latest.data["created"] == 1
    assert latest.data["replaced"] == 1
    assert latest.data["unchanged"] == 1
    assert latest.data["replaced_days"] == [
        {"date": "2025-03-02", "version": 2, "gross_sales": ["15203.00", "15300.00"]}
    ]


def test_an_unchanged_day_keeps_its_imported_at(merchant):
    import_lines(merchant, HEADER, GOOD[0])
    before = SalesDay.objects.get(merchant=merchant).imported_at

    import_lines(merchant, HEADER, GOOD[0])

    assert SalesDay.objects.get(merchant=merchant).imported_at == before


@pytest.mark.parametrize("source", SalesSource.values)
def test_another_merchants_owner_cannot_import_into_this_merchant(merchant, other_merchant, source):
    with pytest.raises(PermissionDenied):
        import_lines(merchant, HEADER, *GOOD, by=other_merchant.owner, source=source)

    assert not SalesDay.all_rows.exists()


@pytest.mark.parametrize("source", SalesSource.values)
def test_a_loan_officer_cannot_import_a_merchants_sales(merchant, loan_officer, source):
    with pytest.raises(PermissionDenied):
        import_lines(merchant, HEADER, *GOOD, by=loan_officer, source=source)


@pytest.mark.parametrize("source", SalesSource.values)
def test_a_superuser_cannot_write_sales_through_the_services_either(merchant, source):
    # Operators write platform rows with ``import_sales`` (the system); a person's login writes nothing.
    admin = UserFactory(email="root@loanportal.example", is_staff=True, is_superuser=True, roles=[])

    with pytest.raises(PermissionDenied):
        import_lines(merchant, HEADER, *GOOD, by=admin, source=source)


def test_a_merchant_still_in_kyc_draft_may_declare_its_sales(merchant):
    assert merchant.kyc_state == "draft"

    assert import_lines(merchant, HEADER, GOOD[0], by=merchant.owner, source=SalesSource.DECLARED).created == 1


def test_rows_from_json_are_checked_with_the_same_rules_and_located_by_position(merchant):
    rows = [
        {
            "date": "2025-03-01",
            "gross_sales": "100.00",
            "refunds": "0",
            "transaction_count": 3,
            "distinct_customers": 2,
        },
        {"date": "2025-03-02", "gross_sales": "1.234", "refunds": "0", "transaction_count": 3, "distinct_customers": 2},
    ]

    with pytest.raises(SalesDataInvalid) as caught:
        sales_import_rows(merchant=merchant, rows=rows, by=None, source=SalesSource.PLATFORM)

    assert caught.value.messages() == [
        "days[1].gross_sales: '1.234' has more than two decimals; amounts are in yuan and fen."
    ]
    assert not SalesDay.all_rows.exists()


def test_import_sales_command_prints_the_counts(merchant, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([HEADER, *GOOD]), encoding="utf-8")
    out = io.StringIO()

    call_command("import_sales", "--merchant", merchant.credit_code, str(path), stdout=out)

    assert (
        "imported 3 days from 2025-03-01 to 2025-03-03 as platform sales: 3 new, 0 corrected (old versions kept), "
        "0 unchanged." in out.getvalue()
    )
    system_audit = sales_audit(merchant).get()
    assert system_audit.actor is None
    assert system_audit.data["batch_id"] == "command:sales.csv"
    assert set(SalesDay.all_rows.values_list("source", "batch_id")) == {("platform", "command:sales.csv")}


def test_import_sales_command_finds_the_merchant_by_id(merchant, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([HEADER, GOOD[0]]), encoding="utf-8")

    call_command("import_sales", "--merchant", str(merchant.pk), str(path), stdout=io.StringIO())

    assert SalesDay.objects.filter(merchant=merchant).count() == 1


def test_import_sales_command_fails_with_the_errors_on_a_bad_file(merchant, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([HEADER, "2025-03-01,12,3x,0,1,1"]), encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_sales", "--merchant", merchant.credit_code, str(path), stderr=err)

    assert "line 2: this line has 6 values but the header has 5 column(s)" in err.getvalue()
    assert not SalesDay.all_rows.exists()


def test_import_sales_command_names_an_unknown_merchant(db, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(HEADER, encoding="utf-8")

    with pytest.raises(CommandError, match="No merchant with the credit code or id '91440300000000000X'"):
        call_command("import_sales", "--merchant", "91440300000000000X", str(path))


# --- The web form ------------------------------------------------------------------------------------------

IMPORT_URL = "/merchant/sales/import/"


def test_the_owner_declares_a_file_and_sees_the_counts_on_the_dashboard(client, merchant):
    client.force_login(merchant.owner)

    response = client.post(IMPORT_URL, {"file": csv_upload(HEADER, *GOOD)}, follow=True)

    assert response.redirect_chain == [("/merchant/", 302)]
    html = response.content.decode()
    assert "Declared 3 days from 2025-03-01 to 2025-03-03: 3 new, 0 corrected, 0 unchanged." in html
    assert not SalesDay.objects.filter(merchant=merchant).exists()  # nothing entered the credit file
    assert SalesDay.all_rows.filter(merchant=merchant, source="declared").count() == 3


def test_the_form_lists_each_problem_by_line_and_saves_nothing(client, merchant):
    client.force_login(merchant.owner)

    response = client.post(IMPORT_URL, {"file": csv_upload(HEADER, GOOD[0], '2025-03-02,"12,3x",0,10,9')})

    html = response.content.decode()
    assert response.status_code == 200
    assert "The file has 1 problem. Nothing was imported." in html
    assert (
        "<li>line 3, column gross_sales: &#x27;12,3x&#x27; is not an amount; use digits with up to two decimals.</li>"
        in html
    )
    assert not SalesDay.all_rows.exists()


def test_the_form_explains_the_columns(client, merchant):
    client.force_login(merchant.owner)

    html = client.get(IMPORT_URL).content.decode()

    assert HEADER in html
    assert "Up to 1830 days (five years)" in html


def test_submitting_without_a_file_asks_for_one(client, merchant):
    client.force_login(merchant.owner)

    response = client.post(IMPORT_URL, {})

    assert "This field is required." in response.content.decode()


@pytest.mark.parametrize("persona", ["loan_officer", "partner_user"])
def test_users_without_a_merchant_cannot_open_the_import(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(IMPORT_URL).status_code == 403
    assert client.post(IMPORT_URL, {"file": csv_upload(HEADER, *GOOD)}).status_code == 403
    assert not SalesDay.all_rows.exists()


def test_the_import_page_needs_a_signed_in_user(client, db):
    response = client.get(IMPORT_URL)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
