"""The merchant's loan pages: its own loans only, each with the payout, the schedule and the first due date."""

import re

import pytest
from django.urls import reverse

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan

pytestmark = pytest.mark.django_db

LIST = reverse("lending:loan-list")


@pytest.fixture
def product(db):
    return LoanProductFactory(code="operating-pages")


def funded(merchant, product, capture) -> Loan:
    with capture(execute=True):
        loan = application_fund(application=signed_application(merchant, product))
    return Loan.objects.get(pk=loan.pk)


@pytest.fixture
def loan(merchant, product, django_capture_on_commit_callbacks) -> Loan:
    return funded(merchant, product, django_capture_on_commit_callbacks)


def test_merchant_lists_its_loans(
    client, merchant_owner, loan, other_merchant, product, django_capture_on_commit_callbacks
):
    others = funded(other_merchant, product, django_capture_on_commit_callbacks)
    client.force_login(merchant_owner)

    response = client.get(LIST)

    assert response.status_code == 200
    assert list(response.context["loans"]) == [loan]
    content = response.content.decode()
    assert reverse("lending:loan-detail", args=[loan.pk]) in content
    assert reverse("lending:loan-detail", args=[others.pk]) not in content
    assert "20,000.00" in content
    assert "Active" in content


def test_loan_page_shows_the_payout_the_schedule_and_the_first_due_date_highlighted(client, merchant_owner, loan):
    client.force_login(merchant_owner)

    response = client.get(reverse("lending:loan-detail", args=[loan.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    lines = list(loan.instalments.order_by("number"))
    first = lines[0]
    assert "¥19,800.00 was paid into your account **** " in content
    assert loan.disbursement.account_number not in content  # masked
    assert (
        f"Your first repayment of <strong>¥{first.payment_due:,.2f}</strong> is due on "
        f"<strong>{first.due_date.isoformat()}</strong>" in content
    )
    highlighted = re.search(
        r'<tr class="first-due" aria-current="true" data-number="1">\s*<td[^>]*>1</td>\s*<td[^>]*>([0-9-]+)</td>',
        content,
    )
    assert highlighted is not None
    assert highlighted.group(1) == first.due_date.isoformat()
    for line in lines:
        assert line.due_date.isoformat() in content
    assert f'<th class="num">{sum(line.principal_due for line in lines):,.2f}</th>' in content  # the total


def test_a_payout_on_its_way_and_a_delayed_one_say_so(
    client, merchant_owner, merchant, product, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_SIMULATION = "timeout"
    sending = funded(merchant, product, django_capture_on_commit_callbacks)
    settings.PAYOUT_SIMULATION = "fail"
    delayed = funded(merchant, product, django_capture_on_commit_callbacks)
    client.force_login(merchant_owner)

    assert (
        "is on its way to your account"
        in client.get(reverse("lending:loan-detail", args=[sending.pk])).content.decode()
    )
    page = client.get(reverse("lending:loan-detail", args=[delayed.pk])).content.decode()
    assert "Your bank could not receive the payout yet." in page
    assert "Awaiting payout" in page


def test_another_merchants_loan_is_not_found(client, other_merchant_owner, other_merchant, loan):
    client.force_login(other_merchant_owner)
    assert client.get(reverse("lending:loan-detail", args=[loan.pk])).status_code == 404
    assert client.get(reverse("lending:loan-detail", args=[loan.pk + 1000])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, loan):
    response = client.get(reverse("lending:loan-detail", args=[loan.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_officer_is_sent_to_the_back_office_and_a_partner_refused(client, loan_officer, partner_user, loan):
    client.force_login(loan_officer)
    assert client.get(LIST).url == reverse("admin:lending_loan_changelist")
    client.force_login(partner_user)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("lending:loan-detail", args=[loan.pk])).status_code == 403


def test_a_merchant_without_loans_is_told_where_they_will_appear(client, merchant_owner, merchant):
    client.force_login(merchant_owner)
    content = client.get(LIST).content.decode()
    assert "You have no loans yet." in content


def test_the_loan_page_reads_in_chinese(client, merchant_owner, loan):
    client.force_login(merchant_owner)
    response = client.get(reverse("lending:loan-detail", args=[loan.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    content = response.content.decode()
    assert 'lang="zh-CN"' in content
    assert loan.product.name_zh in content
    assert loan.product.name_en not in content
    # Amounts as Chinese writes them: grouped, with 元 after the figure.
    assert "19,800.00 元" in content
    assert "¥" not in content
