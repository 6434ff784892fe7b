"""Partner banks hear of their loans turning overdue or defaulting; the sandbox bank answers offers by webhook."""

import datetime
import json

import pytest

from lending.catalogue.services.demo import products_seed
from lending.origination.services.applications import application_accept
from lending.servicing.models import LoanState
from partners.models import OfferState, PartnerOffer, WebhookEvent, WebhookEventType
from partners.services.webhooks import (
    HEADER_SIGNATURE,
    loans_moved_notify,
    webhook_body,
    webhook_signed_headers,
)
from partners.tests.factories import agreement, funding_partner, offered_application
from partners.tests.factories_api import co_funded_loan
from sandbox.partner import sandbox_partner_ensure, sandbox_webhook_transport

pytestmark = pytest.mark.django_db
ON = datetime.date(2026, 11, 30)


def test_a_co_funded_loan_turning_overdue_then_defaulting_tells_its_partner_once_each():
    bank = funding_partner("bank-a")
    loan = co_funded_loan(bank, state=LoanState.OVERDUE)
    alone = co_funded_loan(None, state=LoanState.OVERDUE)

    assert loans_moved_notify(action="loan.mark_overdue", loan_ids=[loan.pk, alone.pk], on=ON) == 1
    loans_moved_notify(action="loan.mark_overdue", loan_ids=[loan.pk], on=ON)  # the same day again
    loans_moved_notify(action="loan.default", loan_ids=[loan.pk], on=ON)
    loans_moved_notify(action="loan.cure", loan_ids=[loan.pk], on=ON)  # nothing to tell

    events = WebhookEvent.objects.filter(partner=bank).order_by("pk")
    assert [(event.event, event.key) for event in events] == [
        (WebhookEventType.OVERDUE, f"overdue:{loan.pk}:2026-11-30"),
        (WebhookEventType.DEFAULT, f"defaulted:{loan.pk}"),
    ]
    assert events[0].payload["share"] == "0.7000"


def test_the_sandbox_bank_answers_an_offer_it_receives_signed_and_refuses_a_forged_one(
    risk_manager, django_capture_on_commit_callbacks, partner_user
):
    product = {product.code: product for product in products_seed()}["operating-loan"]
    bank = sandbox_partner_ensure(api_user=partner_user, by=risk_manager)
    agreement(bank, [product], by=risk_manager)
    application = offered_application(product)
    with django_capture_on_commit_callbacks(execute=False):
        application_accept(application=application, by=application.merchant.owner)
    event = WebhookEvent.objects.get(partner=bank, event=WebhookEventType.OFFER)
    body = webhook_body(event)
    headers = webhook_signed_headers(partner=bank, body=body)

    forged = {**headers, HEADER_SIGNATURE: "v1=" + "0" * 64}
    assert sandbox_webhook_transport(url=bank.webhook_url, body=body, headers=forged, timeout=1) == 401
    assert PartnerOffer.objects.get(application=application).state == OfferState.OFFERED

    assert sandbox_webhook_transport(url=bank.webhook_url, body=body, headers=headers, timeout=1) == 200
    offer = PartnerOffer.objects.get(application=application)
    assert (offer.state, json.loads(body)["data"]["offer_id"]) == (OfferState.ACCEPTED, offer.pk)
    application.refresh_from_db()
    assert [lender["code"] for lender in application.lenders] == ["platform", "demo-bank"]
