"""The back office as officers find it: the index's links to their pages, what they read about a decision, and what
merchants are told about its score."""

import html
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from core.admin.pages import back_office_pages_registered
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


# The admin index.


def _index_links(client) -> dict[str, str]:
    """The back-office pages linked on the admin index: key -> address."""
    page = client.get(reverse("admin:index")).content.decode()
    return {
        key: html.unescape(href)
        for key, href in re.findall(r'<tr class="page-([\w-]+)">\s*<th scope="row"><a href="([^"]+)"', page)
    }


def _with_permissions(user, *permissions: str):
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)  # permissions are cached on the instance


@pytest.mark.parametrize(
    ("persona", "permissions"),
    [
        ("loan_officer", ()),
        ("senior_officer", ()),
        ("risk_manager", ()),
        ("staff_without_role", ("underwriting.view_scorecard",)),
        ("staff_without_role", ("lending.view_loan", "lending.view_deferralrequest")),
        ("staff_without_role", ()),
    ],
)
def test_the_index_links_each_back_office_page_to_exactly_those_who_may_open_it(client, request, persona, permissions):
    user = _with_permissions(request.getfixturevalue(persona), *permissions)
    client.force_login(user)

    links = _index_links(client)

    opened = 0
    for page in back_office_pages_registered():
        url = page.url()
        status = client.get(url).status_code
        assert status in (200, 403), (page.key, status)
        assert (page.key in links) == (status == 200), page.key
        if status == 200:
            assert links[page.key] == url
            opened += 1
    assert len(links) == opened


def test_an_officer_finds_the_queues_and_the_monitoring_page_on_the_index(client, loan_officer, referred_application):
    client.force_login(loan_officer)

    page = client.get(reverse("admin:index")).content.decode()
    links = _index_links(client)

    assert links["referred"] == reverse("admin:lending_loanapplication_changelist") + "?queue=referred"
    assert links["collections"] == reverse("lending_collections")
    assert links["monitoring"] == reverse("underwriting_monitoring")
    assert re.search(r'<tr class="page-referred">.*?1 waiting', page, flags=re.S)


def test_a_merchant_is_shown_no_back_office_page(client, merchant_owner):
    client.force_login(merchant_owner)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert _index_links(client) == {}


def test_the_index_speaks_the_officers_language(client, loan_officer):
    client.force_login(loan_officer)
    client.cookies["django_language"] = "zh-hans"

    page = client.get(reverse("admin:index")).content.decode()

    assert "工作队列与后台页面" in page
    assert "转交人工审核的申请" in page
    assert "评分卡监控" in page
