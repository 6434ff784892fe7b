"""A visitor lands on what the portal offers, with the calculator and sign-up; the calculator ends with "apply"
(a merchant) or "sign up to apply" (a visitor), carrying the terms on screen to the apply flow."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from lending.catalogue.services.demo import products_seed

pytestmark = pytest.mark.django_db
CALCULATOR = "/loans/calculator/"
TERMS = {"product": "operating-loan", "amount": "50000.00", "term": "12", "repayment_method": "equal_instalment"}


@pytest.fixture(autouse=True)
def _products():
    products_seed()


def test_a_visitor_lands_on_what_the_portal_offers_with_sign_up_and_the_calculator(client):
    response = client.get("/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Working capital for the shops that take payments with us" in content
    assert f'href="{reverse("account_signup")}"' in content
    assert f'action="{reverse("lending:calculator")}"' in content


def test_someone_signed_in_goes_on_to_the_dashboard(client, merchant_owner):
    client.force_login(merchant_owner)

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("merchants:dashboard")


def test_the_landing_pages_amount_opens_the_calculator_with_a_quote(client):
    response = client.get(CALCULATOR, {"amount": "50000.00"})

    assert response.status_code == 200
    assert response.context["quote"] is not None
    assert response.context["quote"].amount == 50000


def test_the_calculator_ends_with_sign_up_to_apply_for_a_visitor(client):
    response = client.get(CALCULATOR, TERMS)

    content = response.content.decode()
    assert "Sign up to apply" in content
    link = response.context["signup_url"]
    assert urlsplit(link).path == reverse("account_signup")
    following = parse_qs(urlsplit(link).query)["next"][0]
    assert following == "/loans/apply/operating-loan/?amount=50000.00&term=12&repayment_method=equal_instalment"


def test_the_calculator_ends_with_apply_for_a_merchant(client, merchant_owner):
    client.force_login(merchant_owner)

    content = client.get(CALCULATOR, TERMS).content.decode()

    assert "Apply for this loan" in content
    assert 'href="/loans/apply/operating-loan/?amount=50000.00&amp;term=12&amp;repayment_method=equal_instalment"' in (
        content
    )
    assert "Sign up to apply" not in content
