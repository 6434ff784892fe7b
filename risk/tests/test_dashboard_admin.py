"""The dashboard page: who may open it, every panel with its chart data, table and CSV, the back-office index link."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from core.formatting import amount
from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import LoanState
from merchants.choices import Industry, Province
from risk.models import LimitKind
from risk.selectors.limits import limits_utilisation
from risk.tests.factories import limit_in_force
from risk.tests.factories_stress import book_loan

DASHBOARD = reverse("risk_dashboard")
PANELS = (
    "funnel",
    "decisions",
    "outstanding-product",
    "outstanding-grade",
    "outstanding-industry",
    "outstanding-region",
    "outstanding-partner",
    "dpd",
    "roll-rates",
    "vintages",
    "limits",
    "stress",
)


@pytest.fixture
def book(db):
    product = LoanProductFactory(code="dash-p1")
    book_loan(product=product, industry=Industry.GROCERY, province=Province.GUANGDONG, outstanding=Decimal(10000))
    book_loan(
        product=product,
        industry=Industry.RESTAURANT,
        province=Province.ZHEJIANG,
        outstanding=Decimal(6000),
        days_past_due=40,
        state=LoanState.OVERDUE,
    )


@pytest.mark.parametrize("persona", ["loan_officer", "senior_officer", "risk_manager"])
def test_officers_and_risk_managers_open_the_dashboard(client, request, persona, book):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    body = response.content.decode()
    for key in PANELS:
        assert f'id="panel-{key}"' in body, key
    assert '<script src="/static/vendor/chartjs/chart.umd.js" defer></script>' in body
    assert "cdn" not in body.lower()


def test_the_book_by_industry_is_charted_and_tabled_with_the_same_numbers(client, risk_manager, book):
    client.force_login(risk_manager)
    response = client.get(DASHBOARD)
    panel = next(panel for panel in response.context["panels"] if panel.key == "outstanding-industry")
    assert panel.rows == [
        [Industry.GROCERY, "Grocery and convenience stores", "1", "10,000.00"],
        [Industry.RESTAURANT, "Restaurants", "1", "6,000.00"],
    ]
    body = response.content.decode()
    found = re.search(r'<script id="chart-data-outstanding-industry" type="application/json">(.*?)</script>', body)
    data = json.loads(found.group(1))
    assert data["labels"] == ["Grocery and convenience stores", "Restaurants"]
    assert data["datasets"][0]["data"] == ["10000.00", "6000.00"]


def test_each_panel_downloads_its_table_as_csv(client, risk_manager, book):
    client.force_login(risk_manager)
    download = client.get(DASHBOARD, {"csv": "dpd"})
    assert download.status_code == 200
    assert download["Content-Disposition"].endswith('-dpd.csv"')
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows == [
        ["days past due", "loans", "outstanding principal"],
        ["current", "1", "10000.00"],
        ["1-30", "0", "0.00"],
        ["31-60", "1", "6000.00"],
        ["61-90", "0", "0.00"],
        ["90+", "0", "0.00"],
    ]
    assert client.get(DASHBOARD, {"csv": "nothing-here"}).status_code == 404


def test_the_panels_with_nothing_yet_say_so(client, risk_manager, book):
    client.force_login(risk_manager)
    body = client.get(DASHBOARD).content.decode()
    assert "No exposure limits are in force." in body
    assert "No stress run has finished yet" in body


def test_the_limits_panel_shows_each_limit_and_how_full_it_is(client, risk_manager, book):
    limit_in_force(LimitKind.PORTFOLIO, amount="1000000.00")
    (use,) = limits_utilisation()
    client.force_login(risk_manager)
    body = client.get(DASHBOARD).content.decode()
    assert f"{amount(use.exposure)}" in body
    assert "1,000,000.00" in body


def test_the_index_lists_the_dashboard_for_an_officer(client, loan_officer):
    client.force_login(loan_officer)
    body = client.get(reverse("admin:index")).content.decode()
    assert DASHBOARD in body
    assert "The portfolio at a glance" in body


def test_a_merchant_owner_is_kept_out(client, merchant_owner):
    client.force_login(merchant_owner)
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_the_permission_are_refused(client, db):
    from accounts.tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403
