"""Loan products: what clean() refuses and how it says so, the demo seed, snapshots, audited saves, the admin."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import AuditEvent
from core.selectors.audit import audit_trail
from lending.catalogue.models import LoanProduct, PrepaymentPolicy, RepaymentMethodChoice, TermUnitChoice
from lending.catalogue.money import FeeTerms, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.services.demo import products_seed
from lending.catalogue.services.products import (
    product_save,
    product_terms_snapshot,
    quote_for_product,
    quote_for_snapshot,
)
from lending.catalogue.tests.factories import (
    InstalmentProductFactory,
    LoanProductFactory,
    SalesShareProductFactory,
    ShortTermProductFactory,
)

pytestmark = pytest.mark.django_db


def errors_of(product: LoanProduct) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        product.full_clean()
    return caught.value.message_dict


# clean(): each refusal names its field and what is allowed.


def test_a_valid_product_passes_and_its_grid_and_terms_are_normalised():
    product = LoanProductFactory.build(
        prices={"A": "0.072", "B": "0.096", "C": "0.12", "D": "0.144", "E": "0.17"}, allowed_terms=[12, 3, 6, 6]
    )

    product.full_clean()

    assert product.prices == {"A": "0.072000", "B": "0.096000", "C": "0.120000", "D": "0.144000", "E": "0.170000"}
    assert product.allowed_terms == [3, 6, 12]


def test_smallest_amount_above_the_largest_is_refused_on_amount_min():
    product = LoanProductFactory.build(amount_min=Decimal("600000.00"), amount_max=Decimal("500000.00"))

    errors = errors_of(product)

    assert errors["amount_min"] == ["The smallest amount must not be more than the largest amount (500000.00)."]


def test_the_database_refuses_an_amount_range_upside_down_even_without_clean():
    with pytest.raises(IntegrityError), transaction.atomic():
        LoanProductFactory(amount_min=Decimal("600000.00"), amount_max=Decimal("500000.00"))


def test_a_grid_missing_a_grade_names_the_missing_grades():
    product = LoanProductFactory.build(prices={"A": "0.07", "B": "0.09", "D": "0.14"})

    assert errors_of(product)["prices"] == ["Every grade needs a price; missing: C, E."]


def test_a_negative_rate_is_refused_with_its_grade():
    product = LoanProductFactory.build(prices={"A": "-0.01", "B": "0.09", "C": "0.12", "D": "0.14", "E": "0.18"})

    assert errors_of(product)["prices"] == ["Grade A: a price must not be negative."]


def test_a_rate_outside_the_kinds_bounds_names_the_bounds():
    # 1 % a day typed where 0.01 % was meant: 365 % a year.
    product = ShortTermProductFactory.build(
        prices={"A": "0.0002", "B": "0.0003", "C": "0.01", "D": "0.01", "E": "0.01"}
    )

    messages = errors_of(product)["prices"]

    assert "Grade C: daily interest rate must be between 0 and 0.003." in messages


def test_a_price_that_is_not_a_number_is_refused_with_its_grade():
    product = LoanProductFactory.build(prices={"A": "0.07", "B": "seven", "C": "0.12", "D": "0.14", "E": "0.18"})

    assert errors_of(product)["prices"] == ["Grade B: enter a number such as 0.12, with at most six decimal places."]


def test_a_riskier_grade_cheaper_than_a_better_one_is_refused():
    product = LoanProductFactory.build(prices={"A": "0.07", "B": "0.09", "C": "0.08", "D": "0.14", "E": "0.18"})

    assert errors_of(product)["prices"] == ["Grade C must not cost less than grade B."]


def test_a_sales_share_fee_factor_outside_102_to_115_is_refused():
    product = SalesShareProductFactory.build(prices={"A": "1.02", "B": "1.05", "C": "1.08", "D": "1.11", "E": "1.25"})

    assert errors_of(product)["prices"] == ["Grade E: fee factor must be between 1.02 and 1.15."]


def test_a_method_the_kind_does_not_allow_is_refused_naming_the_allowed_ones():
    product = InstalmentProductFactory.build(repayment_methods=[RepaymentMethodChoice.BULLET])

    assert errors_of(product)["repayment_methods"] == [
        "Instalment loan cannot be repaid by Single payment at maturity. Allowed: Equal instalments, Equal principal."
    ]


def test_an_unknown_method_is_refused_listing_every_method():
    product = LoanProductFactory.build(repayment_methods=["balloon"])

    message = errors_of(product)["repayment_methods"][0]

    assert message.startswith("Unknown repayment methods: balloon. Choose from: equal_instalment, equal_principal")


def test_no_method_at_all_is_refused():
    assert errors_of(LoanProductFactory.build(repayment_methods=[]))["repayment_methods"] == [
        "Choose at least one repayment method."
    ]


def test_instalments_over_terms_in_days_are_refused():
    product = ShortTermProductFactory.build(
        repayment_methods=[RepaymentMethodChoice.BULLET, RepaymentMethodChoice.INTEREST_FIRST]
    )

    assert errors_of(product)["repayment_methods"] == [
        "Terms in days allow only a single payment at maturity; instalments need terms in months."
    ]


def test_an_operating_loan_in_days_is_refused_on_the_term_unit():
    product = LoanProductFactory.build(term_unit=TermUnitChoice.DAYS, repayment_methods=["equal_instalment"])

    assert errors_of(product)["term_unit"] == ["Operating loan has terms in months."]


@pytest.mark.parametrize("terms", [[], [0, 3], [3, 400], ["12"], "3,6"])
def test_allowed_terms_must_be_whole_numbers_in_the_engines_range(terms):
    product = LoanProductFactory.build(allowed_terms=terms)

    assert errors_of(product)["allowed_terms"] == [
        "Give the allowed terms as whole numbers from 1 to 360, such as “3, 6, 12” or a range “7-90”."
    ]


def test_a_sales_share_advance_with_terms_is_refused():
    product = SalesShareProductFactory.build(allowed_terms=[6])

    assert errors_of(product)["allowed_terms"] == [
        "A sales-share advance has no fixed term (it follows the sales, at most 18 months); leave the terms empty."
    ]


def test_an_origination_fee_as_both_rate_and_fixed_amount_is_refused():
    product = LoanProductFactory.build(origination_fee_rate=Decimal("0.01"), origination_fee_fixed=Decimal("100"))

    assert errors_of(product)["origination_fee_fixed"] == [
        "Give either an origination fee rate or a fixed fee, not both."
    ]


def test_a_fixed_fee_as_large_as_the_smallest_loan_is_refused():
    product = LoanProductFactory.build(origination_fee_rate=Decimal(0), origination_fee_fixed=Decimal("10000.00"))

    assert errors_of(product)["origination_fee_fixed"] == ["Must be less than the smallest amount (10000.00)."]


def test_early_repayment_with_a_fee_needs_a_fee_rate():
    product = LoanProductFactory.build(prepayment_policy=PrepaymentPolicy.ALLOWED_WITH_FEE, prepayment_fee_rate=0)

    assert errors_of(product)["prepayment_fee_rate"] == [
        "Early repayment with a fee needs a fee rate above 0 and at most 0.1."
    ]


def test_a_prepayment_fee_rate_without_the_fee_policy_is_refused():
    product = LoanProductFactory.build(prepayment_policy=PrepaymentPolicy.ALLOWED, prepayment_fee_rate=Decimal("0.01"))

    assert errors_of(product)["prepayment_fee_rate"] == ["Only early repayment with a fee has a fee rate; set it to 0."]


def test_a_sales_share_advance_needs_its_share_of_sales_and_has_no_origination_fee():
    product = SalesShareProductFactory.build(sales_share_rate=None, origination_fee_rate=Decimal("0.01"))

    errors = errors_of(product)

    assert errors["sales_share_rate"] == [
        "A sales-share advance needs the share of daily sales kept, above 0 and at most 1 (0.10 is 10 %)."
    ]
    assert errors["origination_fee_rate"] == [
        "A sales-share advance has no origination fee: the fee factor is its whole price."
    ]


def test_a_share_of_sales_on_another_kind_is_refused():
    product = LoanProductFactory.build(sales_share_rate=Decimal("0.1"))

    assert errors_of(product)["sales_share_rate"] == [
        "Only a sales-share advance has a share of daily sales; leave it empty."
    ]


def test_a_late_fee_rate_beyond_the_daily_maximum_is_refused():
    product = LoanProductFactory.build(late_fee_daily_rate=Decimal("0.01"))

    assert errors_of(product)["late_fee_daily_rate"] == ["Must be a fraction between 0 and 0.003 a day."]


# The demo products.

DEMO_CODES = ["short-term-working-capital", "operating-loan", "instalment-loan", "sales-share-advance"]


def test_the_seed_creates_the_four_demo_products_with_their_terms():
    products_seed()

    products = {product.code: product for product in LoanProduct.objects.all()}
    assert sorted(products) == sorted(DEMO_CODES)
    short, operating = products["short-term-working-capital"], products["operating-loan"]
    instalment, sales_share = products["instalment-loan"], products["sales-share-advance"]
    assert (short.name_zh, short.term_unit, short.allowed_terms) == ("短期周转贷", "days", list(range(7, 91)))
    assert short.repayment_methods == ["bullet"]
    assert short.prices["A"] == "0.000200"
    assert short.prices["E"] == "0.000600"
    assert (operating.name_zh, operating.term_unit, operating.allowed_terms) == ("经营贷", "months", list(range(3, 25)))
    assert operating.repayment_methods == ["equal_instalment", "equal_principal"]
    assert (operating.prices["A"], operating.prices["E"]) == ("0.072000", "0.170000")
    assert (instalment.name_zh, instalment.allowed_terms, instalment.price_basis) == (
        "消费分期",
        [3, 6, 12],
        "monthly_fee_rate",
    )
    assert (sales_share.name_zh, sales_share.allowed_terms, sales_share.sales_share_rate) == (
        "流水贷",
        [],
        Decimal("0.100000"),
    )
    assert (sales_share.prices["A"], sales_share.prices["E"]) == ("1.020000", "1.150000")
    for product in products.values():
        product.full_clean()
        assert product.is_active
        assert product.amount_min >= Decimal("1000.00")
        assert product.amount_max <= Decimal("500000.00")


def test_seeding_twice_changes_nothing_and_writes_no_second_audit_row():
    products_seed()
    first = list(LoanProduct.objects.order_by("code").values())
    audit_rows = AuditEvent.objects.count()

    products_seed()

    assert list(LoanProduct.objects.order_by("code").values()) == first
    assert AuditEvent.objects.count() == audit_rows == 4


def test_seeding_puts_an_edited_demo_product_back_to_the_demos_terms():
    products_seed()
    operating = LoanProduct.objects.get(code="operating-loan")
    operating.prices = {**operating.prices, "C": "0.130000"}
    product_save(product=operating, by=None)

    products_seed()

    operating.refresh_from_db()
    assert operating.prices["C"] == "0.120000"
    assert [row.action for row in audit_trail(operating)] == ["product.create", "product.update", "product.update"]


def test_deferrals_are_offered_with_both_fields_or_with_neither():
    assert errors_of(LoanProductFactory.build(deferral_max_days=0, deferrals_per_loan=2)) == {
        "deferral_max_days": ["Set both deferral fields above 0 to offer deferrals, or both to 0 to offer none."]
    }
    assert errors_of(LoanProductFactory.build(deferral_max_days=15, deferrals_per_loan=0)) == {
        "deferrals_per_loan": ["Set both deferral fields above 0 to offer deferrals, or both to 0 to offer none."]
    }
    LoanProductFactory.build(deferral_max_days=0, deferrals_per_loan=0).full_clean()


def test_a_deferral_longer_than_90_days_or_more_than_12_per_loan_is_refused():
    errors = errors_of(LoanProductFactory.build(deferral_max_days=91, deferrals_per_loan=13))

    assert errors["deferral_max_days"] == ["Ensure this value is less than or equal to 90."]
    assert errors["deferrals_per_loan"] == ["Ensure this value is less than or equal to 12."]


# Snapshots: what an offer keeps.


def test_a_snapshot_is_plain_json_with_decimals_as_strings():
    product = LoanProductFactory()

    snapshot = product_terms_snapshot(product=product, grade="B")

    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["grade"] == "B"
    assert snapshot["price"] == "0.096000"
    assert snapshot["price_basis"] == "annual_rate"
    assert snapshot["amount_min"] == "10000.00"
    assert snapshot["fees"] == {
        "origination_rate": "0.010000",
        "origination_fixed": "0.00",
        "origination_timing": "deducted",
    }
    assert snapshot["allowed_terms"] == list(range(3, 25))
    assert snapshot["sales_share"] is None
    assert snapshot["deferral"] == {"max_days": 30, "per_loan": 1}


def test_a_sales_share_snapshot_keeps_the_contracts_window_rules():
    snapshot = product_terms_snapshot(product=SalesShareProductFactory(), grade="C")

    assert snapshot["sales_share"] == {
        "share_rate": "0.100000",
        "fee_days": 240,
        "window_days": 60,
        "window_share": "1/18",
        "max_months": 18,
    }


def test_a_snapshot_for_an_unknown_grade_is_refused():
    with pytest.raises(ValidationError) as caught:
        product_terms_snapshot(product=LoanProductFactory(), grade="F")

    assert caught.value.message_dict == {"grade": ["Choose a risk grade: A, B, C, D, E."]}


def test_editing_a_product_does_not_change_a_quote_priced_from_an_earlier_snapshot():
    product = LoanProductFactory()
    offered = product_terms_snapshot(product=product, grade="C")
    product.prices = {**product.prices, "C": "0.130000"}
    product_save(product=product, by=None)
    start = timezone.localdate()

    from_offer = quote_for_snapshot(snapshot=offered, amount="50000.00", term=12, start_date=start)
    from_product_now = quote_for_product(product=product, amount="50000.00", term=12, start_date=start)

    engine = quote(
        QuoteTerms(
            amount=Decimal("50000.00"),
            term=12,
            start_date=start,
            method=RepaymentMethod.EQUAL_INSTALMENT,
            annual_rate=Decimal("0.12"),
            fees=FeeTerms(origination_rate=Decimal("0.01")),
        )
    )
    assert offered["price"] == "0.120000"
    assert from_offer.apr == engine.apr
    assert from_product_now.apr > from_offer.apr


# Saving: validated and audited.


def test_saving_a_change_writes_one_audit_row_with_old_and_new_values(risk_manager):
    product = LoanProductFactory()
    product.amount_max = Decimal("300000.00")

    product_save(product=product, by=risk_manager, reason="smaller exposure")

    row = audit_trail(product).get()
    assert (row.action, row.actor_id, row.reason) == ("product.update", risk_manager.pk, "smaller exposure")
    assert row.data == {"changes": {"amount_max": ["500000.00", "300000.00"]}}


def test_saving_an_unchanged_product_writes_nothing():
    product = LoanProductFactory()

    product_save(product=product, by=None)

    assert not audit_trail(product).exists()


def test_an_invalid_product_is_not_saved():
    product = LoanProductFactory()
    product.prices = {"A": "0.07"}

    with pytest.raises(ValidationError):
        product_save(product=product, by=None)

    product.refresh_from_db()
    assert product.prices["C"] == "0.120000"
    assert not audit_trail(product).exists()


# The back office.

PRODUCT_PERMISSIONS = ["add_loanproduct", "change_loanproduct", "view_loanproduct"]


@pytest.fixture
def product_manager(client, risk_manager):
    # The permissions accounts.roles is asked to give risk managers.
    risk_manager.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="lending", codename__in=PRODUCT_PERMISSIONS)
    )
    client.force_login(risk_manager)
    return risk_manager


def admin_form(**overrides) -> dict:
    data = {
        "code": "cafe-loan",
        "name_zh": "咖啡店贷",
        "name_en": "Café loan",
        "kind": "operating_loan",
        "currency": "CNY",
        "is_active": "on",
        "amount_min": "10000.00",
        "amount_max": "200000.00",
        "term_unit": "months",
        "allowed_terms": "3-12, 18, 24",
        "repayment_methods": ["equal_instalment", "equal_principal"],
        "standard_repayment_method": "equal_principal",
        "prices_A": "0.08",
        "prices_B": "0.10",
        "prices_C": "0.12",
        "prices_D": "0.15",
        "prices_E": "0.18",
        "day_count": "actual_365",
        "origination_fee_rate": "0",
        "origination_fee_fixed": "0",
        "origination_fee_timing": "deducted",
        "late_fee_daily_rate": "0.0005",
        "late_fee_fixed": "0",
        "grace_days": "3",
        "prepayment_policy": "allowed",
        "prepayment_fee_rate": "0",
        "offer_validity_days": "7",
        "default_after_days_past_due": "90",
        "deferral_max_days": "30",
        "deferrals_per_loan": "1",
        "sales_share_rate": "",
    }
    data.update(overrides)
    return data


def test_the_admin_sets_a_products_deferral_rule(client, product_manager):
    response = client.post(
        "/admin/lending/loanproduct/add/", admin_form(deferral_max_days="14", deferrals_per_loan="2")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = LoanProduct.objects.get(code="cafe-loan")
    assert (product.deferral_max_days, product.deferrals_per_loan) == (14, 2)


def test_the_admin_names_a_half_set_deferral_rule_and_saves_nothing(client, product_manager):
    response = client.post("/admin/lending/loanproduct/add/", admin_form(deferral_max_days="0"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["deferral_max_days"] == [
        "Set both deferral fields above 0 to offer deferrals, or both to 0 to offer none."
    ]
    assert not LoanProduct.objects.filter(code="cafe-loan").exists()


def test_a_risk_manager_adds_a_product_with_its_grid_and_the_save_is_audited(client, product_manager):
    response = client.post("/admin/lending/loanproduct/add/", admin_form())

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = LoanProduct.objects.get(code="cafe-loan")
    assert product.allowed_terms == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 24]
    assert product.repayment_methods == ["equal_principal", "equal_instalment"]
    assert product.prices == {"A": "0.080000", "B": "0.100000", "C": "0.120000", "D": "0.150000", "E": "0.180000"}
    row = audit_trail(product).get()
    assert (row.action, row.actor_id) == ("product.create", product_manager.pk)


def test_the_admin_shows_clean_errors_next_to_the_grid_and_saves_nothing(client, product_manager):
    response = client.post("/admin/lending/loanproduct/add/", admin_form(prices_C="", prices_B="-0.1"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert sorted(errors["prices"]) == [
        "Every grade needs a price; missing: C.",
        "Grade B: a price must not be negative.",
    ]
    assert "Every grade needs a price; missing: C." in response.content.decode()
    assert not LoanProduct.objects.filter(code="cafe-loan").exists()


def test_the_admin_refuses_a_term_list_it_cannot_read(client, product_manager):
    response = client.post("/admin/lending/loanproduct/add/", admin_form(allowed_terms="3 to 12"))

    assert response.context["adminform"].form.errors["allowed_terms"] == [
        "Write whole numbers separated by commas, or ranges such as 7-90 (smallest first)."
    ]


def test_the_standard_method_must_be_one_of_those_ticked(client, product_manager):
    response = client.post(
        "/admin/lending/loanproduct/add/",
        admin_form(repayment_methods=["equal_instalment"], standard_repayment_method="equal_principal"),
    )

    assert response.context["adminform"].form.errors["standard_repayment_method"] == [
        "Tick it among the repayment methods too."
    ]
    assert not LoanProduct.objects.filter(code="cafe-loan").exists()


def test_the_change_page_previews_a_sample_quote_at_every_grade(client, product_manager):
    product = LoanProductFactory()

    response = client.get(f"/admin/lending/loanproduct/{product.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "50,000.00 yuan, Equal instalments, 12 months" in page
    # Grade C: 12 % a year and a 1 % fee taken from the payout.
    from core.formatting import amount
    from lending.catalogue.services.products import quote_for_product

    grade_c = quote_for_product(product=product, amount="50000.00", term=12)
    assert (
        f"<td>C</td><td>12.00 % a year</td><td>{grade_c.apr:.2f} %</td><td>{amount(grade_c.total_repayable)}</td>"
        in page
    )
    assert 'value="0.120000"' in page


def test_the_product_list_shows_ranges_terms_and_grids(client, product_manager):
    products_seed()

    page = client.get("/admin/lending/loanproduct/").content.decode()

    assert "7-90 days" in page
    assert "3, 6, 12 months" in page
    assert "fee factor 1.08 (a fee of at most 8.00 % of the amount, accruing by the day on what is outstanding)" in page
    assert "0.04 % a day" in page


def test_an_officer_without_the_product_permissions_cannot_change_products(client, loan_officer):
    product = LoanProductFactory()
    client.force_login(loan_officer)

    response = client.post(f"/admin/lending/loanproduct/{product.pk}/change/", admin_form(code=product.code))

    assert response.status_code == 403


def test_a_quote_from_a_product_starting_tomorrow_is_accepted():
    product = LoanProductFactory()

    priced = quote_for_product(
        product=product, amount="10000", term="6", start_date=timezone.localdate() + timedelta(days=1)
    )

    assert len(priced.lines) == 6


def test_a_grid_above_the_annual_cost_ceiling_is_refused_in_admin_naming_the_grade_and_its_rate(
    client, product_manager
):
    # Grade E at 18 % with a 1 % fee taken from the payout: a 3-month loan costs more than 24 % a year.
    response = client.post("/admin/lending/loanproduct/add/", admin_form(origination_fee_rate="0.01"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["prices"]
    assert len(errors) == 1
    assert errors[0].startswith("Grade E: some loans this product allows would cost ")
    assert "above the platform's ceiling of 24.00 %" in errors[0]
    assert not LoanProduct.objects.filter(code="cafe-loan").exists()


def sales_share_admin_form(**overrides) -> dict:
    return admin_form(
        **{
            "code": "market-stall-advance",
            "name_zh": "摊位流水贷",
            "name_en": "Market stall advance",
            "kind": "sales_share_advance",
            "amount_min": "5000.00",
            "amount_max": "300000.00",
            "allowed_terms": "",
            "repayment_methods": ["sales_share"],
            "standard_repayment_method": "sales_share",
            "prices_A": "1.02",
            "prices_B": "1.05",
            "prices_C": "1.08",
            "prices_D": "1.11",
            "prices_E": "1.15",
            "sales_share_fee_days": "240",
            "late_fee_daily_rate": "0",
            "grace_days": "0",
            "default_after_days_past_due": "120",
            "deferral_max_days": "0",
            "deferrals_per_loan": "0",
            "sales_share_rate": "0.10",
            **overrides,
        }
    )


def test_the_admin_saves_a_sales_share_grid_within_the_ceiling(client, product_manager):
    response = client.post("/admin/lending/loanproduct/add/", sales_share_admin_form())

    assert response.status_code == 302
    assert LoanProduct.objects.get(code="market-stall-advance").sales_share_fee_days == 240


def test_a_sales_share_grid_above_the_ceiling_is_refused_in_admin_naming_the_grade_and_its_rate(
    client, product_manager
):
    # Spread over 200 days, grade E's 1.15 accrues 0.15 / 200 = 0.00075 a day: 27.38 % a year repaid the next day.
    response = client.post("/admin/lending/loanproduct/add/", sales_share_admin_form(sales_share_fee_days="200"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["prices"] == [
        "Grade E: an advance repaid the day after it is paid out would cost 27.38 % a year (APR), above the "
        "platform's ceiling of 24.00 %: lower the fee factor or spread the fee over more days."
    ]
    assert not LoanProduct.objects.filter(code="market-stall-advance").exists()


def test_every_demo_product_grade_and_term_stays_within_the_ceiling(db):
    from lending.catalogue.services.demo import DEMO_PRODUCTS
    from lending.catalogue.services.products import product_grid_over_ceiling

    for terms in DEMO_PRODUCTS:
        assert product_grid_over_ceiling(product=LoanProduct(**terms)) == [], terms["code"]


def test_a_missing_or_malformed_ceiling_stops_the_portal(settings):
    from django.core.exceptions import ImproperlyConfigured

    from core.checks import annual_cost_ceiling_check
    from lending.catalogue.services.products import annual_cost_ceiling

    settings.ANNUAL_COST_CEILING = "twenty-four"
    assert [error.id for error in annual_cost_ceiling_check(None)] == ["core.E001"]
    with pytest.raises(ImproperlyConfigured):
        annual_cost_ceiling()
    del settings.ANNUAL_COST_CEILING
    assert [error.id for error in annual_cost_ceiling_check(None)] == ["core.E001"]


def test_penalty_interest_in_an_offer_is_capped_at_one_and_a_half_times_the_contract_rate(db):
    from lending.catalogue.services.products import product_terms_snapshot

    # 0.05 % a day is 18.25 % a year; grade A at 7.2 % allows at most 10.8 % a year: 0.000295 a day.
    product = LoanProductFactory(late_fee_daily_rate=Decimal("0.000500"))
    grade_a = product_terms_snapshot(product=product, grade="A")["late_fee"]
    assert (grade_a["daily_rate"], grade_a["annual_cap"]) == ("0.000295", "0.108000")
    # Grade E at 17 %: 1.5 x is 25.5 %, above the 24 % ceiling, so the ceiling caps it: 0.05 % a day stands.
    grade_e = product_terms_snapshot(product=product, grade="E")["late_fee"]
    assert (grade_e["daily_rate"], grade_e["annual_cap"]) == ("0.000500", "0.240000")
