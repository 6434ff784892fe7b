"""The merchant's loans over the API: its own only, cursor pages, and one loan with its schedule.

Officers and partners get 403 (partners will see the loans they co-fund once co-lending exists).
"""

import pytest
from rest_framework.test import APIClient

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan

pytestmark = pytest.mark.django_db

LIST = "/api/v1/loans/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def product(db):
    return LoanProductFactory(code="operating-api")


def funded(merchant, product, capture, **kwargs) -> Loan:
    with capture(execute=True):
        loan = application_fund(application=signed_application(merchant, product, **kwargs))
    return Loan.objects.get(pk=loan.pk)


def test_merchant_lists_only_its_own_loans(
    api, merchant_owner, merchant, other_merchant, product, django_capture_on_commit_callbacks
):
    mine = funded(merchant, product, django_capture_on_commit_callbacks)
    funded(other_merchant, product, django_capture_on_commit_callbacks)
    api.force_authenticate(merchant_owner)

    response = api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    row = body["results"][0]
    assert row["state"] == "active"
    assert row["principal"] == "20000.00"
    assert row["net_disbursement"] == "19800.00"
    assert row["first_due_date"] == mine.instalments.order_by("number").first().due_date.isoformat()
    assert row["payout"]["status"] == "succeeded"
    assert row["payout"]["account"].startswith("**** ")
    assert merchant.settlement_account_number not in response.content.decode()


def test_loans_are_paged_by_cursor(api, merchant_owner, merchant, product, django_capture_on_commit_callbacks):
    loans = [funded(merchant, product, django_capture_on_commit_callbacks) for _ in range(3)]
    api.force_authenticate(merchant_owner)

    first = api.get(LIST, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [loans[2].pk, loans[1].pk]
    assert [row["id"] for row in second["results"]] == [loans[0].pk]
    assert second["next"] is None


def test_one_loan_comes_with_its_schedule(api, merchant_owner, merchant, product, django_capture_on_commit_callbacks):
    loan = funded(merchant, product, django_capture_on_commit_callbacks)
    api.force_authenticate(merchant_owner)

    response = api.get(f"{LIST}{loan.pk}/")

    assert response.status_code == 200
    schedule = response.json()["schedule"]
    lines = list(loan.instalments.order_by("number"))
    assert [line["due_date"] for line in schedule] == [line.due_date.isoformat() for line in lines]
    assert schedule[0] == {
        "number": 1,
        "due_date": lines[0].due_date.isoformat(),
        "principal": f"{lines[0].principal_due:.2f}",
        "interest": f"{lines[0].interest_due:.2f}",
        "fee": f"{lines[0].fee_due:.2f}",
        "payment": f"{lines[0].payment_due:.2f}",
        "paid": "0.00",
        "status": "due",
    }
    assert sum(float(line["principal"]) for line in schedule) == pytest.approx(20000.00)


def test_another_merchants_loan_answers_404(
    api, other_merchant_owner, other_merchant, merchant, product, django_capture_on_commit_callbacks
):
    loan = funded(merchant, product, django_capture_on_commit_callbacks)
    api.force_authenticate(other_merchant_owner)

    response = api.get(f"{LIST}{loan.pk}/")

    assert response.status_code == 404
    assert api.get(LIST).json()["results"] == []


@pytest.mark.parametrize("persona", ["loan_officer", "partner_user"])
def test_officers_and_partners_get_403(api, request, persona):
    api.force_authenticate(request.getfixturevalue(persona))
    assert api.get(LIST).status_code == 403
    assert api.get(f"{LIST}1/").status_code == 403


def test_anonymous_clients_must_authenticate(api):
    assert api.get(LIST).status_code == 401
