"""What the merchant is told after accepting and signing agrees with where the application stands: no "contract being
prepared" beside "ready to sign", no "paying out" while a second officer has still to approve."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD
from lending.origination.models import ApplicationState, Contract
from lending.origination.tests.factories import BROWSER, IP, prepared_contract

pytestmark = pytest.mark.django_db


def text(response) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def owner_client(client, verified_merchant_with_sales):
    client.force_login(verified_merchant_with_sales.owner)
    return client


@pytest.fixture
def contract(accepted_application, django_capture_on_commit_callbacks) -> Contract:
    return prepared_contract(accepted_application, django_capture_on_commit_callbacks)


def sign_on_the_page(client, contract: Contract, capture):
    data = {"document_id": str(contract.document_id), "consent": "on", "password": DEFAULT_PASSWORD}
    with capture(execute=True):
        response = client.post(
            reverse("lending:contract-sign", kwargs={"pk": contract.application_id}),
            data,
            REMOTE_ADDR=IP,
            HTTP_USER_AGENT=BROWSER,
        )
    return client.get(response["Location"])


def test_once_the_contract_is_ready_accepting_says_so_and_nothing_says_it_is_being_prepared(
    owner_client, approved_application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("lending:application-accept", args=[approved_application.pk]))
    page = text(owner_client.get(response["Location"]))

    approved_application.refresh_from_db()
    assert approved_application.state == ApplicationState.CONTRACTED
    assert "Offer accepted." in page
    assert "Your contract is ready to read and sign." in page
    assert "being prepared" not in page


def test_a_signed_loan_below_the_four_eyes_amount_shows_its_payout(
    owner_client, contract, django_capture_on_commit_callbacks
):
    page = text(sign_on_the_page(owner_client, contract, django_capture_on_commit_callbacks))

    assert "You have signed your loan contract." in page
    assert re.search(r"Your loan is paid out: ¥[0-9,.]+ reached your settlement account on \d{4}-\d{2}-\d{2}\.", page)


def test_a_loan_waiting_for_a_second_officer_is_never_said_to_be_paying_out(
    owner_client, contract, settings, django_capture_on_commit_callbacks
):
    settings.FOUR_EYES_THRESHOLD = Decimal("10000.00")

    page = text(sign_on_the_page(owner_client, contract, django_capture_on_commit_callbacks))

    contract.application.refresh_from_db()
    assert contract.application.state == ApplicationState.AWAITING_SECOND_APPROVAL
    assert "Loans of this size are checked by a second officer before they are paid out" in page
    assert "paying out" not in page
    assert "paid out to your settlement account" not in page


def test_a_notice_written_in_chinese_reads_in_english_and_back(client, merchant_owner):
    from django.utils import translation

    from core.services.notices import notify

    with translation.override("zh-hans"):
        notify(
            user_id=merchant_owner.pk,
            title=translation.gettext("Payment of %(amount)s yuan received") % {"amount": "1,200.00"},
        )
    client.force_login(merchant_owner)

    english = text(client.get(reverse("lending:notices"), headers={"accept-language": "en"}))
    chinese = text(client.get(reverse("lending:notices"), headers={"accept-language": "zh-hans"}))

    assert "Payment of 1,200.00 yuan received" in english
    assert "已收到 1,200.00 元还款" in chinese
