"""What risk staff see of the limits: the API's report and the back office's pages and actions."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import make_user
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan
from lending.servicing.tests.factories import active_loan
from merchants.tests.factories import MerchantFactory
from risk.models import LimitKind, LimitVersion, PayoutHold
from risk.tests.factories import limit_in_force

pytestmark = pytest.mark.django_db
K = LimitKind


@pytest.fixture
def book(db):
    """22,000.00 committed in restaurants in Hangzhou: a loan of 12,000.00 and an offer of 10,000.00 signed."""
    product = LoanProductFactory(code="operating-report")
    shop = MerchantFactory(industry="H6210", province="330000", city="杭州")
    active_loan(shop, amount=Decimal("12000.00"), product=product)
    signed_application(shop, product, amount=Decimal("10000.00"))
    limit_in_force(K.INDUSTRY, "H6210", amount="24000")
    limit_in_force(K.PORTFOLIO, "", amount="100000")
    limit_in_force(K.MERCHANT, shop.credit_code, amount="20000")
    return shop


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# The API.


def test_risk_staff_get_the_report_fullest_first(book, risk_manager):
    response = api_for(risk_manager).get("/api/v1/risk/limits/")

    assert response.status_code == 200
    body = response.json()
    assert (body["portfolio_exposure"], body["near"], body["breach"]) == ("22000.00", 1, 1)
    assert [
        (row["kind"], row["exposure"], row["limit_amount"], row["utilisation"], row["status"]) for row in body["limits"]
    ] == [
        ("merchant", "22000.00", "20000.00", "1.1000", "breach"),
        ("industry", "22000.00", "24000.00", "0.9167", "near"),
        ("portfolio", "22000.00", "100000.00", "0.2200", "ok"),
    ]
    assert body["limits"][1]["label"] == "Restaurants (H6210)"
    assert body["limits"][1]["headroom"] == "2000.00"


def test_the_report_filters_by_status(book, loan_officer):
    body = api_for(loan_officer).get("/api/v1/risk/limits/", {"status": ["near", "breach"]}).json()

    assert sorted(row["status"] for row in body["limits"]) == ["breach", "near"]


def test_an_unknown_status_is_a_400_naming_the_field(book, risk_manager):
    response = api_for(risk_manager).get("/api/v1/risk/limits/", {"status": "full"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["status"]


@pytest.mark.parametrize("role", [Role.MERCHANT_OWNER, Role.PARTNER])
def test_merchants_and_partners_are_refused(book, role):
    user = make_user(role, email=f"{role.replace(' ', '-')}@outside.example")

    assert api_for(user).get("/api/v1/risk/limits/").status_code == 403


# The back office.


def test_the_limits_page_shows_each_limits_utilisation(book, client, loan_officer):
    client.force_login(loan_officer)

    page = client.get(reverse("admin:risk_exposurelimit_changelist")).content.decode()

    assert "Restaurants (H6210)" in page
    assert "91.67 %" in page
    assert 'class="status status-near"' in page
    assert 'class="status status-breach"' in page
    assert "Propose a change" not in page  # an officer looks; risk managers change


def test_a_risk_manager_proposes_a_change_in_the_back_office_and_another_activates_it(client, risk_manager):
    client.force_login(risk_manager)
    form = {"kind": "province", "key": "330000", "amount": "2000000", "share_percent": "", "note": "East", "confirm": 1}

    response = client.post(reverse("admin:risk_exposurelimit_propose"), form)

    version = LimitVersion.objects.get()
    assert response.status_code == 302
    assert (version.status, version.amount, version.proposed_by) == ("proposed", Decimal("2000000.00"), risk_manager)

    activate = {"action": "activate_selected", "_selected_action": [version.pk], "note": "Agreed", "confirm": 1}
    own = client.post(reverse("admin:risk_limitversion_changelist"), activate, follow=True)
    assert "another risk manager must activate it" in own.content.decode()
    version.refresh_from_db()
    assert version.status == "proposed"

    client.force_login(make_user(Role.RISK_MANAGER, email="risk2@loanportal.example", staff=True))
    client.post(reverse("admin:risk_limitversion_changelist"), activate)
    version.refresh_from_db()
    assert (version.status, version.decision_note) == ("active", "Agreed")


def test_a_proposal_with_a_bad_key_is_refused_on_the_field(client, risk_manager):
    client.force_login(risk_manager)
    form = {"kind": "industry", "key": "Z0000", "amount": "1000", "share_percent": "", "note": "x", "confirm": 1}

    response = client.post(reverse("admin:risk_exposurelimit_propose"), form)

    assert response.status_code == 400
    assert "Enter an industry code of the list" in response.content.decode()
    assert not LimitVersion.objects.exists()


def test_an_officer_cannot_open_the_proposal_page(client, loan_officer):
    client.force_login(loan_officer)

    assert client.get(reverse("admin:risk_exposurelimit_propose")).status_code == 403


def test_an_officer_sees_a_held_payout_and_releases_it_when_there_is_room(client, senior_officer, merchant):
    limit_in_force(K.PORTFOLIO, "", amount="5000")
    application = signed_application(merchant, LoanProductFactory(code="operating-held"), amount=Decimal("10000.00"))
    application_fund(application=application)
    client.force_login(senior_officer)

    held = client.get(reverse("admin:risk_payouthold_changelist")).content.decode()
    assert "Whole portfolio limit on The whole portfolio (version 1): 10,000.00 yuan would be committed" in held

    release = {"action": "release_selected", "_selected_action": [PayoutHold.objects.get().pk]}
    refused = client.post(reverse("admin:risk_payouthold_changelist"), release, follow=True).content.decode()
    assert "There is still no room" in refused
    assert not Loan.objects.exists()

    limit_in_force(K.PORTFOLIO, "", amount="50000")
    client.post(reverse("admin:risk_payouthold_changelist"), release)

    assert PayoutHold.objects.get().status == PayoutHold.Status.RELEASED
    assert Loan.objects.get().application_id == application.pk


def test_the_index_lists_held_payouts_with_their_count(client, senior_officer, merchant):
    limit_in_force(K.PORTFOLIO, "", amount="5000")
    application_fund(application=signed_application(merchant, LoanProductFactory(code="op-i"), amount=Decimal(10000)))
    client.force_login(senior_officer)

    page = client.get(reverse("admin:index")).content.decode()

    assert "Payouts held by a limit" in page


def test_each_page_of_a_limit_opens_with_its_history(book, client, risk_manager, merchant):
    limit_in_force(K.PORTFOLIO, "", amount="5000")
    application_fund(application=signed_application(merchant, LoanProductFactory(code="op-p"), amount=Decimal(10000)))
    version = LimitVersion.objects.filter(limit__kind=K.INDUSTRY).get()
    client.force_login(risk_manager)

    pages = {
        "limit": reverse("admin:risk_exposurelimit_change", args=[version.limit_id]),
        "versions": reverse("admin:risk_limitversion_changelist") + "?status=all",
        "version": reverse("admin:risk_limitversion_change", args=[version.pk]),
        "hold": reverse("admin:risk_payouthold_change", args=[PayoutHold.objects.get().pk]),
    }
    answers = {name: client.get(url) for name, url in pages.items()}

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(pages, 200)
    assert "Restaurants (H6210)" in answers["limit"].content.decode()
    assert "limit.portfolio" in answers["hold"].content.decode()
