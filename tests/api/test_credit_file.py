"""The credit file is the platform's: who can write platform sales rows, by every path, and what decisions read.

Every path that writes sales (the feed API, the merchant's API, the web form, the admin, the operators' command)
is tried by every persona. Only the platform feed's credential and operators write platform rows; a merchant's
attempt is refused with a message naming what is allowed, and leaves nothing behind. Declared sales never reach
an automated decision, and a correction of a platform day is a new version that keeps the old one.
"""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services.platform_feed import platform_feed_user_ensure
from accounts.tests.factories import make_user
from core.models import AuditEvent
from lending.catalogue.services.demo import products_seed
from merchants.choices import KycState, SalesSource
from merchants.models import SalesDay
from merchants.selectors.sales import sales_day_versions, sales_days_as_known_at
from merchants.tests.factories import MerchantFactory, SalesDayFactory
from underwriting.models import Decision
from underwriting.services.demo import underwriting_seed

FEED_URL = "/api/v1/platform/sales/"
MERCHANT_URL = "/api/v1/sales/"
WEB_URL = "/merchant/sales/import/"
HEADER = "date,gross_sales,refunds,transaction_count,distinct_customers"
ROLES = ("merchant_owner", "other_merchant", "officer", "platform_feed", "anonymous")
FEED_REFUSAL = "settlement feed writes platform sales"


def day(date: str, gross: str = "1500.00") -> dict:
    return {"date": date, "gross_sales": gross, "refunds": "0.00", "transaction_count": "12", "distinct_customers": "9"}


def history(days: int, gross: str, *, end: datetime.date | None = None) -> list[dict]:
    end = end or timezone.localdate() - datetime.timedelta(days=1)
    return [day((end - datetime.timedelta(days=n)).isoformat(), gross) for n in range(days)]


@pytest.fixture
def feed(db):
    return platform_feed_user_ensure(email="feed@platform.example", by=None)


@pytest.fixture
def users(merchant, other_merchant, loan_officer, feed) -> dict:
    return {
        "merchant_owner": merchant.owner,
        "other_merchant": other_merchant.owner,
        "officer": loan_officer,
        "platform_feed": feed,
        "anonymous": None,
    }


def api_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def web_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def feed_body(merchant, days: list[dict], batch: str = "batch-1") -> dict:
    return {"batch_id": batch, "merchant_credit_code": merchant.credit_code, "days": days}


def rows_of(merchant) -> list[tuple]:
    return list(
        SalesDay.all_rows.filter(merchant=merchant)
        .order_by("date", "source", "version")
        .values_list("date", "source", "version", "gross_sales", "superseded_at")
    )


# --- The feed API: only the feed's credential -------------------------------------------------------------

FEED_EXPECT = {"merchant_owner": 403, "other_merchant": 403, "officer": 403, "platform_feed": 201, "anonymous": 401}


@pytest.mark.parametrize("role", ROLES)
def test_only_the_platform_feed_writes_platform_rows_through_the_feed_api(role, users, merchant):
    response = api_client(users[role]).post(
        FEED_URL,
        feed_body(merchant, [day("2025-02-01")]),
        format="json",
        headers={"Idempotency-Key": f"feed-{role}"},
    )

    assert response.status_code == FEED_EXPECT[role], response.content
    if role == "platform_feed":
        assert response.json() == {
            "batch_id": "batch-1",
            "merchant_credit_code": merchant.credit_code,
            "created": 1,
            "replaced": 0,
            "unchanged": 0,
            "first_date": "2025-02-01",
            "last_date": "2025-02-01",
        }
        saved = SalesDay.objects.get(merchant=merchant)
        assert (saved.source, saved.batch_id, saved.version) == ("platform", "batch-1", 1)
    else:
        assert not SalesDay.all_rows.exists()
        if role != "anonymous":
            assert "settlement feed" in response.json()["message"]


def test_the_feed_must_send_an_idempotency_key_and_a_known_merchant(feed, merchant):
    client = api_client(feed)

    no_key = client.post(FEED_URL, feed_body(merchant, [day("2025-02-01")]), format="json")
    unknown = client.post(
        FEED_URL,
        {"batch_id": "b", "merchant_credit_code": "91440300000000000X", "days": [day("2025-02-01")]},
        format="json",
        headers={"Idempotency-Key": "unknown-merchant"},
    )

    assert no_key.status_code == 400
    assert "Idempotency-Key" in no_key.json()["fields"]
    assert unknown.status_code == 400
    assert unknown.json()["fields"]["merchant_credit_code"] == ["No merchant has the credit code 91440300000000000X."]
    assert not SalesDay.all_rows.exists()


def test_a_retried_feed_batch_is_answered_once_and_written_once(feed, merchant):
    client = api_client(feed)
    body = feed_body(merchant, [day("2025-02-01"), day("2025-02-02")])

    first = client.post(FEED_URL, body, format="json", headers={"Idempotency-Key": "settle-0201"})
    again = client.post(FEED_URL, body, format="json", headers={"Idempotency-Key": "settle-0201"})

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert SalesDay.objects.filter(merchant=merchant).count() == 2
    assert AuditEvent.objects.filter(action="sales.import", data__batch_id="batch-1").count() == 1


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("/api/v1/merchant/", "get"),
        ("/api/v1/sales/", "get"),
        ("/api/v1/applications/", "get"),
        ("/api/v1/loans/", "get"),
    ],
)
def test_the_feed_token_opens_nothing_but_the_feed(feed, url, method):
    response = getattr(api_client(feed), method)(url)

    assert response.status_code == 403
    assert response.json()["message"] == (
        "This token belongs to the platform's settlement feed and may only send sales to the feed."
    )


def test_the_feed_account_cannot_sign_in_with_a_password(feed):
    assert not feed.has_usable_password()
    assert not feed.is_staff
    response = APIClient().post("/api/v1/auth/token/", {"email": feed.email, "password": ""}, format="json")
    assert response.status_code == 400


# --- The merchant's API: declared only --------------------------------------------------------------------

MERCHANT_API_EXPECT = {
    "merchant_owner": 400,
    "other_merchant": 400,
    "officer": 403,
    "platform_feed": 403,
    "anonymous": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_nobody_writes_platform_rows_through_the_merchant_api(role, users, merchant):
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 2, 1), gross_sales=Decimal("1000.00"))
    before = rows_of(merchant)

    response = api_client(users[role]).post(
        MERCHANT_URL, {"source": "platform", "days": [day("2025-02-01", "999999.00")]}, format="json"
    )

    assert response.status_code == MERCHANT_API_EXPECT[role], response.content
    if response.status_code == 400:
        body = response.json()
        assert body["code"] == "sales_source_refused"
        assert body["fields"] == {"source": ["“platform” is not allowed: leave “source” out, or send “declared”."]}
        assert FEED_REFUSAL in body["message"]
    assert rows_of(merchant) == before
    assert SalesDay.all_rows.count() == 1


def test_a_merchant_declaring_a_day_the_platform_has_never_touches_the_platform_row(merchant):
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 2, 1), gross_sales=Decimal("1000.00"))

    response = api_client(merchant.owner).post(MERCHANT_URL, {"days": [day("2025-02-01", "88888.00")]}, format="json")

    assert response.status_code == 201
    platform = SalesDay.objects.get(merchant=merchant)
    assert (platform.gross_sales, platform.version, platform.superseded_at) == (Decimal("1000.00"), 1, None)
    declared = SalesDay.all_rows.get(merchant=merchant, source=SalesSource.DECLARED)
    assert declared.gross_sales == Decimal("88888.00")


# --- The web form: declared only --------------------------------------------------------------------------


def csv_upload(*lines: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("sales.csv", "\n".join([HEADER, *lines]).encode(), content_type="text/csv")


WEB_EXPECT = {"merchant_owner": 200, "other_merchant": 200, "officer": 302, "platform_feed": 403, "anonymous": 302}


@pytest.mark.parametrize("role", ROLES)
def test_nobody_writes_platform_rows_through_the_web_form(role, users, merchant):
    # Officers are sent to the back office; the feed account has no merchant; anonymous visitors must sign in.
    response = web_client(users[role]).post(
        WEB_URL, {"source": "platform", "file": csv_upload("2025-02-01,999999.00,0,10,9")}
    )

    if role == "officer":
        assert response.status_code in (302, 403)
    else:
        assert response.status_code == WEB_EXPECT[role]
    if response.status_code == 200:
        assert FEED_REFUSAL in response.content.decode()
    assert not SalesDay.all_rows.exists()


def test_the_web_form_adds_declared_rows_labelled_as_such(merchant):
    client = web_client(merchant.owner)

    page = client.get(WEB_URL).content.decode()
    client.post(WEB_URL, {"file": csv_upload("2025-02-01,500.00,0,10,9")})

    assert "Add sales taken elsewhere (declared)" in page
    assert list(SalesDay.all_rows.values_list("source", "batch_id")) == [("declared", "web")]
    assert not SalesDay.objects.exists()


# --- The admin: read-only for everyone, staff or not ------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_nobody_writes_sales_rows_through_the_admin(role, users, merchant):
    row = SalesDayFactory(merchant=merchant, date=datetime.date(2025, 2, 1), gross_sales=Decimal("1000.00"))
    client = web_client(users[role])
    urls = [
        reverse("admin:merchants_salesday_add"),
        reverse("admin:merchants_salesday_change", args=[row.pk]),
        reverse("admin:merchants_salesday_delete", args=[row.pk]),
    ]

    for url in urls:
        response = client.post(url, {"merchant": merchant.pk, "date": "2025-02-01", "gross_sales": "999999.00"})
        # Not staff: sent to sign in; staff: the admin forms do not exist for sales (403).
        assert response.status_code in (302, 403), url
        if role == "officer":
            assert response.status_code == 403

    assert rows_of(merchant) == [(datetime.date(2025, 2, 1), "platform", 1, Decimal("1000.00"), None)]


def test_the_admin_labels_declared_rows_and_lists_every_version(merchant, loan_officer):
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 2, 1), gross_sales=Decimal("1000.00"))
    SalesDayFactory(
        merchant=merchant, date=datetime.date(2025, 2, 1), gross_sales=Decimal("4321.00"), source="declared"
    )

    html = web_client(loan_officer).get(reverse("admin:merchants_salesday_changelist")).content.decode()

    assert "Declared by the merchant (declared)" in html
    assert "Platform settlement feed" in html
    assert "4,321.00" in html or "4321.00" in html


# --- The operators' command -------------------------------------------------------------------------------


def test_the_import_sales_command_writes_platform_rows_of_its_batch(merchant, tmp_path):
    path = tmp_path / "settlement.csv"
    path.write_text("\n".join([HEADER, "2025-02-01,700.00,0,10,9"]), encoding="utf-8")

    call_command(
        "import_sales", "--merchant", merchant.credit_code, "--batch", "ops-7", str(path), stdout=io.StringIO()
    )

    saved = SalesDay.objects.get(merchant=merchant)
    assert (saved.source, saved.batch_id, saved.gross_sales) == ("platform", "ops-7", Decimal("700.00"))


# --- Corrections are versions ------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_with_the_old_one_kept_and_audited(feed, merchant):
    client = api_client(feed)
    client.post(
        FEED_URL, feed_body(merchant, [day("2025-02-01", "1000.00")]), format="json", headers={"Idempotency-Key": "a"}
    )
    seen_at = timezone.now()

    corrected = client.post(
        FEED_URL,
        feed_body(merchant, [day("2025-02-01", "1100.00")], batch="batch-2"),
        format="json",
        headers={"Idempotency-Key": "b"},
    )

    assert corrected.status_code == 201
    assert corrected.json()["replaced"] == 1
    versions = list(sales_day_versions(merchant=merchant, date=datetime.date(2025, 2, 1)))
    assert [(v.version, v.gross_sales, v.batch_id, v.superseded_at is None) for v in versions] == [
        (1, Decimal("1000.00"), "batch-1", False),
        (2, Decimal("1100.00"), "batch-2", True),
    ]
    assert SalesDay.objects.get(merchant=merchant).gross_sales == Decimal("1100.00")
    # What a decision made before the correction read is still on file, as it then stood.
    assert [d.gross_sales for d in sales_days_as_known_at(merchant=merchant, at=seen_at)] == [Decimal("1000.00")]
    audit = AuditEvent.objects.filter(action="sales.import").order_by("id").last()
    assert audit.actor == feed
    assert audit.data["replaced_days"] == [{"date": "2025-02-01", "version": 2, "gross_sales": ["1000.00", "1100.00"]}]


# --- Declared sales never decide -----------------------------------------------------------------------------


@pytest.fixture
def lending_setup(db):
    products_seed()
    underwriting_seed()


def apply(merchant) -> dict:
    response = api_client(merchant.owner).post(
        "/api/v1/applications/",
        {"product": "operating-loan", "amount": "30000.00", "term": 12, "submit": True},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def verified_merchant(email: str):
    return MerchantFactory(owner=make_user(Role.MERCHANT_OWNER, email=email), kyc_state=KycState.VERIFIED)


def test_a_fabricated_declared_history_alone_is_never_approved(lending_setup):
    merchant = verified_merchant("fabricator@shop.example")
    declared = api_client(merchant.owner).post(MERCHANT_URL, {"days": history(730, "9000.00")}, format="json")
    assert declared.status_code == 201

    answer = apply(merchant)

    assert answer["decision"]["outcome"] != "approve"
    assert answer["state"] != "approved"
    decision = Decision.objects.get(merchant=merchant)
    assert decision.snapshot["features"]["sales_12m"] == "0.00"


def test_with_the_platform_history_it_is_decided_as_before_whatever_is_declared(lending_setup, feed):
    merchant, other_merchant = verified_merchant("a@shop.example"), verified_merchant("b@shop.example")
    for shop in (merchant, other_merchant):
        sent = api_client(feed).post(
            FEED_URL,
            feed_body(shop, history(730, "3000.00")),
            format="json",
            headers={"Idempotency-Key": shop.credit_code},
        )
        assert sent.status_code == 201
    # Merchant A also declares a far bigger business; its twin B declares nothing.
    api_client(merchant.owner).post(MERCHANT_URL, {"days": history(730, "90000.00")}, format="json")

    with_declared, platform_only = apply(merchant), apply(other_merchant)

    assert platform_only["decision"]["outcome"] == "approve"
    same = ("outcome", "grade", "credit_line")
    assert {k: with_declared["decision"][k] for k in same} == {k: platform_only["decision"][k] for k in same}


def test_a_referred_application_shows_declared_sales_apart_and_labelled(merchant, loan_officer, lending_setup):
    from lending.catalogue.models import LoanProduct
    from lending.origination.models import LoanApplication

    month = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    SalesDayFactory(merchant=merchant, date=month, gross_sales=Decimal("2000.00"))
    SalesDayFactory(merchant=merchant, date=month, gross_sales=Decimal("6543.00"), source="declared")
    product = LoanProduct.objects.get(code="operating-loan")
    application = LoanApplication.objects.create(
        merchant=merchant, product=product, amount=Decimal("20000.00"), term=12, repayment_method="equal_instalment"
    )

    html = (
        web_client(loan_officer)
        .get(reverse("admin:lending_loanapplication_change", args=[application.pk]))
        .content.decode()
    )

    assert "Platform settlement feed (the credit file the decision used)" in html
    assert "Declared by the merchant (declared)" in html
    assert f"{month:%Y-%m} (declared)" in html
    assert "6,543.00" in html
