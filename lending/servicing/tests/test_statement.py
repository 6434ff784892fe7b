"""The loan statement PDF: the owner downloads it; its text holds the schedule, the payments and the balance.

The loan: 12,000 yuan over 12 months at 12 % a year from 2025-01-15; instalment 1 (1,066.19) is due 2025-02-15.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from lending.servicing.selectors.daily import loan_amount_owed
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    from io import BytesIO

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_the_statement_lists_the_payments_their_allocations_and_the_balance(client, merchant):
    loan = active_loan(merchant)
    payment_record(
        loan=loan,
        amount=Decimal("1065.91"),
        received_on=datetime.date(2025, 2, 15),
        source="api",
        external_reference="bank-0215",
    )
    payment_record(
        loan=loan,
        amount=Decimal("500.00"),
        received_on=datetime.date(2025, 3, 1),
        source="api",
        external_reference="bank-0301",
    )
    client.force_login(merchant.owner)

    response = client.get(reverse("lending:loan-statement", args=[loan.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Loan Statement" in text
    assert "bank-0215" in text
    assert "bank-0301" in text
    assert "1,065.91" in text
    assert "500.00" in text
    # Principal outstanding: 12,000.00 less instalment 1's 943.61 and 398.22 of instalment 2's (500.00 less its
    # 101.78 interest for February's 28 days, paid first).
    assert "10,658.17" in text
    assert f"{loan_amount_owed(loan=loan):,.2f}" in text


def test_the_statement_shows_an_overdue_amount_on_a_past_due_line(client, merchant):
    loan = active_loan(merchant, start=datetime.date(2025, 1, 15))
    client.force_login(merchant.owner)

    text = pdf_text(client.get(reverse("lending:loan-statement", args=[loan.pk])).content)

    # Nothing paid and every line is past due today: the overdue total is the whole schedule.
    total = sum((row.payment_due for row in loan.instalments.all()), Decimal(0))
    assert text.count(f"{total:,.2f}") >= 2


def test_another_merchants_statement_is_not_found(client, merchant, other_merchant):
    loan = active_loan(merchant)
    client.force_login(other_merchant.owner)

    assert client.get(reverse("lending:loan-statement", args=[loan.pk])).status_code == 404


def test_anonymous_is_sent_to_log_in(client, merchant):
    loan = active_loan(merchant)

    response = client.get(reverse("lending:loan-statement", args=[loan.pk]))

    assert response.status_code == 302
    assert "login" in response["Location"]
