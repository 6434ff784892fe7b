"""Bank transfers officers record from the bank statement: booked at once up to the four-eyes amount, above it
only when a second officer approves; the reference is booked once, and the date is real."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import Role, make_user
from core.exceptions import StateConflict
from core.models import AuditEvent
from lending.servicing.models import BankTransfer, Payment
from lending.servicing.services.bank_transfers import bank_transfer_approve, bank_transfer_record, bank_transfer_reject
from lending.servicing.tests.factories import active_loan

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = timezone.localdate


@pytest.fixture
def loan(merchant):
    return active_loan(merchant, start=TODAY() - datetime.timedelta(days=40))


@pytest.fixture
def second_senior(db):
    return make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)


@pytest.fixture(autouse=True)
def _four_eyes_amount(settings):
    settings.BANK_TRANSFER_FOUR_EYES_AMOUNT = D("1000.00")


def _record(loan, by, amount="500.00", reference="BANK-1", **changes):
    return bank_transfer_record(
        loan=loan,
        amount=amount,
        received_on=changes.pop("received_on", TODAY()),
        bank_reference=reference,
        by=by,
        **changes,
    )


def test_a_transfer_up_to_the_four_eyes_amount_is_booked_at_once(loan, loan_officer):
    transfer = _record(loan, loan_officer, amount="1000.00")

    assert transfer.status == BankTransfer.Status.BOOKED
    payment = Payment.objects.get()
    assert (payment.amount, payment.source, payment.external_reference) == (D("1000.00"), "officer", "BANK-1")
    assert (transfer.payment_id, payment.recorded_by) == (payment.pk, loan_officer)


def test_a_larger_transfer_waits_for_a_second_officer(loan, senior_officer, second_senior):
    transfer = _record(loan, senior_officer, amount="1000.01")

    assert transfer.status == BankTransfer.Status.AWAITING_APPROVAL
    assert not Payment.objects.exists()
    with pytest.raises(PermissionDenied):
        bank_transfer_approve(transfer=transfer, by=senior_officer)
    assert not Payment.objects.exists()

    booked = bank_transfer_approve(transfer=transfer, by=second_senior)

    assert (booked.status, booked.decided_by) == (BankTransfer.Status.BOOKED, second_senior)
    assert Payment.objects.get().amount == D("1000.01")
    assert AuditEvent.objects.filter(action="bank_transfer.book").count() == 1
    with pytest.raises(StateConflict):
        bank_transfer_approve(transfer=transfer, by=second_senior)
    assert Payment.objects.count() == 1


def test_a_loan_officer_may_record_but_not_approve(loan, loan_officer, senior_officer):
    transfer = _record(loan, senior_officer, amount="5000.00")

    with pytest.raises(PermissionDenied):
        bank_transfer_approve(transfer=transfer, by=loan_officer)


def test_a_rejected_transfer_books_nothing(loan, senior_officer, second_senior):
    transfer = _record(loan, senior_officer, amount="5000.00")

    with pytest.raises(ValidationError) as no_reason:
        bank_transfer_reject(transfer=transfer, by=second_senior, reason=" ")
    rejected = bank_transfer_reject(transfer=transfer, by=second_senior, reason="Not on the statement.")

    assert "reason" in no_reason.value.message_dict
    assert (rejected.status, rejected.rejection_reason) == (BankTransfer.Status.REJECTED, "Not on the statement.")
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"received_on": TODAY() + datetime.timedelta(days=1)}, "received_on"),
        ({"received_on": "2026-01-01"}, "received_on"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"reference": " "}, "bank_reference"),
        ({"reference": "x" * 65}, "bank_reference"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(loan, loan_officer, changes, field):
    with pytest.raises(ValidationError) as refused:
        _record(loan, loan_officer, **changes)

    assert field in refused.value.message_dict
    assert not BankTransfer.objects.exists()
    assert not Payment.objects.exists()


def test_a_date_before_the_last_serviced_day_is_refused(loan, loan_officer):
    loan.serviced_on = TODAY()
    loan.save()

    with pytest.raises(ValidationError) as refused:
        _record(loan, loan_officer, received_on=TODAY() - datetime.timedelta(days=3))

    assert "received_on" in refused.value.message_dict
    assert not BankTransfer.objects.exists()


def test_a_bank_reference_is_booked_once(loan, merchant, loan_officer, other_merchant):
    _record(loan, loan_officer)
    other_loan = active_loan(other_merchant, start=TODAY() - datetime.timedelta(days=40))

    with pytest.raises(ValidationError) as refused:
        _record(other_loan, loan_officer)

    assert "bank_reference" in refused.value.message_dict
    assert Payment.objects.count() == 1


def test_a_merchant_cannot_record_a_transfer(loan, merchant_owner):
    with pytest.raises(PermissionDenied):
        _record(loan, merchant_owner)
    assert not BankTransfer.objects.exists()


def test_an_officer_records_a_transfer_in_the_back_office(client, loan, loan_officer):
    client.force_login(loan_officer)
    url = reverse("admin:lending_banktransfer_add")
    form = {"loan": loan.pk, "amount": "300.00", "received_on": TODAY().isoformat(), "bank_reference": "STMT-9"}

    created = client.post(url, form)
    duplicate = client.post(url, form)

    assert created.status_code == 302, created.content.decode()[:2000]
    assert BankTransfer.objects.get().status == BankTransfer.Status.BOOKED
    assert duplicate.status_code == 200
    assert "already booked" in duplicate.content.decode()
    assert BankTransfer.objects.count() == Payment.objects.count() == 1


def test_a_second_officer_approves_in_the_back_office(client, loan, senior_officer, second_senior):
    transfer = _record(loan, senior_officer, amount="5000.00")
    client.force_login(second_senior)

    response = client.post(
        reverse("admin:lending_banktransfer_changelist"),
        {"action": "approve_selected", "_selected_action": [transfer.pk], **CONFIRM},
    )

    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == BankTransfer.Status.BOOKED
