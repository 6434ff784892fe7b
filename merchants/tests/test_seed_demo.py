"""Demo data: the same seed gives the same merchants and sales, a second run adds nothing."""

import datetime
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum

from accounts.models import User
from accounts.roles import Role
from core.models import AuditEvent
from merchants.choices import Industry
from merchants.models import Merchant, SalesDay
from merchants.services import demo
from merchants.services.demo import DEMO_PASSWORD, demo_merchant, demo_sales, seed_merchants
from merchants.validators import validate_credit_code, validate_resident_id

END = datetime.date(2025, 3, 31)


def totals() -> dict[str, tuple]:
    """Per owner email: (days on file, gross sales, refunds, transactions, customers)."""
    rows = (
        SalesDay.objects.values("merchant__owner__email")
        .annotate(
            n=Count("id"),
            gross=Sum("gross_sales"),
            refunds=Sum("refunds"),
            transactions=Sum("transaction_count"),
            customers=Sum("distinct_customers"),
        )
        .order_by()
    )
    return {
        row["merchant__owner__email"]: (row["n"], row["gross"], row["refunds"], row["transactions"], row["customers"])
        for row in rows
    }


def wipe() -> None:
    Merchant.objects.all().delete()
    AuditEvent.objects.all().delete()
    User.objects.all().delete()


def test_seeding_creates_verified_merchants_with_valid_identities_and_one_audit_row_each(db):
    created = seed_merchants(count=3, seed=7, days=60, end_date=END)

    assert created == 3
    merchants = list(Merchant.objects.select_related("owner").order_by("owner__email"))
    assert [m.owner.email for m in merchants] == [
        "shop1@demo.example",
        "shop2@demo.example",
        "shop3@demo.example",
    ]
    for merchant in merchants:
        assert merchant.kyc_state == "verified"
        assert merchant.missing_profile_fields() == []
        validate_credit_code(merchant.credit_code)
        validate_resident_id(merchant.legal_rep_id_number)
        assert merchant.owner.has_role(Role.MERCHANT_OWNER)
        assert EmailAddress.objects.get(user=merchant.owner).verified
    audit = AuditEvent.objects.filter(action="kyc.seed_verified")
    assert sorted(audit.values_list("object_id", flat=True)) == sorted(str(m.pk) for m in merchants)
    assert set(audit.values_list("to_state", flat=True)) == {"verified"}


def test_the_sales_cover_the_period_and_obey_the_import_rules(db):
    seed_merchants(count=3, seed=7, days=60, end_date=END)

    days = SalesDay.objects.all()
    assert days.count() > 0
    assert min(d.date for d in days) >= END - datetime.timedelta(days=59)
    assert max(d.date for d in days) == END
    assert all(d.refunds <= d.gross_sales for d in days)
    assert all(d.distinct_customers <= d.transaction_count for d in days)


def test_the_same_seed_gives_the_same_totals(db):
    seed_merchants(count=3, seed=7, days=60, end_date=END)
    first = totals()
    wipe()

    seed_merchants(count=3, seed=7, days=60, end_date=END)

    assert totals() == first
    assert len(first) == 3


def test_another_seed_gives_other_sales(db):
    seed_merchants(count=3, seed=7, days=60, end_date=END)
    first = totals()
    wipe()

    seed_merchants(count=3, seed=8, days=60, end_date=END)

    assert totals() != first


def test_running_twice_creates_nothing_twice(db):
    seed_merchants(count=3, seed=7, days=60, end_date=END)
    before = totals()

    created = seed_merchants(count=3, seed=7, days=60, end_date=END)

    assert created == 0
    assert totals() == before
    assert Merchant.objects.count() == 3
    assert User.objects.count() == 3
    assert AuditEvent.objects.filter(action="kyc.seed_verified").count() == 3


def test_a_second_run_fills_in_only_the_missing_days(db):
    seed_merchants(count=2, seed=7, days=60, end_date=END)
    before = totals()
    SalesDay.objects.filter(date__gte=END - datetime.timedelta(days=4)).delete()

    seed_merchants(count=2, seed=7, days=60, end_date=END)

    assert totals() == before


def test_a_bigger_run_keeps_the_first_merchants_as_they_were(db):
    seed_merchants(count=2, seed=7, days=30, end_date=END)
    first_two = totals()

    assert seed_merchants(count=4, seed=7, days=30, end_date=END) == 2

    after = totals()
    assert {email: after[email] for email in first_two} == first_two


def test_start_index_seeds_later_merchants_identically(db):
    seed_merchants(count=3, seed=7, days=30, end_date=END)
    third = totals()["shop3@demo.example"]
    wipe()

    seed_merchants(count=1, seed=7, days=30, end_date=END, start_index=2)

    assert totals() == {"shop3@demo.example": third}


def test_two_merchants_share_an_identity_and_a_bank_account(db):
    seed_merchants(count=9, seed=7, days=5, end_date=END)

    eighth = Merchant.objects.get(owner__email="shop8@demo.example")
    ninth = Merchant.objects.get(owner__email="shop9@demo.example")
    assert eighth.credit_code != ninth.credit_code
    assert ninth.legal_rep_id_number == eighth.legal_rep_id_number
    assert ninth.settlement_account_number == eighth.settlement_account_number


def test_window_dressing_inflates_the_last_month_with_few_customers():
    dates = [END - datetime.timedelta(days=89 - k) for k in range(90)]
    dressed = demo_merchant(seed=7, index=7)
    assert dressed.pattern == "window_dressing"

    rows = demo_sales(dressed, dates)

    before = [row for row in rows if 30 <= row[0] < 60]
    last_month = [row for row in rows if row[0] >= 60]
    assert sum(r[1] for r in last_month) > 2 * sum(r[1] for r in before)
    customers_per_transaction = sum(r[4] for r in last_month) / sum(r[3] for r in last_month)
    assert customers_per_transaction < 0.3


@pytest.mark.parametrize(
    ("industry", "busier"),
    [(Industry.RESTAURANT, "weekend"), (Industry.WHOLESALE, "weekdays")],
)
def test_restaurants_peak_at_the_weekend_and_wholesalers_on_weekdays(industry, busier):
    dates = [datetime.date(2024, 3, 4) + datetime.timedelta(days=k) for k in range(7 * 26)]  # March to August
    merchant = replace(demo_merchant(seed=7, index=100), industry=industry, pattern="steady")

    rows = demo_sales(merchant, dates)

    weekend = [gross for position, gross, *_ in rows if dates[position].weekday() >= 5]
    weekdays = [gross for position, gross, *_ in rows if dates[position].weekday() < 5]
    weekend_mean, weekday_mean = sum(weekend) / len(weekend), sum(weekdays) / len(weekdays)
    assert (weekend_mean > weekday_mean) == (busier == "weekend")


def test_online_shops_sell_most_on_double_11():
    dates = [datetime.date(2024, 10, 1) + datetime.timedelta(days=k) for k in range(61)]
    shop = replace(demo_merchant(seed=7, index=100), industry=Industry.ONLINE_RETAIL, pattern="steady")

    rows = {dates[position]: gross for position, gross, *_ in demo_sales(shop, dates)}

    october = sorted(gross for day, gross in rows.items() if day.month == 10)
    assert rows[datetime.date(2024, 11, 11)] > 3 * october[len(october) // 2]
    assert max(rows, key=rows.get) == datetime.date(2024, 11, 11)


def test_seeded_owners_sign_in_with_the_demo_password_and_see_a_verified_business(client, db):
    seed_merchants(count=1, seed=7, days=30, end_date=END)

    assert client.login(email="shop1@demo.example", password=DEMO_PASSWORD)
    response = client.get("/merchant/")

    assert response.status_code == 200
    assert '<span class="status status-verified">Verified</span>' in response.content.decode()


def test_seed_demo_command_reports_what_it_created(db):
    out = io.StringIO()

    call_command("seed_demo", "--merchants", "2", "--seed", "3", "--days", "10", "--end-date", "2025-01-31", stdout=out)
    call_command("seed_demo", "--merchants", "2", "--seed", "3", "--days", "10", "--end-date", "2025-01-31", stdout=out)

    assert "2 merchant(s) created, 0 already there" in out.getvalue()
    assert "0 merchant(s) created, 2 already there" in out.getvalue()
    assert SalesDay.objects.filter(date__gt="2025-01-31").count() == 0


@pytest.mark.postgres
def test_copy_and_bulk_create_load_the_same_rows(db, monkeypatch):
    seed_merchants(count=3, seed=7, days=60, end_date=END)
    copied = totals()
    wipe()
    monkeypatch.setattr(demo, "_use_copy", lambda: False)

    seed_merchants(count=3, seed=7, days=60, end_date=END)

    assert totals() == copied


@pytest.mark.postgres
def test_a_bulk_load_checks_the_foreign_key_once_and_restores_it(db, monkeypatch):
    def foreign_keys():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'merchants_salesday'::regclass AND contype = 'f'"
            )
            return cursor.fetchall()

    before = foreign_keys()
    during = []
    seed_chunk = demo._seed_chunk

    def spying_seed_chunk(**kwargs):
        during.append(foreign_keys())
        return seed_chunk(**kwargs)

    monkeypatch.setattr(demo, "_seed_chunk", spying_seed_chunk)

    # First in the test's transaction: with row checks already pending the table could not be altered.
    seed_merchants(count=3, seed=7, days=60, end_date=END, bulk=True)

    assert during == [[]]
    assert foreign_keys() == before
    assert len(before) == 1
    assert "DEFERRABLE INITIALLY DEFERRED" in before[0][1]
    bulk_loaded = totals()
    wipe()
    seed_merchants(count=3, seed=7, days=60, end_date=END, bulk=False)
    assert totals() == bulk_loaded


def test_amounts_are_exact_fen(db):
    seed_merchants(count=1, seed=7, days=30, end_date=END)

    day = SalesDay.objects.order_by("date").last()
    assert day.gross_sales == day.gross_sales.quantize(Decimal("0.01"))
    assert isinstance(day.gross_sales, Decimal)
