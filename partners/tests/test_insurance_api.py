"""The insurer's claims API: its own submitted claims only, settle and reject with errors naming the field."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.tests.factories import with_perms
from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import Loan, LoanState
from lending.servicing.tests.factories import make_loan
from partners.models import ClaimState, InsuranceClaim
from partners.services.insurance import claim_submit, insurance_claims_open
from partners.tests.factories_insurance import agreement_make, cover_make, insurer_with_account
from tests.api.conftest import api_conventions


@pytest.fixture(autouse=True)
def _conventions():
    with api_conventions():
        yield


def _client(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _claim(merchant, risk_manager, senior_officer, *, code: str = "pingan", submit: bool = True) -> InsuranceClaim:
    insurer = insurer_with_account(code)
    product = LoanProductFactory(code=f"api-{code}")
    agreement = agreement_make(insurer, [product], by=risk_manager, claim_after_dpd=30)
    loan = make_loan(merchant, product, state=LoanState.DEFAULTED)
    cover_make(loan, agreement)
    Loan.objects.filter(pk=loan.pk).update(days_past_due=95)
    insurance_claims_open(on=datetime.date(2027, 6, 1))
    claim = InsuranceClaim.objects.get(loan=loan)
    if submit:
        claim_submit(claim=claim, by=with_perms(senior_officer, "partners.act_on_claim"))
    return claim


@pytest.mark.django_db
def test_the_insurer_lists_and_reads_its_submitted_claims_but_not_opened_ones(merchant, risk_manager, senior_officer):
    submitted = _claim(merchant, risk_manager, senior_officer)
    opened = _claim(merchant, risk_manager, senior_officer, code="pingan", submit=False)
    client = _client(submitted.cover.insurer.api_user)

    listed = client.get("/api/v1/partner/claims/").json()["results"]
    detail = client.get(f"/api/v1/partner/claims/{submitted.pk}/")

    assert [row["id"] for row in listed] == [submitted.pk]
    assert detail.status_code == 200
    assert detail.json()["claimable"] == f"{submitted.claimable:.2f}"
    assert detail.json()["state"] == "submitted"
    assert client.get(f"/api/v1/partner/claims/{opened.pk}/").status_code == 404


@pytest.mark.django_db
def test_another_insurers_claim_is_not_found_and_a_bank_is_refused(
    merchant, risk_manager, senior_officer, partner_user
):
    claim = _claim(merchant, risk_manager, senior_officer)
    other = _client(insurer_with_account("other").api_user)
    bank = _client(partner_user)

    for method, path, body in (
        ("get", f"/api/v1/partner/claims/{claim.pk}/", None),
        ("post", f"/api/v1/partner/claims/{claim.pk}/settle/", {"amount": "10.00", "reference": "X"}),
        ("post", f"/api/v1/partner/claims/{claim.pk}/reject/", {"reason": "no"}),
    ):
        assert getattr(other, method)(path, body, format="json").status_code == 404
        assert getattr(bank, method)(path, body, format="json").status_code == 403
    assert other.get("/api/v1/partner/claims/").json()["results"] == []
    claim.refresh_from_db()
    assert claim.state == ClaimState.SUBMITTED


@pytest.mark.django_db
def test_settling_records_the_payment_and_a_second_settlement_is_a_conflict(merchant, risk_manager, senior_officer):
    claim = _claim(merchant, risk_manager, senior_officer)
    client = _client(claim.cover.insurer.api_user)
    url = f"/api/v1/partner/claims/{claim.pk}/settle/"

    too_much = client.post(url, {"amount": f"{claim.claimable + Decimal('0.01'):.2f}", "reference": "R"}, format="json")
    settled = client.post(url, {"amount": "5000.00", "reference": "PA-CLM-1"}, format="json")
    again = client.post(url, {"amount": "5000.00", "reference": "PA-CLM-2"}, format="json")

    assert too_much.status_code == 400
    assert list(too_much.json()["fields"]) == ["amount"]
    assert settled.status_code == 200, settled.content
    assert settled.json()["settled_amount"] == "5000.00"
    assert settled.json()["insurer_reference"] == "PA-CLM-1"
    assert again.status_code == 409


@pytest.mark.django_db
def test_rejecting_needs_a_reason(merchant, risk_manager, senior_officer):
    claim = _claim(merchant, risk_manager, senior_officer)
    client = _client(claim.cover.insurer.api_user)
    url = f"/api/v1/partner/claims/{claim.pk}/reject/"

    missing = client.post(url, {"reason": "   "}, format="json")
    rejected = client.post(url, {"reason": "excluded: fraud", "reference": "PA-R-9"}, format="json")

    assert missing.status_code == 400
    assert "reason" in missing.json()["fields"]
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["reason"] == "excluded: fraud"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_settlement_and_a_rejection_racing_on_one_claim_cannot_both_pass(merchant, risk_manager, senior_officer):
    claim = _claim(merchant, risk_manager, senior_officer)
    insurer_user = claim.cover.insurer.api_user
    officer = with_perms(senior_officer, "partners.act_on_claim")
    barrier = threading.Barrier(8)
    outcomes: list = []

    def attempt(number: int) -> None:
        from partners.services.insurance import claim_reject, claim_settle

        try:
            barrier.wait(timeout=30)
            if number % 2:
                claim_settle(claim=claim, amount=Decimal("100.00"), reference=f"S{number}", by=insurer_user)
            else:
                claim_reject(claim=claim, reason=f"R{number}", by=officer)
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - every outcome is reported to the test
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) - {"ok"} == {"StateConflict"}
    claim.refresh_from_db()
    assert claim.state in {ClaimState.SETTLED, ClaimState.REJECTED}
    from core.models import AuditEvent

    assert (
        AuditEvent.objects.filter(
            object_id=str(claim.pk), action__in=["insurance_claim.settle", "insurance_claim.reject"]
        ).count()
        == 1
    )
