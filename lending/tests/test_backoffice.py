"""What officers read about a decision in the back office, and what merchants are told about its score."""

import html
import re

import pytest
from django.urls import reverse

from underwriting.models import Decision

pytestmark = pytest.mark.django_db

KYC_FAILURE = "Your business's identity check (KYC) is not verified"


def _rule_row(page: str, code: str) -> str:
    """The table row of one rule (its cells, tags stripped) in a rules table."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    cells = [re.sub(r"<[^>]+>", "|", row) for row in rows if f"<td>{code}</td>" in row]
    assert len(cells) == 1, f"no single row for {code}"
    return cells[0]


def test_a_passed_rule_reads_passed_on_the_application_without_its_failure_message(
    client, loan_officer, referred_application
):
    client.force_login(loan_officer)

    response = client.get(reverse("admin:lending_loanapplication_change", args=[referred_application.pk]))
    page = html.unescape(response.content.decode())
    row = _rule_row(page, "kyc-verified")

    assert "passed" in row
    assert KYC_FAILURE not in page


def test_a_passed_rule_reads_passed_on_the_decision_without_its_failure_message(
    client, risk_manager, referred_application
):
    client.force_login(risk_manager)
    decision = Decision.objects.get(application_id=referred_application.pk)

    page = html.unescape(client.get(reverse("admin:underwriting_decision_change", args=[decision.pk])).content.decode())
    row = _rule_row(page, "kyc-verified")

    assert "passed" in row
    assert KYC_FAILURE not in page


def _told(reasons: list[dict]) -> list[str]:
    return [reason[key] for reason in reasons for key in ("message_en", "message_zh")]


def test_a_declined_merchant_is_not_told_the_score_or_the_cut_off(declined_application):
    # decisions_decline sets both cut-offs to 10,000 points: the merchant reads which side of the line it fell.
    decision = declined_application.decision
    lead = [reason for reason in declined_application.decline_reasons if reason["code"] == "score-below-refer-level"]

    assert lead
    assert "below the lowest we lend at" in lead[0]["message_en"]
    assert not any(re.search(r"\d", text) for text in _told(lead))
    for text in _told(declined_application.decline_reasons):
        assert not re.search(rf"\b{int(decision.score)}\b", text)


def test_a_referred_merchant_is_not_told_the_score_or_the_band(referred_application):
    # decisions_refer puts every score between 0 and 10,000 points.
    decision = referred_application.decision
    lead = [reason for reason in decision.reasons if reason["code"] == "score-in-grey-band"]

    assert lead
    assert "range where an officer reviews" in lead[0]["message_en"]
    assert not any(re.search(r"\d", text) for text in _told(lead))
    for text in _told(decision.reasons):
        assert not re.search(rf"\b{int(decision.score)}\b", text)
