"""The officers' back office for applications, loans and payouts, driven through the test client.

The role permissions below are given to the personas here until ``accounts.roles`` grants them.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import with_perms
from core.admin.mixins import EstimatedCountPaginator, _estimated_rows
from core.models import Notice
from core.selectors.audit import audit_trail
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Disbursement, Loan, LoanState
from merchants.tests.factories import MerchantFactory
from merchants.tests.files.samples import add_required_documents
from sandbox.models import SandboxTransfer

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:lending_loanapplication_changelist")
LOAN_OFFICER_PERMS = (
    "lending.view_loanapplication",
    "lending.decide_application",
    "lending.view_loan",
    "lending.view_disbursement",
)
SENIOR_OFFICER_PERMS = (*LOAN_OFFICER_PERMS, "lending.second_approve_application", "lending.change_disbursement")


def change_url(application: LoanApplication) -> str:
    return reverse("admin:lending_loanapplication_change", args=[application.pk])


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def officer(loan_officer):
    return with_perms(loan_officer, *LOAN_OFFICER_PERMS)


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


@pytest.fixture
def senior(senior_officer):
    return with_perms(senior_officer, *SENIOR_OFFICER_PERMS)


@pytest.fixture
def product(db):
    return LoanProductFactory(code="operating-admin")


def make_applications(count: int, product, state: str = ApplicationState.REFERRED) -> list[LoanApplication]:
    return [
        LoanApplication.objects.create(
            merchant=MerchantFactory(),
            product=product,
            amount=Decimal("30000.00"),
            term=12,
            repayment_method=product.repayment_methods[0],
            state=state,
        )
        for _ in range(count)
    ]


# The list.


def test_changelist_query_count_does_not_grow_with_the_rows(officer_client, product, django_assert_max_num_queries):
    make_applications(5, product)
    with CaptureQueriesContext(connection) as five:
        response = officer_client.get(CHANGELIST)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5

    make_applications(45, product)
    with django_assert_max_num_queries(len(five.captured_queries)):
        response = officer_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50


def test_changelist_never_counts_the_whole_table(officer_client, product):
    make_applications(3, product)
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.get(CHANGELIST, {"queue": "referred"})
    assert response.context["cl"].full_result_count is None
    assert "Show counts" not in response.content.decode()
    unfiltered_counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "WHERE" not in q["sql"].upper()
    ]
    assert unfiltered_counts == []


def test_queues_list_referred_awaiting_second_approval_and_signed_not_funded(
    settings, officer_client, merchant, other_merchant, product
):
    settings.FOUR_EYES_THRESHOLD = Decimal("50000.00")
    referred = make_applications(1, product)[0]
    signed = signed_application(merchant, product)
    awaiting = signed_application(other_merchant, product, amount=Decimal("80000.00"))
    application_fund(application=awaiting)
    make_applications(2, product, state=ApplicationState.DECLINED)

    def queue(name: str) -> list[int]:
        response = officer_client.get(CHANGELIST, {"queue": name})
        return [application.pk for application in response.context["cl"].result_list]

    assert queue("referred") == [referred.pk]
    assert queue("second_approval") == [awaiting.pk]
    assert queue("to_fund") == [signed.pk]
    content = officer_client.get(CHANGELIST).content.decode()
    assert "Referred (1)" in content
    assert "Awaiting second approval (1)" in content
    assert "Signed, not funded (1)" in content


def test_staff_without_the_view_permission_are_refused(client, staff_without_role, product):
    make_applications(1, product)
    client.force_login(staff_without_role)
    assert client.get(CHANGELIST).status_code == 403


# One application's page.


@pytest.fixture
def referred(referred_application):
    add_required_documents(referred_application.merchant)
    return referred_application


def test_application_page_shows_the_decision_sales_documents_and_audit_trail(officer_client, referred):
    response = officer_client.get(change_url(referred))

    assert response.status_code == 200
    content = response.content.decode()
    decision = referred.decision
    assert f"<strong>{decision.grade}</strong>" in content
    assert str(decision.score) in content
    assert "monthly_sales_avg" in content  # a feature of the snapshot
    assert decision.snapshot["rules"][0]["code"] in content
    assert decision.reasons[0]["message_en"] in content
    assert "<svg" in content  # the sales bars
    document = referred.merchant.documents.first()
    assert reverse("merchants:document", kwargs={"pk": document.pk}) in content
    assert "application.submit" in content  # the audit trail
    # Buttons for a referred application, and the state is never an editable field.
    assert reverse("admin:lending_loanapplication_counter_offer", args=[referred.pk]) in content
    assert 'name="state"' not in content


def test_officer_approves_a_referred_application_from_its_page(officer_client, officer, referred):
    response = officer_client.post(reverse("admin:lending_loanapplication_approve", args=[referred.pk]), follow=True)

    assert "1 application(s) approved." in page_messages(response)
    referred.refresh_from_db()
    assert referred.state == ApplicationState.APPROVED
    assert referred.offered_by == officer
    assert list(audit_trail(referred))[-1].actor == officer


def test_approving_twice_shows_the_refusal_as_a_message(officer_client, referred):
    url = reverse("admin:lending_loanapplication_approve", args=[referred.pk])
    officer_client.post(url)

    response = officer_client.post(url, follow=True)

    assert any("Only a referred application can be decided" in text for text in page_messages(response))


def test_counter_offer_errors_from_the_service_are_shown_next_to_the_field(officer_client, referred):
    url = reverse("admin:lending_loanapplication_counter_offer", args=[referred.pk])
    form = officer_client.get(url)
    assert form.status_code == 200
    assert 'name="price"' in form.content.decode()

    response = officer_client.post(
        url, {"amount": "15000.00", "term": "12", "price": "0.99", "repayment_method": "", "note": ""}
    )

    assert response.status_code == 200
    assert "the product&#x27;s price grid" in response.content.decode()
    referred.refresh_from_db()
    assert referred.state == ApplicationState.REFERRED


def test_officer_makes_a_counter_offer(officer_client, referred):
    product = referred.product
    price = product.price_for("B")
    response = officer_client.post(
        reverse("admin:lending_loanapplication_counter_offer", args=[referred.pk]),
        {"amount": "15000.00", "term": "6", "price": str(price), "repayment_method": "", "note": "Smaller, shorter"},
        follow=True,
    )

    assert "Counter-offer made; the merchant can now accept it." in page_messages(response)
    referred.refresh_from_db()
    assert referred.state == ApplicationState.APPROVED
    assert referred.is_counter_offer
    assert (referred.offer_amount, referred.offer_term, referred.offer_price) == (Decimal("15000.00"), 6, price)


def test_declining_needs_a_reason_and_tells_the_merchant(officer_client, referred):
    url = reverse("admin:lending_loanapplication_decline", args=[referred.pk])
    empty = officer_client.post(url, {"reason": ""})
    assert "This field is required." in empty.content.decode()

    response = officer_client.post(url, {"reason": "Sales fell by half last quarter."}, follow=True)

    assert "Application declined; the merchant has been told why." in page_messages(response)
    referred.refresh_from_db()
    assert referred.state == ApplicationState.DECLINED
    assert list(audit_trail(referred))[-1].reason == "Sales fell by half last quarter."


def test_asking_for_documents_sends_the_merchant_a_notice(officer_client, referred):
    officer_client.post(
        reverse("admin:lending_loanapplication_request_documents", args=[referred.pk]),
        {"message": "Bank statements for the last six months."},
    )

    referred.refresh_from_db()
    assert referred.documents_requested == "Bank statements for the last six months."
    assert Notice.objects.filter(user=referred.merchant.owner, body__contains="Bank statements").exists()


def test_bulk_decline_asks_for_the_reason_first(officer_client, product, referred):
    response = officer_client.post(CHANGELIST, {"action": "decline_selected", "_selected_action": [referred.pk]})
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()

    officer_client.post(
        CHANGELIST,
        {"action": "decline_selected", "_selected_action": [referred.pk], "apply": "1", "reason": "Too new."},
    )
    referred.refresh_from_db()
    assert referred.state == ApplicationState.DECLINED


def test_staff_without_the_decide_permission_get_no_buttons_and_are_refused(client, staff_without_role, referred):
    viewer = with_perms(staff_without_role, "lending.view_loanapplication")
    client.force_login(viewer)

    content = client.get(change_url(referred)).content.decode()
    assert reverse("admin:lending_loanapplication_approve", args=[referred.pk]) not in content
    assert client.post(reverse("admin:lending_loanapplication_approve", args=[referred.pk])).status_code == 403
    referred.refresh_from_db()
    assert referred.state == ApplicationState.REFERRED


def test_officer_funds_a_signed_application_from_its_page(
    officer_client, merchant, product, django_capture_on_commit_callbacks
):
    application = signed_application(merchant, product)

    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(
            reverse("admin:lending_loanapplication_fund", args=[application.pk]), follow=True
        )

    assert "1 loan(s) made; the payouts are on their way." in page_messages(response)
    assert Loan.objects.get(application=application).state == LoanState.ACTIVE


def test_contract_pdf_opens_for_an_officer(officer_client, merchant, product):
    from django.core.files.base import ContentFile

    application = signed_application(merchant, product)
    contract = application.contracts.get()
    contract.pdf.save("c.pdf", ContentFile(b"%PDF-1.7 test"), save=True)

    page = officer_client.get(change_url(application)).content.decode()
    url = reverse("admin:lending_loanapplication_contract_pdf", args=[application.pk, contract.pk])
    assert url in page
    response = officer_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.7 test"


# Loans and payouts.


@pytest.fixture
def failed_payout(settings, merchant, product, django_capture_on_commit_callbacks) -> Disbursement:
    settings.PAYOUT_SIMULATION = "fail"
    application = signed_application(merchant, product)
    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application)
    settings.PAYOUT_SIMULATION = "ok"
    return Disbursement.objects.get(loan=loan)


def test_failed_payouts_are_filterable_and_show_the_error(officer_client, failed_payout):
    response = officer_client.get(reverse("admin:lending_disbursement_changelist"), {"status__exact": "failed"})

    assert [d.pk for d in response.context["cl"].result_list] == [failed_payout.pk]
    assert "account is closed" in response.content.decode()


def test_senior_officer_retries_a_failed_payout_from_the_list(
    client, senior, failed_payout, django_capture_on_commit_callbacks
):
    client.force_login(senior)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lending_disbursement_changelist"),
            {"action": "retry_payout", "_selected_action": [failed_payout.pk]},
            follow=True,
        )

    assert "1 payout(s) queued again." in page_messages(response)
    failed_payout.refresh_from_db()
    assert failed_payout.status == Disbursement.Status.SUCCEEDED
    assert SandboxTransfer.objects.count() == 1
    assert Loan.objects.get().state == LoanState.ACTIVE


def test_loan_officer_cannot_retry_a_payout(officer_client, failed_payout):
    response = officer_client.get(reverse("admin:lending_disbursement_changelist"))
    assert "retry_payout" not in response.content.decode()
    assert officer_client.post(reverse("admin:lending_disbursement_retry", args=[failed_payout.pk])).status_code == 403


def test_retry_button_on_the_payout_page(client, senior, failed_payout, django_capture_on_commit_callbacks):
    client.force_login(senior)
    url = reverse("admin:lending_disbursement_retry", args=[failed_payout.pk])
    assert url in client.get(reverse("admin:lending_disbursement_change", args=[failed_payout.pk])).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)

    failed_payout.refresh_from_db()
    assert failed_payout.status == Disbursement.Status.SUCCEEDED


def test_loan_page_shows_the_schedule_and_the_payout(
    officer_client, merchant, product, django_capture_on_commit_callbacks
):
    application = signed_application(merchant, product)
    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application)

    listing = officer_client.get(reverse("admin:lending_loan_changelist"), {"state__exact": "active"})
    assert [row.pk for row in listing.context["cl"].result_list] == [loan.pk]
    content = officer_client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    first = loan.instalments.order_by("number").first()
    assert first.due_date.strftime("%b") in content or first.due_date.isoformat() in content
    assert "Paid out" in content
    assert "loan.activate" in content


# Counting a million rows without counting them.


@pytest.mark.postgres
def test_the_paginator_takes_an_unfiltered_tables_size_from_the_statistics(product, monkeypatch):
    make_applications(3, product)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lending_loanapplication")
    estimate = _estimated_rows(LoanApplication.objects.all())
    assert estimate is not None
    assert estimate >= 0
    assert _estimated_rows(LoanApplication.objects.filter(state="referred")) is None

    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", -1)
    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(LoanApplication.objects.order_by("pk"), 100).count
    assert count == estimate
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:lending_loanapplication_changelist",
        "admin:lending_loan_changelist",
        "admin:lending_disbursement_changelist",
    ],
)
def test_searching_by_text_or_by_number_works_on_every_list(officer_client, product, changelist):
    applications = make_applications(2, product)
    url = reverse(changelist)

    assert officer_client.get(url, {"q": "not-a-number"}).status_code == 200
    assert officer_client.get(url, {"q": str(applications[0].pk)}).status_code == 200


def test_searching_applications_by_merchant_name(officer_client, product):
    applications = make_applications(2, product)
    response = officer_client.get(CHANGELIST, {"q": applications[1].merchant.legal_name})
    assert [row.pk for row in response.context["cl"].result_list] == [applications[1].pk]
