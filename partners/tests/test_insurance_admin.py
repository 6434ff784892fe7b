"""Co-insurance in the back office: agreements added through the service (refusals on the field), the claims list
with the portfolio's figures, and the claim actions."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import Loan, LoanState
from lending.servicing.tests.factories import make_loan
from partners.models import ClaimState, InsuranceAgreement, InsuranceClaim
from partners.services.insurance import insurance_claims_open
from partners.tests.factories_insurance import InsurerFactory, agreement_make, cover_make

pytestmark = pytest.mark.django_db

ADD = reverse("admin:partners_insuranceagreement_add")
CLAIMS = reverse("admin:partners_insuranceclaim_changelist")


def _form(insurer, product, **changes) -> dict:
    return {
        "insurer": insurer.pk,
        "products": [product.pk],
        "grades": ["A", "B", "C"],
        "cover_share": "0.8000",
        "premium_rate": "0.008000",
        "premium_payer": "platform",
        "claim_after_dpd": "60",
        "note": "first terms",
        **changes,
    }


def test_a_risk_manager_adds_a_version_and_a_bad_value_is_shown_on_its_field(client, risk_manager):
    insurer, product = InsurerFactory(code="pingan"), LoanProductFactory()
    client.force_login(risk_manager)

    refused = client.post(ADD, _form(insurer, product, cover_share="1.5000"))
    added = client.post(ADD, _form(insurer, product))

    assert refused.status_code == 200
    assert "cover_share" in refused.context["adminform"].form.errors
    assert added.status_code == 302
    agreement = InsuranceAgreement.objects.get()
    assert (agreement.version, agreement.created_by, agreement.grades) == (1, risk_manager, ["A", "B", "C"])


def test_officers_see_agreements_but_only_risk_managers_add_them(client, loan_officer, senior_officer):
    client.force_login(senior_officer)
    assert client.get(ADD).status_code == 403
    client.force_login(loan_officer)
    assert client.get(reverse("admin:partners_insuranceagreement_changelist")).status_code == 200


@pytest.fixture
def claim(merchant, risk_manager):
    product = LoanProductFactory(code="admin-claims")
    agreement = agreement_make(InsurerFactory(code="pingan"), [product], by=risk_manager)
    loan = make_loan(merchant, product, state=LoanState.DEFAULTED)
    cover_make(loan, agreement)
    Loan.objects.filter(pk=loan.pk).update(days_past_due=95)
    insurance_claims_open(on=datetime.date(2027, 6, 1))
    return InsuranceClaim.objects.get(loan=loan)


def test_the_claims_list_shows_the_loss_before_and_after_insurance(client, loan_officer, claim):
    client.force_login(loan_officer)
    page = client.get(CLAIMS).content.decode()

    # 12,000.00 principal + 4 x 100.00 interest due by 1 June 2027, no payment: all the platform's.
    assert 'data-lender="all"' in page
    assert "12,400.00" in page
    assert 'data-claims="opened"' in page


def test_a_senior_officer_submits_then_records_the_insurers_payment(client, senior_officer, claim):
    client.force_login(senior_officer)
    submit = client.post(
        CLAIMS,
        {"action": "submit_selected", ACTION_CHECKBOX_NAME: [claim.pk], "confirm": "1", "note": "file complete"},
    )
    settle = client.post(
        CLAIMS,
        {
            "action": "settle_selected",
            ACTION_CHECKBOX_NAME: [claim.pk],
            "apply": "1",
            "amount": "9920.00",
            "reference": "PA-ADMIN-1",
        },
    )

    assert submit.status_code == 302
    assert settle.status_code == 302
    claim.refresh_from_db()
    assert (claim.state, claim.settled_amount, claim.insurer_reference) == (
        ClaimState.SETTLED,
        Decimal("9920.00"),
        "PA-ADMIN-1",
    )


def test_a_loan_officer_has_no_claim_actions(client, loan_officer, claim):
    client.force_login(loan_officer)
    client.post(CLAIMS, {"action": "submit_selected", ACTION_CHECKBOX_NAME: [claim.pk], "confirm": "1", "note": "x"})
    claim.refresh_from_db()
    assert claim.state == ClaimState.OPENED
