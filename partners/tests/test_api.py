"""The partner API as a partner bank uses it: its offers (read, accept, decline), its portfolio, an offered
merchant's file — scoped to its own rows, its token good for nothing else, and signed requests when it asks."""

import datetime
import json
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import make_user
from core.exceptions import StateConflict
from core.models import AuditEvent
from lending.servicing.models import Instalment, LoanState
from merchants.choices import SalesSource
from merchants.tests.factories import MerchantFactory, SalesDayFactory
from partners.models import OfferState
from partners.services.offers import partner_offer_accept, partner_offer_decline
from partners.services.webhooks import partner_api_token_rotate, webhook_signature
from partners.tests.factories_api import FundingPartnerFactory, co_funded_loan, offer_to
from tests.concurrency import CONFLICT, race


@pytest.fixture
def bank_a(db):
    return FundingPartnerFactory(code="bank-a")


@pytest.fixture
def bank_b(db):
    return FundingPartnerFactory(code="bank-b")


def client_of(partner) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=partner.api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# Offers.


def test_a_partner_lists_only_the_loans_offered_to_it_filtered_by_state(bank_a, bank_b):
    open_offer = offer_to(bank_a)
    declined = offer_to(bank_a, state=OfferState.DECLINED)
    offer_to(bank_b)

    everything = client_of(bank_a).get(reverse("api:partner-offer-list")).json()["results"]
    waiting = client_of(bank_a).get(reverse("api:partner-offer-list"), {"state": "offered"}).json()["results"]

    assert sorted(row["id"] for row in everything) == sorted([open_offer.pk, declined.pk])
    assert [row["id"] for row in waiting] == [open_offer.pk]
    assert waiting[0]["principal"] == "35000.00"
    assert waiting[0]["share"] == "0.7000"
    assert waiting[0]["amount"] == "50000.00"
    assert waiting[0]["interest_rate"] == "0.045000"


def test_an_unknown_state_filter_names_the_allowed_values(bank_a):
    response = client_of(bank_a).get(reverse("api:partner-offer-list"), {"state": "maybe"})

    assert response.status_code == 400
    assert "offered, accepted, declined, lapsed" in response.json()["fields"]["state"][0]


def test_another_partners_offer_answers_exactly_like_a_missing_one(bank_a, bank_b):
    theirs = offer_to(bank_b)
    client = client_of(bank_a)

    not_mine = client.get(reverse("api:partner-offer-detail", args=[theirs.pk]))
    missing = client.get(reverse("api:partner-offer-detail", args=[theirs.pk + 1000]))

    assert not_mine.status_code == missing.status_code == 404
    assert not_mine.content == missing.content


def test_accepting_records_the_partners_reference_and_one_audit_row(bank_a):
    offer = offer_to(bank_a)

    response = client_of(bank_a).post(
        reverse("api:partner-offer-accept", args=[offer.pk]), {"reference": "DB-2026-000381"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "accepted"
    assert response.json()["reference"] == "DB-2026-000381"
    offer.refresh_from_db()
    assert (offer.state, offer.partner_reference) == (OfferState.ACCEPTED, "DB-2026-000381")
    assert offer.answered_at is not None
    audit = AuditEvent.objects.filter(object_id=str(offer.pk), action="partner_offer.accept")
    assert [(row.from_state, row.to_state, row.actor_id) for row in audit] == [
        ("offered", "accepted", bank_a.api_user_id)
    ]


def test_declining_keeps_the_reason(bank_a):
    offer = offer_to(bank_a)

    response = client_of(bank_a).post(
        reverse("api:partner-offer-decline", args=[offer.pk]),
        {"reference": "DB-2026-000382", "reason": "Sector limit reached."},
        format="json",
    )

    assert response.status_code == 200
    offer.refresh_from_db()
    assert (offer.state, offer.reason) == (OfferState.DECLINED, "Sector limit reached.")


@pytest.mark.parametrize(
    ("url_name", "body", "field"),
    [
        ("api:partner-offer-accept", {}, "reference"),
        ("api:partner-offer-accept", {"reference": ""}, "reference"),
        ("api:partner-offer-decline", {"reference": "DB-1"}, "reason"),
    ],
)
def test_an_answer_without_a_required_field_is_400_naming_it_and_changes_nothing(bank_a, url_name, body, field):
    offer = offer_to(bank_a)

    response = client_of(bank_a).post(reverse(url_name, args=[offer.pk]), body, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    offer.refresh_from_db()
    assert offer.state == OfferState.OFFERED


def test_an_offer_past_its_answer_window_is_409_offer_lapsed(bank_a):
    offer = offer_to(bank_a, answer_in=datetime.timedelta(minutes=-1))

    response = client_of(bank_a).post(
        reverse("api:partner-offer-accept", args=[offer.pk]), {"reference": "DB-1"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "offer_lapsed"
    offer.refresh_from_db()
    assert (offer.state, offer.partner_reference) == (OfferState.LAPSED, "")


def test_an_offer_already_answered_is_409(bank_a):
    offer = offer_to(bank_a, state=OfferState.DECLINED)

    response = client_of(bank_a).post(
        reverse("api:partner-offer-accept", args=[offer.pk]), {"reference": "DB-1"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "offer_answered"


def test_another_partner_cannot_answer_an_offer_not_even_through_the_service(bank_a, bank_b):
    offer = offer_to(bank_b)

    response = client_of(bank_a).post(
        reverse("api:partner-offer-accept", args=[offer.pk]), {"reference": "DB-1"}, format="json"
    )
    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        partner_offer_accept(offer=offer, by=bank_a.api_user, reference="DB-1")
    offer.refresh_from_db()
    assert offer.state == OfferState.OFFERED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_accept_and_a_decline_racing_on_one_offer_one_wins_and_the_other_is_told():
    bank = FundingPartnerFactory(code="bank-race")
    offer = offer_to(bank)
    calls = iter(
        [
            lambda: partner_offer_accept(offer=offer, by=bank.api_user, reference="R-1").state,
            lambda: partner_offer_decline(offer=offer, by=bank.api_user, reference="R-2", reason="no").state,
        ]
    )
    attempts = [next(calls), next(calls)]
    outcomes = race(lambda: attempts.pop()(), times=2, conflicts=(StateConflict,))

    assert outcomes.count(CONFLICT) == 1
    offer.refresh_from_db()
    assert offer.state in {OfferState.ACCEPTED, OfferState.DECLINED}
    assert AuditEvent.objects.filter(object_id=str(offer.pk), action__startswith="partner_offer.").count() == 1


# The portfolio.


def test_the_portfolio_shows_each_co_funded_loan_with_the_partners_share_and_balance(bank_a, bank_b):
    loan = co_funded_loan(bank_a, state=LoanState.OVERDUE)
    loan.days_past_due = 6
    loan.save(update_fields=["days_past_due"])
    first = Instalment.objects.get(loan=loan, number=1)
    first.principal_paid = first.principal_due  # 1,000.00 of the 12,000.00 repaid
    first.save(update_fields=["principal_paid"])
    co_funded_loan(bank_b)
    co_funded_loan(None)

    rows = client_of(bank_a).get(reverse("api:partner-loan-list")).json()["results"]

    assert [
        (
            row["id"],
            row["state"],
            row["days_past_due"],
            row["share"],
            row["share_principal"],
            row["outstanding_principal"],
            row["outstanding_share_principal"],
        )
        for row in rows
    ] == [(loan.pk, "overdue", 6, "0.7000", "8400.00", "11000.00", "7700.00")]


@pytest.mark.parametrize("owner", ["other_partner", "platform_only"])
def test_a_loan_the_partner_has_no_share_in_is_not_found(bank_a, bank_b, owner):
    loan = co_funded_loan(bank_b if owner == "other_partner" else None)

    response = client_of(bank_a).get(reverse("api:partner-loan-detail", args=[loan.pk]))

    assert response.status_code == 404


def test_one_co_funded_loan_in_detail(bank_a):
    loan = co_funded_loan(bank_a)

    response = client_of(bank_a).get(reverse("api:partner-loan-detail", args=[loan.pk]))

    assert response.status_code == 200
    assert response.json()["share_principal"] == "8400.00"
    assert response.json()["interest_rate"] == "0.045000"


# The merchant file.


def test_the_merchant_file_is_masked_and_shows_only_platform_sales(bank_a):
    merchant = MerchantFactory(legal_name="保密商贸有限公司")
    today = timezone.localdate()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=10)
    SalesDayFactory(merchant=merchant, date=last_month, gross_sales=Decimal("5123.45"), refunds=Decimal("23.45"))
    SalesDayFactory(
        merchant=merchant,
        date=last_month + datetime.timedelta(days=1),
        gross_sales=Decimal("98765.43"),
        source=SalesSource.DECLARED,
    )
    offer = offer_to(bank_a, merchant=merchant)

    response = client_of(bank_a).get(reverse("api:partner-offer-merchant", args=[offer.pk]))

    assert response.status_code == 200, response.json()
    body = response.json()
    text = json.dumps(body, ensure_ascii=False)
    assert merchant.credit_code not in text
    assert merchant.legal_rep_id_number not in text
    assert merchant.legal_name not in text
    assert "98765.43" not in text  # declared sales never reach a partner
    assert body["credit_code"] == f"{merchant.credit_code[:2]}{'*' * 12}{merchant.credit_code[-4:]}"
    assert body["legal_rep_id"] == merchant.masked_id_number
    assert body["months_active"] == 26
    assert body["decision"]["features"] == {"months_active": 26, "refund_ratio": "0.0120"}
    assert [reason["code"] for reason in body["decision"]["reasons"]] == ["refund_ratio"]
    assert body["sales"]["months"][-1]["gross_sales"] == "5123.45"
    assert body["sales"]["months"][-1]["net_sales"] == "5100.00"
    assert body["sales"]["summary"]["gross_sales"] == "5123.45"
    assert len(body["sales"]["months"]) == 12


def test_the_merchant_of_another_partners_offer_is_not_found(bank_a, bank_b):
    theirs = offer_to(bank_b)

    response = client_of(bank_a).get(reverse("api:partner-offer-merchant", args=[theirs.pk]))

    assert response.status_code == 404


# Authentication and scope.


def test_a_partners_token_answers_only_under_the_partner_api(bank_a):
    client = client_of(bank_a)

    elsewhere = client.get(reverse("api:loan-list"))
    products = client.get(reverse("api:product-list"))
    own = client.get(reverse("api:partner-offer-list"))

    assert elsewhere.status_code == products.status_code == 403
    assert elsewhere.json()["message"] == (
        "This token belongs to a partner's API account and answers only under /api/v1/partner/."
    )
    assert own.status_code == 200


def test_a_partner_account_without_a_funding_partner_is_refused_with_a_clear_message(db):
    stray = make_user(Role.PARTNER, email="api@nobody.example")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=stray).key}")

    response = client.get(reverse("api:partner-offer-list"))

    assert response.status_code == 403
    assert response.json()["message"] == (
        "This API account does not belong to a funding partner: only a partner bank's account can do this."
    )


def test_a_merchant_is_refused_on_the_partner_api(merchant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=merchant.owner).key}")

    assert client.get(reverse("api:partner-offer-list")).status_code == 403


def test_rotating_the_api_token_stops_the_old_one_at_once(bank_a, risk_manager):
    old = client_of(bank_a)
    assert old.get(reverse("api:partner-offer-list")).status_code == 200

    token = partner_api_token_rotate(partner=bank_a, by=risk_manager, reason="suspected leak")

    assert old.get(reverse("api:partner-offer-list")).status_code == 401
    new = APIClient()
    new.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert new.get(reverse("api:partner-offer-list")).status_code == 200
    assert AuditEvent.objects.filter(object_id=str(bank_a.pk), action="partner.api_token_rotated").count() == 1


# Request signing.


@pytest.fixture
def signing_bank(bank_a):
    bank_a.request_signing_required = True
    bank_a.save(update_fields=["request_signing_required"])
    return bank_a


def _signed(partner, body: bytes, *, at: float | None = None, secret: str | None = None) -> dict:
    timestamp = str(int(time.time() if at is None else at))
    signature = webhook_signature(secret=secret or partner.webhook_secret, timestamp=timestamp, body=body)
    return {"X-Partner-Timestamp": timestamp, "X-Partner-Signature": f"v1={signature}"}


def test_a_partner_that_signs_must_sign_every_request(signing_bank):
    response = client_of(signing_bank).get(reverse("api:partner-offer-list"))

    assert response.status_code == 403
    assert response.json()["code"] == "signature_invalid"


def test_a_signed_request_is_answered(signing_bank):
    offer = offer_to(signing_bank)
    body = json.dumps({"reference": "DB-9"}).encode()

    response = client_of(signing_bank).generic(
        "POST",
        reverse("api:partner-offer-accept", args=[offer.pk]),
        body,
        content_type="application/json",
        headers=_signed(signing_bank, body),
    )

    assert response.status_code == 200, response.json()
    assert (
        client_of(signing_bank).get(reverse("api:partner-offer-list"), headers=_signed(signing_bank, b"")).status_code
        == 200
    )


@pytest.mark.parametrize("tamper", ["body", "stale", "wrong_secret"])
def test_a_tampered_stale_or_wrongly_keyed_request_is_refused(signing_bank, tamper):
    offer = offer_to(signing_bank)
    signed_body = json.dumps({"reference": "DB-9"}).encode()
    sent_body = json.dumps({"reference": "DB-10"}).encode() if tamper == "body" else signed_body
    headers = _signed(
        signing_bank,
        signed_body,
        at=time.time() - 301 if tamper == "stale" else None,
        secret="not-the-secret" if tamper == "wrong_secret" else None,
    )

    response = client_of(signing_bank).generic(
        "POST",
        reverse("api:partner-offer-accept", args=[offer.pk]),
        sent_body,
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 403
    assert response.json()["code"] == "signature_invalid"
    offer.refresh_from_db()
    assert offer.state == OfferState.OFFERED
