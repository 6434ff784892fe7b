"""One credit line on every screen: the apply flow states the dashboard's figure, flags an amount above it before
anything is submitted with what happens to it, and the decision's page explains its own line beside it."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from lending.origination.tests.factories import apply_for
from underwriting.choices import Outcome
from underwriting.models import PolicyRule, PreApprovedLimit

pytestmark = pytest.mark.django_db
D = Decimal

APPLY = "/loans/apply/"
TERMS = "/loans/apply/operating-loan/"
CONFIRM = "/loans/apply/operating-loan/confirm/"
TERMS_QUERY = {"term": "12", "repayment_method": "equal_instalment"}


@pytest.fixture
def owner_client(client, verified_merchant_with_sales, underwriting_rules, loan_products):
    PreApprovedLimit.objects.create(
        merchant=verified_merchant_with_sales, amount=D("40000.00"), computed_at=timezone.now()
    )
    client.force_login(verified_merchant_with_sales.owner)
    return client


def text(response) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def warning(response) -> str | None:
    """The above-the-line message under the amount, or None when it is hidden."""
    match = re.search(
        r'<p class="message warning" role="status" data-above-line( hidden)?>(.*?)</p>', response.content.decode()
    )
    assert match is not None
    return None if match[1] else match[2]


def test_the_products_screen_states_the_line_as_the_dashboard_does(owner_client):
    products = text(owner_client.get(APPLY))
    dashboard = text(owner_client.get("/merchant/"))

    assert "Pre-approved up to ¥40,000.00" in products
    assert "Pre-approved up to ¥40,000.00" in dashboard


def test_an_amount_within_the_line_is_not_flagged(owner_client):
    response = owner_client.get(TERMS, {"amount": "40000.00", **TERMS_QUERY})

    assert response.status_code == 200
    assert warning(response) is None


def test_an_amount_above_the_line_is_flagged_with_what_happens_to_it(owner_client):
    response = owner_client.get(TERMS, {"amount": "60000.00", **TERMS_QUERY})

    assert warning(response) == (
        "¥60,000.00 is above the ¥40,000.00 you can borrow now. You can still apply: it is not approved "
        "automatically but reviewed by an officer within one working day, who may offer up to ¥40,000.00 instead."
    )
    content = response.content.decode()
    # The same message for the page's script, to say as the amount is typed.
    assert 'data-line-available="40000.00"' in content
    assert 'data-text-above-line="{amount} is above the ¥40,000.00 you can borrow now.' in content
    assert 'data-money-pattern="¥{}"' in content


def test_when_the_rule_declines_above_the_line_the_screen_says_so(owner_client):
    PolicyRule.objects.filter(code="amount-within-line").update(outcome=Outcome.DECLINE)

    response = owner_client.get(TERMS, {"amount": "60000.00", **TERMS_QUERY})

    assert warning(response) == (
        "¥60,000.00 is above the ¥40,000.00 you can borrow now: an application above it is declined. "
        "Ask for ¥40,000.00 or less."
    )


def test_the_confirmation_screen_flags_the_amount_too(owner_client):
    response = owner_client.get(CONFIRM, {"amount": "60000.00", **TERMS_QUERY})

    assert "¥60,000.00 is above the ¥40,000.00 you can borrow now." in text(response)


def test_a_line_of_zero_flags_any_amount_in_chinese(owner_client, verified_merchant_with_sales):
    PreApprovedLimit.objects.filter(merchant=verified_merchant_with_sales).update(amount=D("0.00"))

    response = owner_client.get(TERMS, {"amount": "20000.00", **TERMS_QUERY}, headers={"accept-language": "zh-hans"})

    assert "20,000.00 元" in warning(response)
    assert 'data-money-pattern="{} 元"' in response.content.decode()


def test_the_decision_page_explains_its_line_beside_the_dashboards(
    owner_client, verified_merchant_with_sales, operating_loan, decisions_refer
):
    application = apply_for(verified_merchant_with_sales, operating_loan)
    line = application.decision.credit_line
    assert line != D("40000.00")

    page = text(owner_client.get(f"/loans/applications/{application.pk}/"))

    assert f"The credit line on this decision is ¥{line:,.2f}." in page
    assert (
        "It is what your sales support for this product (1.5 times your average month of platform sales, up to the "
        "product's maximum), while the ¥40,000.00 your dashboard shows is what is approved automatically, less what "
        "your open loans still owe." in page
    )
