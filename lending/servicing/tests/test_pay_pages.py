"""Paying on the web: every debit is confirmed on a page naming the amount and the account before it is asked,
and the loan's page says what a partial prepayment did to the schedule and which option was applied."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from lending.servicing.models import CollectionRequest, DeferralRequest
from lending.servicing.services.repayments import loan_prepay_partial, payment_record
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def loan_in_arrears(merchant):
    # Started 40 days ago: instalment 1 fell due about ten days ago and is what is due now.
    return active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=40))


def pay(client, loan, **fields):
    form = {"choice": "due", "amount": "", "keep": "term", "token": str(uuid.uuid4()), **fields}
    return client.post(reverse("lending:repayment-pay", args=[loan.pk]), form)


def test_paying_shows_the_amount_and_the_masked_account_and_asks_nothing_yet(client, merchant_owner, loan_in_arrears):
    client.force_login(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due
    account = loan_in_arrears.merchant.settlement_account_number

    response = pay(client, loan_in_arrears)

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<dd id="confirm-amount">¥{due:,.2f}</dd>' in content
    assert f"**** {account[-4:]}" in content
    assert account not in content
    assert loan_in_arrears.merchant.settlement_bank_name in content
    assert f'name="confirmed_amount" value="{due}"' in content
    assert not CollectionRequest.objects.exists()


def test_confirming_the_amount_shown_asks_the_rail(
    client, merchant_owner, loan_in_arrears, django_capture_on_commit_callbacks
):
    client.force_login(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due

    with django_capture_on_commit_callbacks(execute=True):
        response = pay(client, loan_in_arrears, confirmed_amount=str(due))

    assert response.status_code == 302
    collection = CollectionRequest.objects.get()
    assert (collection.purpose, collection.amount) == ("due", due)


def test_an_amount_that_changed_since_the_confirmation_is_shown_again_and_not_asked(
    client, merchant_owner, loan_in_arrears
):
    client.force_login(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due

    response = pay(client, loan_in_arrears, confirmed_amount=str(due - D("1.00")))

    assert response.status_code == 200
    content = response.content.decode()
    assert "What you owe has changed since you last looked" in content
    assert f'<dd id="confirm-amount">¥{due:,.2f}</dd>' in content
    assert not CollectionRequest.objects.exists()


def test_a_payment_above_the_payoff_is_refused_before_the_confirmation(client, merchant_owner, loan_in_arrears):
    client.force_login(merchant_owner)

    response = pay(client, loan_in_arrears, choice="other", amount="999999.00")

    assert response.status_code == 400
    assert "is more than the whole loan" in response.content.decode()
    assert not CollectionRequest.objects.exists()


def test_the_confirmation_of_a_prepayment_names_the_option_kept(client, merchant_owner, merchant):
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=10))
    client.force_login(merchant_owner)

    response = pay(client, loan, choice="prepay", amount="3000.00", keep="instalment")

    assert response.status_code == 200
    content = response.content.decode()
    assert '<dd id="confirm-amount">¥3,000.00</dd>' in content
    assert '<dd id="confirm-keep">the same instalment, with a shorter term</dd>' in content


def _prepaid(merchant, keep: str):
    """The known loan (12,000 at 12 % from 2025-01-15), instalment 1 paid, then 3,050.89 repaid on 1 March."""
    loan = active_loan(merchant)
    payment_record(
        loan=loan, amount=D("1065.91"), received_on=datetime.date(2025, 2, 15), source="api", external_reference="i1"
    )
    before = list(loan.instalments.order_by("number"))
    loan_prepay_partial(
        loan=loan,
        amount=D("3050.89"),
        on=datetime.date(2025, 3, 1),
        external_reference="pp",
        by=None,
        keep=keep,
        source="collection",
    )
    return loan, before


def test_after_a_prepayment_keeping_the_term_the_page_says_the_instalment_is_lower(client, merchant_owner, merchant):
    loan, before = _prepaid(merchant, "term")
    after = list(loan.instalments.order_by("number"))
    client.force_login(merchant_owner)

    content = client.get(reverse("lending:loan-detail", args=[loan.pk])).content.decode()

    # Paid instalment 1 is as it was; 2 is the settlement line of 1 March; 3 to 13 were re-computed.
    assert (after[0].number, after[0].due_date, after[0].payment_due) == (1, before[0].due_date, before[0].payment_due)
    assert [row.number for row in after] == list(range(1, 14))
    assert "On 2025-03-01 you repaid ¥3,000.00 of principal early and chose <strong>a lower instalment</strong>" in (
        content
    )
    assert (
        f"instalments 3 to 13 were re-computed, the next one ¥{after[2].payment_due:,.2f} instead of "
        f"¥{before[1].payment_due:,.2f}." in content
    )
    assert re.search(r'data-number="2">.*?Paid · repaid early', content, flags=re.S)
    assert 'class=" recomputed" data-number="13"' in content


def test_after_a_prepayment_keeping_the_instalment_the_page_says_the_term_is_shorter(client, merchant_owner, merchant):
    loan, before = _prepaid(merchant, "instalment")
    loan.refresh_from_db()
    client.force_login(merchant_owner)

    content = client.get(reverse("lending:loan-detail", args=[loan.pk])).content.decode()

    assert "chose <strong>a shorter term</strong>, keeping the instalment" in content
    assert (
        f"the loan now ends on {loan.maturity_date.isoformat()} instead of {before[-1].due_date.isoformat()}."
        in content
    )
    assert loan.maturity_date < before[-1].due_date


def test_a_pending_deferral_shows_on_its_instalment(client, merchant_owner, merchant):
    loan = active_loan(merchant, start=timezone.localdate() - datetime.timedelta(days=10))
    first = loan.instalments.get(number=1)
    asked_for = first.due_date + datetime.timedelta(days=14)
    DeferralRequest.objects.create(
        loan=loan, instalment=first, requested_due_date=asked_for, reason="a slow month", requested_by=merchant_owner
    )
    client.force_login(merchant_owner)

    content = client.get(reverse("lending:loan-detail", args=[loan.pk])).content.decode()

    row = re.search(r'data-number="1">(.*?)</tr>', content, flags=re.S).group(1)
    assert f"Deferral to {asked_for.isoformat()} asked for: an officer is deciding" in row
    assert "Defer this instalment" not in row


def test_while_a_payment_is_pending_no_other_is_confirmed_or_asked(
    client, merchant_owner, loan_in_arrears, django_capture_on_commit_callbacks
):
    client.force_login(merchant_owner)
    due = loan_in_arrears.instalments.get(number=1).payment_due
    with django_capture_on_commit_callbacks(execute=True):
        pay(client, loan_in_arrears, confirmed_amount=str(due))

    response = pay(client, loan_in_arrears, choice="other", amount="100.00")

    assert response.status_code == 409
    assert 'id="collection-pending"' in response.content.decode()
    assert CollectionRequest.objects.count() == 1
