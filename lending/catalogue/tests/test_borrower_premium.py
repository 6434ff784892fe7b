"""A credit-insurance premium the borrower pays: its own line in every quote, withheld from the payout, and in the
APR by exactly what the internal rate of return of the cash flows says."""

from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from lending.catalogue.models import BorrowerPremium
from lending.catalogue.services.premiums import borrower_premium_set
from lending.catalogue.services.products import product_terms_snapshot, quote_for_product
from lending.catalogue.tests.factories import LoanProductFactory, SalesShareProductFactory

pytestmark = pytest.mark.django_db

SOURCE = "insurer:test-insurer"
START = date(2026, 12, 10)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    # Quotes refuse a start date in the past: the loans here start on START, quoted that day.
    real = timezone.localdate
    monkeypatch.setattr(
        "django.utils.timezone.localdate", lambda value=None, *args: START if value is None else real(value, *args)
    )


def _fen(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _monthly_irr_apr(advance: Decimal, payments: list[tuple[int, Decimal]]) -> Decimal:
    """The APR (percent, two places, rounded up) of ``advance`` repaid by ``payments`` (whole months after the
    start, amount): the monthly rate i with sum(P / (1 + i) ** t) = advance, found by bisection in Decimal, x 12.

    Written here on purpose, not taken from the engine: it checks the engine's answer from the definition."""
    with localcontext() as context:
        context.prec = 50

        def present_value(rate: Decimal) -> Decimal:
            return sum((amount / (1 + rate) ** months for months, amount in payments), Decimal(0))

        low, high = Decimal(0), Decimal(1)
        assert present_value(low) > advance > present_value(high)
        for _ in range(200):
            middle = (low + high) / 2
            if present_value(middle) > advance:
                low = middle
            else:
                high = middle
        return (high * 12 * 100).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def _product():
    # Grade A at 7.2 % a year with a 1 % fee deducted; 12 or 24 months, so a premium keeps well within the ceiling.
    return LoanProductFactory(allowed_terms=[12, 24])


def _quote(product, grade="A"):
    return quote_for_product(
        product=product,
        amount="50000.00",
        term=12,
        start_date=START,
        grade=grade,
        repayment_method="equal_instalment",
    )


def test_a_borrower_paid_premium_raises_the_apr_by_exactly_what_an_independent_irr_says():
    product = _product()
    before = _quote(product)

    borrower_premium_set(product=product, grades=["A", "B"], rate=Decimal("0.008"), by=None, source=SOURCE)
    after = _quote(product)

    amount = Decimal("50000.00")
    fee = _fen(amount * Decimal("0.01"))
    premium = _fen(amount * Decimal("0.008"))
    assert premium == Decimal("400.00")
    assert after.insurance_premium == premium
    assert before.insurance_premium == Decimal("0.00")
    # The schedule is the same: the premium is withheld from the payout, not repaid.
    assert [line.payment for line in after.lines] == [line.payment for line in before.lines]
    assert after.net_disbursement == amount - fee - premium == Decimal("49100.00")
    assert after.cash_flows[0].amount == Decimal("49100.00")
    assert after.total_fees == before.total_fees + premium
    assert after.total_cost_of_credit == after.total_repayable - after.net_disbursement
    # Due dates fall on the start's day of the month: payment k is exactly k months after the start.
    payments = [(k, line.payment) for k, line in enumerate(after.lines, start=1)]
    assert [line.due_date.day for line in after.lines] == [10] * 12
    irr_without = _monthly_irr_apr(amount - fee, payments)
    irr_with = _monthly_irr_apr(amount - fee - premium, payments)
    assert before.apr == irr_without
    assert after.apr == irr_with
    assert after.apr - before.apr == irr_with - irr_without
    assert after.apr - before.apr > Decimal("1.40")  # 0.8 % of the amount over a year's instalments


def test_the_premium_is_in_the_offer_snapshot_only_at_the_grades_it_was_set_for():
    product = _product()
    borrower_premium_set(product=product, grades=["B"], rate=Decimal("0.008"), by=None, source=SOURCE)

    assert product_terms_snapshot(product=product, grade="B")["fees"]["insurance_premium_rate"] == "0.008000"
    assert product_terms_snapshot(product=product, grade="B")["fees"]["insurance_premium_source"] == SOURCE
    assert "insurance_premium_rate" not in product_terms_snapshot(product=product, grade="A")["fees"]


def test_the_quote_api_shows_the_premium_as_its_own_line():
    product = _product()
    borrower_premium_set(product=product, grades=["C"], rate=Decimal("0.005"), by=None, source=SOURCE)

    response = APIClient().post(
        "/api/v1/quotes/", {"product": product.code, "amount": "50000.00", "term": 12}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["insurance_premium"] == "250.00"
    assert body["net_disbursement"] == "49250.00"


def test_ending_the_premium_takes_it_out_of_new_quotes_and_is_audited():
    product = _product()
    borrower_premium_set(product=product, grades=["A"], rate=Decimal("0.008"), by=None, source=SOURCE)
    borrower_premium_set(product=product, grades=["A"], rate=Decimal("0"), by=None, source=SOURCE)

    assert not BorrowerPremium.objects.filter(product=product).exists()
    assert _quote(product).insurance_premium == Decimal("0.00")
    assert AuditEvent.objects.filter(action="product.borrower_premium_set", object_id=str(product.pk)).count() == 2


def test_a_premium_that_would_cross_the_cost_ceiling_is_refused_and_nothing_is_saved():
    product = LoanProductFactory(allowed_terms=[3, 12])

    with pytest.raises(ValidationError) as refused:
        borrower_premium_set(product=product, grades=["E"], rate=Decimal("0.05"), by=None, source=SOURCE)

    assert "premium_rate" in refused.value.message_dict
    assert "Grade E" in refused.value.message_dict["premium_rate"][0]
    assert not BorrowerPremium.objects.exists()


def test_a_second_insurer_cannot_price_a_grade_another_already_prices():
    product = _product()
    borrower_premium_set(product=product, grades=["A"], rate=Decimal("0.008"), by=None, source=SOURCE)

    with pytest.raises(ValidationError) as refused:
        borrower_premium_set(product=product, grades=["A", "B"], rate=Decimal("0.006"), by=None, source="insurer:other")

    assert "already carries a borrower-paid premium at grades A" in refused.value.message_dict["grades"][0]
    assert list(BorrowerPremium.objects.values_list("grade", "source")) == [("A", SOURCE)]


def test_a_sales_share_advance_cannot_carry_a_borrower_paid_premium():
    product = SalesShareProductFactory()

    with pytest.raises(ValidationError) as refused:
        borrower_premium_set(product=product, grades=["A"], rate=Decimal("0.008"), by=None, source=SOURCE)

    assert "let the platform pay the premium" in refused.value.message_dict["products"][0]


@pytest.mark.parametrize(("rate", "field"), [(Decimal("0.2"), "premium_rate"), (Decimal("-0.01"), "premium_rate")])
def test_bad_rates_and_grades_are_refused_naming_the_field(rate, field):
    product = _product()
    with pytest.raises(ValidationError) as refused:
        borrower_premium_set(product=product, grades=["A"], rate=rate, by=None, source=SOURCE)
    assert field in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        borrower_premium_set(product=product, grades=["Z"], rate=Decimal("0.01"), by=None, source=SOURCE)
    assert "Unknown grades: Z" in refused.value.message_dict["grades"][0]


@pytest.fixture
def insured_operating_loan(operating_loan):
    """The operating loan with a borrower-paid premium of 0.2 % at grades A-D (set before anyone applies; at grade
    E it would take the three-month loans above the cost ceiling)."""
    borrower_premium_set(
        product=operating_loan, grades=["A", "B", "C", "D"], rate=Decimal("0.002"), by=None, source=SOURCE
    )
    return operating_loan


def test_the_offer_and_the_contract_print_the_premium_on_its_own_line(
    insured_operating_loan, accepted_application, django_capture_on_commit_callbacks
):
    import io

    from pypdf import PdfReader

    from lending.origination.services.contracts import contract_pdf_bytes
    from lending.origination.tests.factories import prepared_contract

    offer = accepted_application.offer_quote
    assert offer["insurance_premium"] == "40.00"  # 0.2 % of 20,000.00

    contract = prepared_contract(accepted_application, django_capture_on_commit_callbacks)

    assert contract.terms["fees"]["insurance_premium"] == "40.00"
    assert contract.terms["fees"]["insurance_premium_percent"] == "0.20"
    assert contract.terms["totals"]["net_disbursement"] == offer["net_disbursement"]
    reader = PdfReader(io.BytesIO(contract_pdf_bytes(contract=contract)))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "保险费" in text
    assert "Insurance premium (paid by the borrower)" in text
