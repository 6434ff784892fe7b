"""The merchant dashboard: KYC status with the next step, and sales by month."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateformat import format as date_format

from accounts.roles import Role
from accounts.tests.factories import make_user
from merchants.models import Merchant
from merchants.selectors.sales import month_start, sales_monthly_totals
from merchants.tests.factories import MerchantFactory, SalesDayFactory
from merchants.web.dashboard import _nice_step

URL = "/merchant/"


def month_label(day: datetime.date) -> str:
    return date_format(day, "F Y")  # YEAR_MONTH_FORMAT in English


def table_rows(html: str) -> dict[str, list[str]]:
    """The monthly table as {month label: [gross, refunds, net, transactions, days]}."""
    table = html[html.index('<table class="monthly-sales">') :]
    rows = {}
    for header, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, flags=re.S):
        label = re.sub(r"<.*?>", "", header).replace("(so far)", "").strip()
        rows[label] = re.findall(r'<td class="num">(.*?)</td>', cells)
    return rows


@pytest.fixture
def history(merchant):
    """Three days in last month, one five months ago, one outside the 24-month window."""
    today = timezone.localdate()
    last_month = month_start(today, months_back=1)
    five_back = month_start(today, months_back=5)

    def day(date, gross, refunds, transactions):
        SalesDayFactory(
            merchant=merchant,
            date=date,
            gross_sales=Decimal(gross),
            refunds=Decimal(refunds),
            transaction_count=transactions,
            distinct_customers=transactions,
        )

    day(last_month, "1000.50", "10.00", 20)
    day(last_month + datetime.timedelta(days=1), "2345.25", "0.00", 30)
    day(five_back + datetime.timedelta(days=3), "12000.00", "100.00", 150)
    day(month_start(today, months_back=30), "99999.00", "0.00", 1)
    return {"last_month": last_month, "five_back": five_back}


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_an_officer_without_a_merchant_is_sent_to_the_back_office(client, loan_officer):
    client.force_login(loan_officer)

    response = client.get(URL)

    assert response.status_code == 302
    assert response.url == "/admin/"
    assert not Merchant.objects.filter(owner=loan_officer).exists()


def test_a_partner_without_a_merchant_is_refused(client, partner_user):
    client.force_login(partner_user)

    assert client.get(URL).status_code == 403
    assert not Merchant.objects.filter(owner=partner_user).exists()


def test_a_new_owner_gets_a_draft_merchant_on_the_first_visit(client, db):
    owner = make_user(Role.MERCHANT_OWNER, email="fresh@shop-n.example")
    client.force_login(owner)

    response = client.get(URL)

    assert response.status_code == 200
    assert Merchant.objects.get(owner=owner).kyc_state == "draft"
    assert '<span class="status status-draft">Draft</span>' in response.content.decode()


def test_a_draft_merchant_is_told_to_complete_the_profile_and_upload_documents(client, merchant):
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    assert '<span class="status status-draft">Draft</span>' in html
    assert "complete your business profile and upload your documents" in html
    assert 'href="/merchant/profile/"' in html
    assert 'href="/merchant/documents/"' in html
    assert "Documents still to upload: Business licence, ID card, front, ID card, back" in html


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("submitted", "", "We are reviewing your documents, usually within one working day."),
        ("rejected", "The licence photo is blurred.", "The licence photo is blurred."),
        ("verified", "", "Your business is verified."),
        ("suspended", "", "Your account is suspended. Please contact our customer service"),
    ],
)
def test_each_kyc_state_shows_its_badge_and_next_step(client, db, state, reason, expected):
    owner = make_user(Role.MERCHANT_OWNER, email=f"{state}@shop.example")
    MerchantFactory(owner=owner, kyc_state=state, kyc_rejection_reason=reason)
    client.force_login(owner)

    html = client.get(URL).content.decode()

    assert f'<span class="status status-{state}">' in html
    assert expected in html


def test_a_rejected_merchant_gets_a_link_to_fix_the_profile(client, db):
    owner = make_user(Role.MERCHANT_OWNER, email="rejected@shop.example")
    MerchantFactory(owner=owner, kyc_state="rejected", kyc_rejection_reason="Blurred.")
    client.force_login(owner)

    html = client.get(URL).content.decode()

    assert re.search(r'href="/merchant/profile/">Fix the profile and submit again</a>', html)


def test_the_loans_card_says_where_the_limit_will_appear(client, merchant):
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    assert "Your pre-approved limit appears here once your business is verified." in html
    assert 'href="/merchant/sales/import/"' in html


def test_the_monthly_table_shows_the_totals_of_a_known_history(client, merchant, history):
    client.force_login(merchant.owner)

    rows = table_rows(client.get(URL).content.decode())

    assert len(rows) == 24
    assert rows[month_label(history["last_month"])] == ["3,345.75", "10.00", "3,335.75", "50", "2"]
    assert rows[month_label(history["five_back"])] == ["12,000.00", "100.00", "11,900.00", "150", "1"]
    assert rows[month_label(month_start(timezone.localdate(), months_back=2))] == ["0.00", "0.00", "0.00", "0", "0"]


def test_the_summary_gives_the_last_twelve_months_and_the_average_month(client, merchant, history):
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    assert re.search(r'id="sales-12-months">¥15,345.75<', html)
    # 15,345.75 over the two months that have sales, rounded half-up to the fen.
    assert re.search(r'id="average-month">¥7,672.88\s*<span class="muted">over 2 months with sales', html)
    assert re.search(r'id="refunds-12-months">¥110.00<', html)


def test_the_chart_has_a_bar_with_an_accessible_title_per_month(client, merchant, history):
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<rect") == 24
    assert f"<title>{month_label(history['last_month'])}: ¥3,345.75</title>" in svg
    assert '<title id="chart-title">Gross sales by month, last 24 months</title>' in svg
    assert "¥15,000" in svg  # the top of the amount axis: five ticks of 3,750 above 12,000.00


def test_without_sales_the_page_explains_the_feed_instead_of_an_empty_chart(client, merchant):
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    assert "<svg" not in html
    assert "No platform sales on file for the last 24 months yet." in html
    assert "Add sales taken elsewhere (declared)" in html


def test_monthly_totals_come_from_a_single_query(merchant, history, django_assert_num_queries):
    with django_assert_num_queries(1):
        months = sales_monthly_totals(merchant=merchant, today=timezone.localdate())

    assert len(months) == 24
    assert months[-2].gross_sales == Decimal("3345.75")
    assert sum(month.days for month in months) == 3  # the day 30 months back is outside the window


@pytest.mark.parametrize(
    ("raw", "step"),
    [("0", "1"), ("3000", "5000"), ("3001.50", "5000"), ("2400", "2500"), ("12001", "20000"), ("100", "100")],
)
def test_the_axis_step_is_a_round_number_at_least_the_raw_step(raw, step):
    assert _nice_step(Decimal(raw)) == Decimal(step)


def test_declared_sales_are_stacked_on_the_chart_labelled_and_listed_apart(client, merchant, history):
    last_month = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    SalesDayFactory(merchant=merchant, date=last_month, gross_sales=Decimal("777.00"), source="declared")
    client.force_login(merchant.owner)

    html = client.get(URL).content.decode()

    assert f"{month_label(last_month)}, declared: ¥777.00" in html
    assert "Sales taken elsewhere, by month (declared)" in html
    assert '<span class="badge declared">declared</span>' in html
    # The headline figures are the platform's alone.
    assert months_total_without_declared(merchant) == Decimal(
        html.split('id="sales-12-months">¥')[1].split("<")[0].replace(",", "")
    )


def months_total_without_declared(merchant) -> Decimal:
    months = sales_monthly_totals(merchant=merchant, today=timezone.localdate())
    return sum((month.gross_sales for month in months[-13:-1]), Decimal("0.00"))
