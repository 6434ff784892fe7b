"""Risk managers set agreements in admin: saving makes the next version; a broken rule is named on the form."""

from decimal import Decimal

import pytest
from django.urls import reverse

from lending.catalogue.services.demo import products_seed
from partners.models import CoLendingAgreement
from partners.tests.factories import AGREEMENT_DEFAULTS, agreement, funding_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def operating_loan(db):
    return {product.code: product for product in products_seed()}["operating-loan"]


def _form(partner, product, **changes):
    data = {**AGREEMENT_DEFAULTS, **changes}
    return {
        "partner": partner.pk,
        "products": [product.pk],
        "grades": data["grades"],
        **{name: str(value) for name, value in data.items() if name != "grades"},
        "fee_rule": "platform",
        "note": "first agreement",
    }


def test_a_risk_manager_saving_the_form_makes_the_next_version(client, risk_manager, operating_loan):
    partner = funding_partner("bank-a")
    agreement(partner, [operating_loan], by=risk_manager)
    client.force_login(risk_manager)

    response = client.post(
        reverse("admin:partners_colendingagreement_add"), _form(partner, operating_loan, share=Decimal("0.5000"))
    )

    assert response.status_code == 302
    current = CoLendingAgreement.objects.get(partner=partner, is_active=True)
    assert (current.version, current.share, current.created_by) == (2, Decimal("0.5000"), risk_manager)
    assert list(current.products.all()) == [operating_loan]
    page = client.get(reverse("admin:partners_colendingagreement_change", args=[current.pk]))
    assert "1,000,000.00" in page.content.decode()  # the cap, 25 % of the tier-1 capital


def test_a_share_leaving_the_platform_under_thirty_percent_is_named_on_the_form(client, risk_manager, operating_loan):
    partner = funding_partner("bank-a")
    client.force_login(risk_manager)

    response = client.post(
        reverse("admin:partners_colendingagreement_add"), _form(partner, operating_loan, share=Decimal("0.8000"))
    )

    assert response.status_code == 200
    assert "share" in response.context["adminform"].form.errors
    assert not CoLendingAgreement.objects.exists()


def test_an_officer_sees_agreements_but_cannot_set_one(client, loan_officer, risk_manager, operating_loan):
    partner = funding_partner("bank-a")
    agreement(partner, [operating_loan], by=risk_manager)
    client.force_login(loan_officer)
    assert client.get(reverse("admin:partners_colendingagreement_changelist")).status_code == 200
    assert client.get(reverse("admin:partners_colendingagreement_add")).status_code == 403
