"""A partner bank reads the money it is owed over its API: each repayment's distribution to its share, each day's
settlement, and the statement as CSV — its own only."""

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.models import Distribution
from partners.tests.factories_api import FundingPartnerFactory, co_funded_loan, repaid_and_settled


def client_of(partner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=partner.api_user)[0].key}")
    return client


def paid_and_settled(partner, *, amount: str, reference: str):
    """A loan the partner co-funds (70 %), one repayment distributed yesterday, and yesterday's settlement."""
    loan = co_funded_loan(partner)
    return loan, repaid_and_settled(partner, loan, amount=Decimal(amount), reference=reference)


@pytest.fixture
def bank_a(db):
    return FundingPartnerFactory(code="bank-a")


@pytest.fixture
def bank_b(db):
    return FundingPartnerFactory(code="bank-b")


def test_a_partner_sees_its_distributions_adding_up_to_its_settlement(bank_a, bank_b):
    loan, settlement = paid_and_settled(bank_a, amount="1100.00", reference="PAY-A")
    paid_and_settled(bank_b, amount="1100.00", reference="PAY-B")

    rows = client_of(bank_a).get(reverse("api:partner-distribution-list"), {"page_size": 200}).json()["results"]

    assert rows
    assert {row["loan"] for row in rows} == {loan.pk}
    assert {row["settlement"] for row in rows} == {settlement.pk}
    total = sum(Decimal(row["amount"]) for row in rows)
    assert total == settlement.collected
    own = Distribution.objects.filter(partner=bank_a).aggregate(total=Sum("amount"))["total"]
    assert total == own


def test_distributions_filter_by_component_and_refuse_an_unknown_one(bank_a):
    paid_and_settled(bank_a, amount="1100.00", reference="PAY-A")
    client = client_of(bank_a)

    principal = client.get(reverse("api:partner-distribution-list"), {"component": "principal"}).json()["results"]
    fees = client.get(reverse("api:partner-distribution-list"), {"component": "fee"}).json()["results"]
    refused = client.get(reverse("api:partner-distribution-list"), {"component": "tips"})

    assert principal
    assert {row["component"] for row in principal} == {"principal"}
    assert fees == []
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["component"]


def test_settlements_list_and_detail_show_the_days_figures(bank_a, bank_b):
    _loan, settlement = paid_and_settled(bank_a, amount="1100.00", reference="PAY-A")
    paid_and_settled(bank_b, amount="1100.00", reference="PAY-B")
    client = client_of(bank_a)

    listed = client.get(reverse("api:partner-settlement-list")).json()["results"]
    detail = client.get(reverse("api:partner-settlement-detail", args=[settlement.pk])).json()

    assert [row["id"] for row in listed] == [settlement.pk]
    assert detail["net_payable"] == f"{settlement.net_payable:.2f}"
    assert detail["collected"] == f"{settlement.collected:.2f}"
    assert Decimal(detail["collected"]) - Decimal(detail["service_fee"]) == Decimal(detail["net_payable"])
    assert detail["status"] == "ready"


def test_the_statement_downloads_as_csv_with_the_net_payable(bank_a):
    _loan, settlement = paid_and_settled(bank_a, amount="1100.00", reference="PAY-A")

    response = client_of(bank_a).get(reverse("api:partner-settlement-statement", args=[settlement.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="settlement-bank-a-{settlement.business_date.isoformat()}.csv"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[-1].endswith(f"{settlement.net_payable:.2f}")
    assert lines[-1].startswith("应付净额 Net payable")


@pytest.mark.parametrize("url_name", ["api:partner-settlement-detail", "api:partner-settlement-statement"])
def test_another_partners_settlement_is_not_found(bank_a, bank_b, url_name):
    _loan, theirs = paid_and_settled(bank_b, amount="1100.00", reference="PAY-B")
    client = client_of(bank_a)

    not_mine = client.get(reverse(url_name, args=[theirs.pk]))
    missing = client.get(reverse(url_name, args=[theirs.pk + 1000]))

    assert not_mine.status_code == missing.status_code == 404
    assert not_mine.content == missing.content
