"""The sandbox partner bank answers the offers made to it by its stated rule, through the partners' service."""

from decimal import Decimal

import pytest

from lending.catalogue.services.demo import products_seed
from lending.origination.services.applications import application_accept
from partners.models import OfferState, PartnerOffer
from partners.tests.factories import agreement, funding_partner, offered_application
from sandbox.partner import sandbox_partners_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def operating_loan(db):
    return {product.code: product for product in products_seed()}["operating-loan"]


@pytest.fixture
def demo_bank(operating_loan, risk_manager):
    bank = funding_partner("demo-bank")
    agreement(bank, [operating_loan], by=risk_manager, grades=["A", "B", "C", "D"])
    return bank


def _accepted(application, capture):
    with capture(execute=False):
        application_accept(application=application, by=application.merchant.owner)
    return application


@pytest.mark.parametrize(
    ("amount", "grade", "state", "reason"),
    [
        (Decimal("20000.00"), "B", OfferState.ACCEPTED, ""),
        (Decimal("150000.00"), "B", OfferState.DECLINED, "Above the 100,000.00 yuan we take per loan."),
        (Decimal("20000.00"), "D", OfferState.DECLINED, "Grade D is outside our appetite (we take A to C)."),
    ],
)
def test_the_sandbox_bank_answers_by_its_rule(
    demo_bank, operating_loan, django_capture_on_commit_callbacks, amount, grade, state, reason
):
    application = _accepted(
        offered_application(operating_loan, amount=amount, grade=grade), django_capture_on_commit_callbacks
    )

    sandbox_partners_answer(application)

    offer = PartnerOffer.objects.get(application=application)
    assert (offer.state, offer.reason, offer.partner_reference) == (state, reason, f"SBX-{offer.pk:06d}")
    application.refresh_from_db()
    expected = ["platform", "demo-bank"] if state == OfferState.ACCEPTED else ["platform"]
    assert [lender["code"] for lender in application.lenders] == expected


def test_the_sandbox_leaves_other_banks_offers_alone(operating_loan, risk_manager, django_capture_on_commit_callbacks):
    real_bank = funding_partner("real-bank")
    agreement(real_bank, [operating_loan], by=risk_manager)
    application = _accepted(offered_application(operating_loan), django_capture_on_commit_callbacks)

    sandbox_partners_answer(application)

    assert PartnerOffer.objects.get(application=application).state == OfferState.OFFERED
