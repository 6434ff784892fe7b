"""The merchant's web journey: choose a product, amount and term with the quote, confirm, and see the decision."""

import datetime
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Notice
from lending.origination.models import LoanApplication
from lending.origination.tests.factories import apply_for

pytestmark = pytest.mark.django_db

APPLY = "/loans/apply/"
TERMS = "/loans/apply/operating-loan/"
CONFIRM = "/loans/apply/operating-loan/confirm/"


@pytest.fixture
def owner_client(client, verified_merchant_with_sales):
    client.force_login(verified_merchant_with_sales.owner)
    return client


def text(response) -> str:
    """The page's visible text, whitespace collapsed, for assertions a reader can follow."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def token_of(response) -> str:
    return re.search(r'name="token" value="([0-9a-f-]+)"', response.content.decode())[1]


def confirm(client, **terms):
    page = client.get(CONFIRM, {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment", **terms})
    assert page.status_code == 200
    return page


def submit(client, page, **overrides):
    data = {
        "amount": "20000.00",
        "term": "12",
        "repayment_method": "equal_instalment",
        "token": token_of(page),
        **overrides,
    }
    return client.post(CONFIRM, data)


# Screen 1.


def test_screen_one_lists_every_product_with_its_bounds_and_indicative_apr(owner_client, loan_products):
    response = owner_client.get(APPLY)

    assert response.status_code == 200
    page = text(response)
    for name in ("Short-term working capital", "Merchant operating loan", "Instalment loan", "Sales-share advance"):
        assert name in page
    assert "¥10,000.00 – ¥500,000.00" in page
    assert "Indicative APR" in page
    assert reverse("lending:apply-terms", args=["operating-loan"]) in response.content.decode()


def test_a_merchant_not_yet_verified_is_told_why_it_cannot_apply(client, merchant, loan_products):
    client.force_login(merchant.owner)

    response = client.get(APPLY)

    assert "must be verified before it can apply" in text(response)
    assert reverse("lending:apply-terms", args=["operating-loan"]) not in response.content.decode()


def test_the_pages_need_a_signed_in_merchant(client, loan_products, loan_officer):
    assert client.get(APPLY).status_code == 302
    assert client.get(APPLY)["Location"].startswith(reverse("account_login"))

    client.force_login(loan_officer)
    assert client.get(APPLY)["Location"] == reverse("admin:index")


# Screen 2.


def test_screen_two_shows_the_quote_for_the_terms_without_javascript(owner_client, loan_products):
    response = owner_client.get(TERMS, {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment"})

    page = text(response)
    assert response.status_code == 200
    assert "Annual percentage rate (APR)" in page
    assert re.search(r"\d+\.\d\d %", page)
    assert "Repayment schedule" in page
    assert len(re.findall(r"<tr>\s*<td>\d+</td>", response.content.decode())) == 12


def test_screen_two_names_the_field_and_the_products_range(owner_client, loan_products):
    response = owner_client.get(TERMS, {"amount": "900000", "term": "12"})

    assert "Enter an amount between 10,000.00 and 500,000.00 yuan" in text(response)


def test_an_unknown_product_is_not_found(owner_client, loan_products):
    assert owner_client.get("/loans/apply/no-such-thing/").status_code == 404


# Screen 3 and the decision.


def test_screen_three_summarises_the_loan_with_schedule_apr_and_a_form_token(owner_client, loan_products):
    response = confirm(owner_client)

    page = text(response)
    assert "You are applying for" in page
    assert "Merchant operating loan" in page
    assert "¥20,000.00" in page
    assert "12 months" in page
    assert "Equal instalments" in page
    assert "Annual percentage rate (APR)" in page
    assert uuid.UUID(token_of(response))
    assert "Submit application" in page


def test_screen_three_sends_bad_terms_back_to_screen_two(owner_client, loan_products):
    response = owner_client.get(CONFIRM, {"amount": "5", "term": "12"})

    assert response.status_code == 302
    assert response["Location"].startswith(TERMS + "?")


def test_submitting_shows_the_approved_offer_with_apr_schedule_and_expiry(
    owner_client, loan_products, decisions_approve
):
    response = submit(owner_client, confirm(owner_client))

    application = LoanApplication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("lending:application-detail", args=[application.pk])
    page = text(owner_client.get(response["Location"]))
    assert application.state == "approved"
    assert "Approved: your offer" in page
    assert f"{application.offer_apr:.2f} %" in page
    assert f"Offer valid until {timezone.localtime(application.offer_expires_at):%Y-%m-%d %H:%M}" in page
    assert application.offer_quote["schedule"][0]["due_date"] in page
    assert "Accept the offer" in page
    assert "Withdraw the application" in page


def test_a_double_click_on_submit_makes_one_application(owner_client, loan_products, decisions_approve):
    page = confirm(owner_client)

    first = submit(owner_client, page)
    second = submit(owner_client, page)

    assert LoanApplication.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_referred_application_says_what_happens_next(owner_client, loan_products, decisions_refer):
    response = owner_client.post(
        CONFIRM,
        {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment", "token": str(uuid.uuid4())},
        follow=True,
    )

    page = text(response)
    assert "Referred to an officer" in page
    assert "An officer will review your application within one working day" in page


def test_a_declined_application_gives_its_reasons_and_what_would_change_them(
    owner_client, loan_products, decisions_decline
):
    response = owner_client.post(
        CONFIRM,
        {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment", "token": str(uuid.uuid4())},
        follow=True,
    )

    page = text(response)
    assert "We cannot offer you this loan" in page
    assert "The score is below the lowest we lend at" in page
    assert "10000" not in page
    assert "What would change the outcome" in page
    assert "more months of steady sales" in page


def test_the_decline_reasons_are_shown_in_chinese_to_a_chinese_reader(owner_client, declined_application):
    owner_client.cookies["django_language"] = "zh-hans"

    response = owner_client.get(reverse("lending:application-detail", args=[declined_application.pk]))

    chinese = [reason["message_zh"] for reason in declined_application.decline_reasons]
    page = text(response)
    assert all(message in page for message in chinese if message)


def test_an_application_refused_by_the_service_shows_why_on_the_confirm_page(owner_client, approved_application):
    response = owner_client.post(
        CONFIRM,
        {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment", "token": str(uuid.uuid4())},
    )

    assert response.status_code == 200
    assert "already have an application in progress" in text(response)
    assert LoanApplication.objects.count() == 1


# The application's page and its actions.


def test_another_merchants_application_is_not_found(client, other_merchant_owner, approved_application):
    client.force_login(other_merchant_owner)
    url = reverse("lending:application-detail", args=[approved_application.pk])

    assert client.get(url).status_code == 404
    assert client.post(reverse("lending:application-accept", args=[approved_application.pk])).status_code == 404
    assert client.post(reverse("lending:application-withdraw", args=[approved_application.pk])).status_code == 404
    approved_application.refresh_from_db()
    assert approved_application.state == "approved"


def test_accepting_on_the_page_moves_to_the_contract(
    owner_client, approved_application, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(reverse("lending:application-accept", args=[approved_application.pk]), follow=True)

    approved_application.refresh_from_db()
    assert approved_application.state == "accepted"
    assert len(callbacks) == 1  # the contract task, after commit
    page = text(response)
    assert "Offer accepted." in page
    assert "Your contract is being prepared" in page


def test_accepting_an_expired_offer_says_so(owner_client, approved_application):
    LoanApplication.objects.filter(pk=approved_application.pk).update(
        offer_expires_at=timezone.now() - datetime.timedelta(minutes=5)
    )

    response = owner_client.post(reverse("lending:application-accept", args=[approved_application.pk]), follow=True)

    page = text(response)
    assert "This offer expired on" in page
    assert "Offer expired" in page
    approved_application.refresh_from_db()
    assert approved_application.state == "expired"


def test_withdrawing_on_the_page(owner_client, approved_application):
    response = owner_client.post(
        reverse("lending:application-withdraw", args=[approved_application.pk]),
        {"reason": "Not needed any more"},
        follow=True,
    )

    approved_application.refresh_from_db()
    assert approved_application.state == "withdrawn"
    assert f"Application #{approved_application.pk} is withdrawn." in text(response)


def test_a_contract_ready_to_sign_links_to_signing(owner_client, approved_application):
    # Set up as the contracts stage leaves it; the signing page itself is tested with the contracts.
    LoanApplication.objects.filter(pk=approved_application.pk).update(state="contracted")

    response = owner_client.get(reverse("lending:application-detail", args=[approved_application.pk]))

    assert "Your contract is ready to read and sign." in text(response)
    assert reverse("lending:contract-sign", kwargs={"pk": approved_application.pk}) in response.content.decode()


def test_the_list_shows_the_merchants_applications_only(
    owner_client, approved_application, other_verified_merchant_with_sales, loan_products, decisions_approve
):
    theirs = apply_for(other_verified_merchant_with_sales, loan_products["operating-loan"])

    response = owner_client.get(reverse("lending:application-list"))

    body = response.content.decode()
    assert reverse("lending:application-detail", args=[approved_application.pk]) in body
    assert reverse("lending:application-detail", args=[theirs.pk]) not in body


def test_the_notices_page_lists_the_merchants_notices_and_marks_them_read(owner_client, approved_application):
    response = owner_client.get(reverse("lending:notices"))

    assert f"Your application #{approved_application.pk} is approved" in text(response)

    owner_client.post(reverse("lending:notices"))
    assert not Notice.objects.filter(user=approved_application.merchant.owner, read_at__isnull=True).exists()


def test_a_confirm_page_without_a_valid_token_is_shown_again_with_a_fresh_one(owner_client, loan_products):
    response = owner_client.post(
        CONFIRM, {"amount": "20000.00", "term": "12", "repayment_method": "equal_instalment", "token": "x"}, follow=True
    )

    assert "This page was out of date" in text(response)
    assert uuid.UUID(token_of(response))
    assert not LoanApplication.objects.exists()


def test_a_sales_share_advance_is_applied_for_without_a_term(owner_client, loan_products, decisions_approve):
    url = "/loans/apply/sales-share-advance/confirm/"
    page = owner_client.get(url, {"amount": "30000.00"})
    assert "Share of daily sales" in text(page)

    response = owner_client.post(
        url, {"amount": "30000.00", "repayment_method": "sales_share", "token": token_of(page)}, follow=True
    )

    application = LoanApplication.objects.get()
    assert (application.state, application.term) == ("approved", None)
    assert f"{application.offer_apr:.2f} %" in text(response)


def test_a_fraud_signal_refers_the_application_without_telling_the_merchant_which(
    owner_client, verified_merchant_with_sales, loan_products, decisions_approve
):
    # A third application within 30 days trips the velocity signal.
    for _ in range(2):
        earlier = apply_for(verified_merchant_with_sales, loan_products["operating-loan"])
        owner_client.post(reverse("lending:application-withdraw", args=[earlier.pk]))
    application = apply_for(verified_merchant_with_sales, loan_products["operating-loan"])
    assert application.state == "referred"
    assert "fraud.application_velocity" in [reason["code"] for reason in application.decision.reasons]

    page = text(owner_client.get(reverse("lending:application-detail", args=[application.pk])))
    api = owner_client.get(f"/api/v1/applications/{application.pk}/").json()

    assert "An officer will review your application within one working day" in page
    assert "loan applications in the last 30 days" not in page
    assert "fraud" not in {reason["kind"] for reason in api["decision"]["reasons"]}
