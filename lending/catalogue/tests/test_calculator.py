"""The public loan calculator: the quote rendered on the server for a GET, and each bad value shown on its field."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.formatting import amount
from lending.catalogue.models import LoanProduct
from lending.catalogue.money import FeeTerms, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.money.dates import add_months
from lending.catalogue.services.demo import products_seed

pytestmark = pytest.mark.django_db

CALCULATOR = "/loans/calculator/"


@pytest.fixture(autouse=True)
def _products():
    products_seed()


def standard_quote(start=None):
    """The demo operating loan at grade C (12 % a year, 1 % fee deducted), 50,000 over 12 months from today: its
    figures depend on the days in the coming months, so the tests read them from the engine for today."""
    return quote(
        QuoteTerms(
            amount=Decimal("50000.00"),
            term=12,
            start_date=start or timezone.localdate(),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=Decimal("0.12"),
            fees=FeeTerms(origination_rate=Decimal("0.01")),
        )
    )


def page_of(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def schedule_rows(page: str) -> list[list[str]]:
    body = page.split('<tbody id="schedule-body">')[1].split("</tbody>")[0]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def field_errors(response, name: str) -> list[str]:
    return response.context["form"].errors.get(name, [])


def test_a_get_with_parameters_renders_the_quote_on_the_server(client):
    response = client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12"})

    page = page_of(response)
    expected = standard_quote()
    assert f'<span data-quote="apr">{expected.apr:.2f}</span> %' in page
    assert '<dd data-quote="net_disbursement">49,500.00</dd>' in page
    assert f'<dd data-quote="total_interest">{amount(expected.total_interest)}</dd>' in page
    assert '<dd data-quote="total_fees">500.00</dd>' in page
    assert f'<dd data-quote="total_repayable">{amount(expected.total_repayable)}</dd>' in page
    rows = schedule_rows(page)
    assert len(rows) == 12
    assert rows[0][0] == "1"
    assert rows[0][1] == add_months(timezone.localdate(), 1).isoformat()
    first = expected.lines[0]
    assert rows[0][2:] == [
        amount(first.principal),
        amount(first.interest),
        "0.00",
        amount(first.payment),
        amount(first.balance),
    ]
    assert rows[-1][-1] == "0.00"
    assert sum(Decimal(row[2].replace(",", "")) for row in rows) == Decimal("50000.00")


def test_every_grades_price_is_shown_with_its_apr(client):
    page = page_of(client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12"}))

    grade_a = quote(
        QuoteTerms(
            amount=Decimal("50000.00"),
            term=12,
            start_date=timezone.localdate(),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=Decimal("0.072"),
            fees=FeeTerms(origination_rate=Decimal("0.01")),
        )
    )
    grades = page.split('<tbody id="grades-body">')[1].split("</tbody>")[0]
    assert f'<td>7.20 % a year</td>\n          <td class="num">{grade_a.apr:.2f} %</td>' in grades
    assert '<tr class="indicative">\n          <td>C (standard)</td>' in grades
    assert "<td>17.00 % a year</td>" in grades


def test_the_page_says_the_price_is_indicative_at_the_standard_grade(client):
    page = page_of(client.get(CALCULATOR))

    assert "Prices here are indicative: they are the standard price (risk grade C)." in page


def test_a_first_visit_shows_a_typical_loan_on_the_first_product(client):
    response = client.get(CALCULATOR)

    page = page_of(response)
    assert response.context["product"].code == "short-term-working-capital"
    # 50,000 yuan for 49 days at 0.04 % a day: 980.00 interest.
    assert '<dd data-quote="total_interest">980.00</dd>' in page
    assert len(schedule_rows(page)) == 1


def test_the_page_needs_no_sign_in_and_loads_the_script_with_the_quote_address(client):
    page = page_of(client.get(CALCULATOR))

    assert 'data-quote-url="/api/v1/quotes/"' in page
    assert '<script src="/static/js/calculator.js" defer></script>' in page
    assert 'id="calculator-products" type="application/json"' in page


def test_the_term_control_is_a_list_for_set_terms_and_a_number_box_for_a_range(client):
    instalment = page_of(client.get(CALCULATOR, {"product": "instalment-loan", "amount": "5000", "term": "6"}))
    operating = page_of(client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "6"}))
    short_term = page_of(
        client.get(CALCULATOR, {"product": "short-term-working-capital", "amount": "5000", "term": "30"})
    )

    assert re.search(r'<select name="term"[^>]*>\s*<option value="3">3 months</option>', instalment)
    assert '<option value="6" selected>6 months</option>' in instalment
    assert '<option value="12">12 months</option>' in instalment
    assert re.search(r'<input type="number" name="term" value="6" min="3" max="24" step="1"', operating)
    assert re.search(r'<input type="number" name="term" value="30" min="7" max="90" step="1"', short_term)
    assert "Term (<span data-term-unit>days</span>)" in short_term
    assert "Allowed: from 7 to 90 days." in short_term


def test_the_method_select_offers_only_the_products_methods(client):
    page = page_of(client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12"}))

    methods = page.split('name="repayment_method"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([a-z_]+)"', methods) == ["equal_instalment", "equal_principal"]


def test_a_sales_share_advance_asks_for_sales_instead_of_a_term(client):
    page = page_of(
        client.get(CALCULATOR, {"product": "sales-share-advance", "amount": "20000", "average_daily_sales": "3000"})
    )

    assert '<div class="field" data-field="term" hidden>' in page
    assert '<div class="field" data-field="average_daily_sales" >' in page
    # The fee accrues by the day on what is outstanding (0.0333 % a day at grade C): 228.72 over 68 days, not the
    # 1,600.00 maximum.
    assert '<dd data-quote="total_fees">228.72</dd>' in page
    assert '<span data-quote="days_to_payoff">68</span>' in page


def test_a_term_left_over_from_another_product_is_ignored_for_a_sales_share_advance(client):
    response = client.get(
        CALCULATOR, {"product": "sales-share-advance", "amount": "20000", "term": "12", "average_daily_sales": "3000"}
    )

    assert response.context["quote"] is not None


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"product": "payday", "amount": "50000", "term": "12"},
            "product",
            "Choose one of the products on offer: short-term-working-capital, operating-loan, instalment-loan, "
            "sales-share-advance.",
        ),
        (
            {"product": "operating-loan", "amount": "fifty thousand", "term": "12"},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "", "term": "12"},
            "amount",
            "This field is required.",
        ),
        (
            {"product": "operating-loan", "amount": "700000", "term": "12"},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "50000.555", "term": "12"},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "instalment-loan", "amount": "5000", "term": "9"},
            "term",
            "Allowed terms are 3, 6 and 12 months.",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": ""},
            "term",
            "Allowed terms are from 3 to 24 months.",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": "12", "repayment_method": "sales_share"},
            "repayment_method",
            "Allowed repayment methods for this product: equal_instalment (Equal instalments), "
            "equal_principal (Equal principal).",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": "12", "start_date": "next week"},
            "start_date",
            "Enter a date as YYYY-MM-DD.",
        ),
        (
            {"product": "sales-share-advance", "amount": "20000"},
            "average_daily_sales",
            "A sales-share advance is repaid from your sales: enter your average daily sales in yuan, such as 3000.00.",
        ),
    ],
)
def test_a_bad_value_is_shown_on_its_field_naming_what_is_allowed(client, params, field, message):
    response = client.get(CALCULATOR, params)

    page = page_of(response)
    assert field_errors(response, field) == [message]
    errors = page.split(f'data-errors-for="{field}">')[1].split("</ul>")[0]
    assert message in errors
    assert response.context["quote"] is None
    assert '<p data-when="no-quote" >Correct the marked fields to see a quote.</p>' in page


def test_a_start_date_in_the_past_is_shown_on_its_field(client):
    yesterday = timezone.localdate() - timedelta(days=1)

    response = client.get(
        CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12", "start_date": yesterday.isoformat()}
    )

    [message] = field_errors(response, "start_date")
    assert message.startswith(f"The start date must be a date from today ({timezone.localdate().isoformat()})")


def test_the_page_speaks_chinese_when_chosen(client):
    client.cookies["django_language"] = "zh-hans"

    page = page_of(client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12"}))

    assert '<html lang="zh-CN">' in page
    assert '<option value="operating-loan" selected>经营贷</option>' in page
    # Chinese pages group thousands too (the portal's own zh-Hans format).
    assert f'<dd data-quote="total_repayable">{standard_quote().total_repayable:,.2f}</dd>' in page


def test_with_no_product_on_offer_the_page_says_so(client):
    LoanProduct.objects.update(is_active=False)

    page = page_of(client.get(CALCULATOR))

    assert "No loan products are on offer at the moment." in page
    assert "calculator.js" not in page


# In a real browser: the controls follow the product and the quote follows the controls.


@pytest.fixture
def browser_page():
    import os
    import shutil

    from playwright.sync_api import sync_playwright

    # pytest-django's live server runs in a thread; Playwright's sync API runs an event loop in this one.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(locale="en-US")
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_quote_follows_the_controls_in_the_browser(browser_page, live_server):
    from playwright.sync_api import expect

    products_seed()
    page = browser_page
    requests = []
    page.on("request", lambda request: requests.append(request) if "/api/v1/quotes/" in request.url else None)
    page.goto(f"{live_server.url}{CALCULATOR}?product=operating-loan&amount=50000&term=12")
    expect(page.locator('[data-quote="apr"]').first).to_have_text(f"{standard_quote().apr:.2f}")

    # Typing a new amount asks once, after the typing stops.
    page.fill("input[name=amount]", "100000")
    engine = quote(
        QuoteTerms(
            amount=Decimal("100000.00"),
            term=12,
            start_date=timezone.localdate(),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=Decimal("0.12"),
            fees=FeeTerms(origination_rate=Decimal("0.01")),
        )
    )
    expect(page.locator('[data-quote="total_repayable"]')).to_have_text(f"{engine.total_repayable:,.2f}")
    expect(page.locator('[data-quote="net_disbursement"]')).to_have_text("99,000.00")
    assert len(requests) == 1
    assert "amount=100000" in page.url

    # Another product: its terms (a list of months) and its methods.
    page.select_option("select[name=product]", "instalment-loan")
    expect(page.locator("select[name=term] option")).to_have_text(["3 months", "6 months", "12 months"])
    expect(page.locator("select[name=repayment_method] option")).to_have_text(["Equal principal", "Equal instalments"])
    expect(page.locator("input[name=amount]")).to_have_value("50000.00")
    page.select_option("select[name=term]", "6")
    expect(page.locator("#schedule-body tr")).to_have_count(6)
    expect(page.locator('[data-quote="total_fees"]')).to_have_text("1,800.00")
    expect(page.locator("#grades-body tr.indicative td").nth(1)).to_have_text("0.60 % of the amount a month")

    # A bad amount: the API's message under the field, and no stale quote on show.
    page.fill("input[name=amount]", "abc")
    expect(page.locator('[data-errors-for="amount"] li')).to_have_text(
        "Enter an amount between 1,000.00 and 50,000.00 yuan, with at most two decimal places."
    )
    expect(page.locator('[data-when="no-quote"]')).to_be_visible()
    expect(page.locator("#schedule-body")).to_be_hidden()

    # A sales-share advance: no term, the merchant's sales instead.
    page.select_option("select[name=product]", "sales-share-advance")
    expect(page.locator('[data-field="term"]')).to_be_hidden()
    expect(page.locator("input[name=average_daily_sales]")).to_be_visible()
    expect(page.locator('[data-errors-for="amount"] li')).to_have_count(0)
    expect(page.locator('[data-quote="days_to_payoff"]')).not_to_have_text("")
    expect(page.locator('[data-when="sales-share"]').first).to_be_visible()


def test_the_calculator_states_the_day_count_and_the_apr_method(client):
    page = page_of(client.get(CALCULATOR, {"product": "operating-loan", "amount": "50000", "term": "12"}))

    assert (
        '<p class="muted" data-quote="day_count_statement">Interest accrues by actual days (actual/365) on the '
        "principal outstanding, at the annual rate divided by 365 a day, only for the days it is outstanding.</p>"
    ) in page
    assert '<p class="muted" data-quote="apr_method_statement">APR by the actuarial (IRR) method' in page
