"""The public product list and quote endpoints: the numbers the engine gives, and a named field for every bad input."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.models import AuditEvent
from lending.catalogue.models import LoanProduct
from lending.catalogue.money import FeeTerms, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.services.demo import products_seed
from lending.catalogue.services.products import product_save

pytestmark = pytest.mark.django_db

QUOTES = "/api/v1/quotes/"


@pytest.fixture(autouse=True)
def _products():
    cache.clear()  # throttle counters
    products_seed()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def ask(api: APIClient, **body):
    return api.post(QUOTES, body, format="json")


def today():
    return timezone.localdate()


# The golden case.


def test_operating_loan_of_50000_over_12_months_is_priced_as_the_engine_prices_it(api):
    start = today() + timedelta(days=1)

    response = ask(api, product="operating-loan", amount="50000.00", term=12, start_date=start.isoformat())

    assert response.status_code == 200
    body = response.json()
    engine = quote(
        QuoteTerms(
            amount=Decimal("50000.00"),
            term=12,
            start_date=start,
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=Decimal("0.12"),  # grade C
            fees=FeeTerms(origination_rate=Decimal("0.01")),
        )
    )
    assert body["apr"] == f"{engine.apr:.2f}"
    assert (body["product"], body["grade"], body["indicative"]) == ("operating-loan", "C", True)
    assert (body["term"], body["term_unit"], body["repayment_method"]) == (12, "months", "equal_instalment")
    assert body["net_disbursement"] == "49500.00"
    assert body["total_interest"] == f"{engine.total_interest:.2f}"
    assert body["total_fees"] == "500.00"
    assert body["total_repayable"] == f"{engine.total_repayable:.2f}"
    schedule = body["schedule"]
    assert len(schedule) == 12
    assert schedule == [line.as_dict() for line in engine.lines]
    assert sum(Decimal(line["principal"]) for line in schedule) == Decimal("50000.00")
    assert sum(Decimal(line["interest"]) for line in schedule) == Decimal(body["total_interest"])
    assert sum(Decimal(line["payment"]) for line in schedule) == Decimal(body["total_repayable"])
    assert schedule[0]["payment"] == f"{engine.lines[0].payment:.2f}"
    assert schedule[-1]["balance"] == "0.00"


def test_every_grade_is_shown_with_its_apr_on_the_same_loan(api):
    body = ask(api, product="operating-loan", amount="50000.00", term=12).json()

    grades = {row["grade"]: row for row in body["grades"]}
    assert list(grades) == ["A", "B", "C", "D", "E"]
    assert grades["C"]["apr"] == body["apr"]
    assert grades["A"]["price_label"] == "7.20 % a year"
    assert Decimal(grades["A"]["apr"]) < Decimal(grades["C"]["apr"]) < Decimal(grades["E"]["apr"])


def test_the_method_can_be_chosen_among_the_products_methods(api):
    body = ask(api, product="operating-loan", amount="60000", term="6", repayment_method="equal_principal").json()

    assert body["repayment_method"] == "equal_principal"
    assert [line["principal"] for line in body["schedule"]] == ["10000.00"] * 6


def test_short_term_working_capital_is_one_payment_after_the_days_asked(api):
    start = today()

    body = ask(api, product="short-term-working-capital", amount="10000", term=30).json()

    assert body["term_unit"] == "days"
    assert body["schedule"] == [
        {
            "number": 1,
            "due_date": (start + timedelta(days=30)).isoformat(),
            "principal": "10000.00",
            "interest": "120.00",  # 0.04 % a day for 30 days
            "fee": "0.00",
            "payment": "10120.00",
            "balance": "0.00",
        }
    ]
    assert body["apr"] == "14.60"


def test_an_instalment_loan_charges_its_monthly_fee_and_no_interest(api):
    body = ask(api, product="instalment-loan", amount="6000", term=6).json()

    assert body["total_interest"] == "0.00"
    assert body["total_fees"] == "216.00"  # 0.6 % a month on 6,000 for 6 months
    assert [line["fee"] for line in body["schedule"]] == ["36.00"] * 6
    assert body["apr"] == "12.24"


def test_a_sales_share_advance_is_projected_from_the_merchants_sales(api):
    body = ask(api, product="sales-share-advance", amount="20000", average_daily_sales="3000").json()

    assert (body["term"], body["repayment_method"]) == (None, "sales_share")
    # Fee factor 1.08 over 240 days at grade C: 0.000333 a day on what is outstanding, at most 1,600.00.
    assert body["sales_share"]["daily_fee_rate"] == "0.000333"
    assert body["sales_share"]["maximum_fee"] == "1600.00"
    assert body["sales_share"]["highest_apr"] == "12.16"
    assert body["total_fees"] == "228.72"
    assert body["sales_share"]["daily_deduction"] == "300.00"
    assert body["sales_share"]["days_to_payoff"] == 68
    assert sum(Decimal(line["payment"]) for line in body["schedule"]) == Decimal("20228.72")
    assert body["day_count_statement"] == (
        "No interest: a fee accrues each day at 0.0333 % of the advance still outstanding, only for the days it is "
        "outstanding, and never comes to more than 1,600.00 yuan in all; each day's deduction pays the fee accrued "
        "first, then the advance. Repaying sooner costs less: however fast your sales repay it, the annualised cost "
        "is at most 12.16 %."
    )
    assert Decimal(body["apr"]) <= Decimal("12.16")


def test_today_is_an_allowed_start_date(api):
    response = ask(api, product="operating-loan", amount="50000", term=12, start_date=today().isoformat())

    assert response.status_code == 200
    assert response.json()["start_date"] == today().isoformat()


def test_a_client_cannot_choose_its_grade_or_its_apr(api):
    body = ask(api, product="operating-loan", amount="50000", term=12, grade="A", apr="0.01", annual_rate="0.01").json()

    grade_c = ask(api, product="operating-loan", amount="50000", term=12).json()
    assert (body["grade"], body["apr"]) == ("C", grade_c["apr"])


def test_a_quote_creates_nothing(api):
    before = (LoanProduct.objects.count(), AuditEvent.objects.count())

    ask(api, product="operating-loan", amount="50000", term=12)

    assert (LoanProduct.objects.count(), AuditEvent.objects.count()) == before


# Bad input: 400, the field named, and what it may be.


def refused(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body) == {"code", "message", "fields"}
    return body["fields"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"amount": "50000", "term": 12}, "product", "This field is required."),
        (
            {"product": "payday", "amount": "50000", "term": 12},
            "product",
            "Unknown product “payday”. Offered products: short-term-working-capital, operating-loan, "
            "instalment-loan, sales-share-advance.",
        ),
        ({"product": "operating-loan", "term": 12}, "amount", "This field is required."),
        (
            {"product": "operating-loan", "amount": "lots", "term": 12},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "9999.99", "term": 12},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "500000.01", "term": 12},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "50000.001", "term": 12},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        (
            {"product": "operating-loan", "amount": "1E+999999", "term": 12},
            "amount",
            "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places.",
        ),
        ({"product": "operating-loan", "amount": "50000"}, "term", "Allowed terms are from 3 to 24 months."),
        (
            {"product": "operating-loan", "amount": "50000", "term": 36},
            "term",
            "Allowed terms are from 3 to 24 months.",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": "twelve"},
            "term",
            "Allowed terms are from 3 to 24 months.",
        ),
        ({"product": "instalment-loan", "amount": "5000", "term": 5}, "term", "Allowed terms are 3, 6 and 12 months."),
        # Digits of other scripts (a superscript two, a full-width six) are not terms.
        (
            {"product": "instalment-loan", "amount": "5000", "term": "\u00b2"},
            "term",
            "Allowed terms are 3, 6 and 12 months.",
        ),
        (
            {"product": "instalment-loan", "amount": "5000", "term": "\uff16"},
            "term",
            "Allowed terms are 3, 6 and 12 months.",
        ),
        (
            {"product": "short-term-working-capital", "amount": "5000", "term": 120},
            "term",
            "Allowed terms are from 7 to 90 days.",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": 12, "repayment_method": "bullet"},
            "repayment_method",
            "Allowed repayment methods for this product: equal_instalment (Equal instalments), "
            "equal_principal (Equal principal).",
        ),
        (
            {"product": "operating-loan", "amount": "50000", "term": 12, "start_date": "31/01/2027"},
            "start_date",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        (
            {"product": "sales-share-advance", "amount": "20000"},
            "average_daily_sales",
            "A sales-share advance is repaid from your sales: enter your average daily sales in yuan, such as 3000.00.",
        ),
        (
            {"product": "sales-share-advance", "amount": "20000", "average_daily_sales": "-5"},
            "average_daily_sales",
            "Enter your average daily sales in yuan, above 0.00 with at most two decimal places, such as 3000.00.",
        ),
        (
            {"product": "sales-share-advance", "amount": "20000", "average_daily_sales": "3000", "term": 6},
            "term",
            "A sales-share advance has no fixed term: it is repaid from your sales within 18 months. "
            "Leave the term out.",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_what_is_allowed(api, body, field, message):
    fields = refused(ask(api, **body))

    assert fields == {field: [message]}


def test_a_start_date_in_the_past_is_refused_naming_the_allowed_dates(api):
    yesterday = today() - timedelta(days=1)

    fields = refused(ask(api, product="operating-loan", amount="50000", term=12, start_date=yesterday.isoformat()))

    latest = today() + timedelta(days=90)
    assert fields == {
        "start_date": [
            f"The start date must be a date from today ({today().isoformat()}) to {latest.isoformat()}, as YYYY-MM-DD."
        ]
    }


def test_sales_too_low_to_repay_within_18_months_say_which_sales_would_do(api):
    fields = refused(ask(api, product="sales-share-advance", amount="50000", average_daily_sales="100"))

    [message] = fields["average_daily_sales"]
    assert message.startswith(
        "At average daily sales of 100.00 yuan this advance would not be repaid within 18 months."
    )
    needed = Decimal(message.split("at least ")[1].split(" yuan")[0].replace(",", ""))
    assert ask(api, product="sales-share-advance", amount="50000", average_daily_sales=str(needed)).status_code == 200
    cents_less = str(needed - Decimal("0.01"))
    assert ask(api, product="sales-share-advance", amount="50000", average_daily_sales=cents_less).status_code == 400


def test_a_product_taken_off_offer_is_refused(api):
    product = LoanProduct.objects.get(code="instalment-loan")
    product.is_active = False
    product_save(product=product, by=None)

    fields = refused(ask(api, product="instalment-loan", amount="5000", term=6))

    assert fields == {
        "product": [
            "“instalment-loan” is not offered at the moment. Offered products: short-term-working-capital, "
            "operating-loan, sales-share-advance."
        ]
    }


def test_every_bad_field_is_reported_at_once(api):
    fields = refused(
        ask(
            api,
            product="instalment-loan",
            amount="5000.123",
            term=5,
            repayment_method="bullet",
            start_date=(today() - timedelta(days=3)).isoformat(),
        )
    )

    assert sorted(fields) == ["amount", "repayment_method", "start_date", "term"]


def test_the_message_lists_the_fields_in_error(api):
    response = ask(api, product="operating-loan", amount="1", term=99)

    assert response.json()["message"] == "Some fields are not valid: amount, term."


# Public, without CSRF, and limited.


def test_an_anonymous_page_can_post_a_quote_without_a_csrf_token():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(QUOTES, {"product": "operating-loan", "amount": "50000", "term": 12}, "application/json")

    assert response.status_code == 200


def test_a_signed_in_merchant_can_post_a_quote_without_a_csrf_token(merchant_owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(merchant_owner)

    response = browser.post(QUOTES, {"product": "operating-loan", "amount": "50000", "term": 12}, "application/json")

    assert response.status_code == 200


def test_quotes_are_limited_per_client_and_the_refusal_says_when_to_retry(api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"quotes": "2/min"}}

    answers = [ask(api, product="operating-loan", amount="50000", term=12) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0


# The product list.


def test_anyone_can_list_the_products_on_offer_with_amounts_as_strings(api):
    product = LoanProduct.objects.get(code="instalment-loan")
    product.is_active = False
    product_save(product=product, by=None)

    response = api.get("/api/v1/products/")

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"next", "previous", "results"}
    rows = {row["code"]: row for row in page["results"]}
    assert list(rows) == ["short-term-working-capital", "operating-loan", "sales-share-advance"]
    operating = rows["operating-loan"]
    assert (operating["amount_min"], operating["amount_max"]) == ("10000.00", "500000.00")
    assert (operating["term_unit"], operating["allowed_terms"][:3]) == ("months", [3, 4, 5])
    assert operating["terms_description"] == "from 3 to 24 months"
    assert operating["repayment_methods"] == [
        {"value": "equal_instalment", "label": "Equal instalments"},
        {"value": "equal_principal", "label": "Equal principal"},
    ]
    assert operating["price_basis"] == "annual_rate"
    assert operating["indicative_grade"] == "C"
    assert operating["prices"][2] == {"grade": "C", "price": "0.120000", "label": "12.00 % a year"}
    assert operating["origination_fee_rate"] == "0.010000"
    assert operating["sales_share"] is None
    assert rows["sales-share-advance"]["sales_share"] == {
        "share_rate": "0.100000",
        "window_days": 60,
        "window_minimum_share": "1/18",
        "max_months": 18,
    }
    assert rows["short-term-working-capital"]["prices"][0]["label"] == "0.02 % a day"


def test_the_product_name_follows_the_requests_language(api):
    response = api.get("/api/v1/products/operating-loan/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.json()["name"] == "经营贷"
    assert api.get("/api/v1/products/operating-loan/", HTTP_ACCEPT_LANGUAGE="en").json()["name"] == (
        "Merchant operating loan"
    )


def test_one_product_by_code_and_a_withdrawn_one_is_not_found(api):
    product = LoanProduct.objects.get(code="instalment-loan")
    product.is_active = False
    product_save(product=product, by=None)

    assert api.get("/api/v1/products/operating-loan/").json()["code"] == "operating-loan"
    response = api.get("/api/v1/products/instalment-loan/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_schema_lists_the_three_public_operations(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema"}

    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)

    operations = {
        operation["operationId"]: operation for methods in schema["paths"].values() for operation in methods.values()
    }
    assert {"products_list", "products_retrieve", "quotes_create"} <= set(operations)
    assert operations["quotes_create"]["security"] == [{}]
    assert {} in operations["products_list"]["security"]
    quote_input = schema["components"]["schemas"]["QuoteCreateInputRequest"]
    assert quote_input["required"] == ["amount", "product"]
    assert "grade" not in quote_input["properties"]


def test_average_daily_sales_too_large_for_the_engine_is_a_400_naming_the_field(db):
    from rest_framework.test import APIClient

    from lending.catalogue.tests.factories import SalesShareProductFactory

    product = SalesShareProductFactory()
    response = APIClient().post(
        "/api/v1/quotes/", {"product": product.code, "amount": "50000.00", "average_daily_sales": "1e12"}, format="json"
    )
    assert response.status_code == 400
    assert "average_daily_sales" in response.json()["fields"]


def test_the_quote_states_its_day_count_and_apr_method_as_the_contract_does(api):
    body = ask(api, product="operating-loan", amount="50000.00", term=12).json()

    assert body["day_count"] == "actual_365"
    assert body["day_count_statement"] == (
        "Interest accrues by actual days (actual/365) on the principal outstanding, at the annual rate divided by "
        "365 a day, only for the days it is outstanding."
    )
    assert body["apr_method_statement"].startswith("APR by the actuarial (IRR) method on what you actually pay")
    assert (
        "the unit period is a month, whole unit periods are counted back from each payment"
        in (body["apr_method_statement"])
    )


def test_the_quote_in_chinese_states_the_day_count(api):
    body = api.post(
        QUOTES,
        {"product": "operating-loan", "amount": "50000.00", "term": 12},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).json()

    assert "按实际天数" in body["day_count_statement"]
    assert "精算法" in body["apr_method_statement"]


@pytest.mark.parametrize("amount", ["50,000", "50，000", "50 000", "50000,00", 50000, 50000.0])
def test_an_amount_with_a_thousands_separator_or_as_a_json_number_is_refused_naming_it(api, amount):
    response = api.post("/api/v1/quotes/", {"product": "operating-loan", "amount": amount, "term": "12"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["amount"]
