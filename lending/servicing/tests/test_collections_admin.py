"""The officers' collections work: the queue by days-past-due bucket, recording a contact, asking for a defaulted
loan's write-off, and deciding deferral requests from their admin list (write-offs themselves: test_write_off)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import with_perms
from core.selectors.audit import audit_trail
from lending.servicing.models import CollectionContact, Concession, DeferralRequest, Loan, LoanState
from lending.servicing.services.collections import collection_contact_record, deferral_request
from lending.servicing.tests.factories import active_loan

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db
QUEUE = "lending_collections"
DAY = datetime.timedelta(days=1)


def in_arrears(merchant, days_past_due: int, state=LoanState.OVERDUE) -> Loan:
    loan = active_loan(merchant, state=state)
    # Test set-up: the daily job computes days past due; here it is set directly.
    Loan.objects.filter(pk=loan.pk).update(days_past_due=days_past_due)
    loan.refresh_from_db()
    return loan


@pytest.fixture
def collector(loan_officer):
    return with_perms(loan_officer, "lending.add_collectioncontact", "lending.change_loan")


# Services.


def test_a_promise_to_pay_is_recorded_and_audited_on_the_loan(merchant, collector):
    loan = in_arrears(merchant, 12)
    promised_on = timezone.localdate() + 3 * DAY

    contact = collection_contact_record(
        loan=loan,
        by=collector,
        channel="phone",
        outcome="promise_to_pay",
        promised_amount=Decimal("1066.19"),
        promised_on=promised_on,
        note="Will pay after the weekend.",
    )

    assert (contact.promised_amount, contact.promised_on, contact.contacted_by) == (
        Decimal("1066.19"),
        promised_on,
        collector,
    )
    event = audit_trail(loan).get()
    assert (event.action, event.data["outcome"], event.data["days_past_due"]) == (
        "collections.contact",
        "promise_to_pay",
        12,
    )


def test_a_promise_without_amount_and_date_names_both_fields(merchant, collector):
    loan = in_arrears(merchant, 12)

    with pytest.raises(ValidationError) as error:
        collection_contact_record(loan=loan, by=collector, channel="phone", outcome="promise_to_pay")

    assert set(error.value.message_dict) == {"promised_amount", "promised_on"}
    assert not CollectionContact.objects.exists()


def test_an_unknown_channel_is_refused_with_the_choices(merchant, collector):
    loan = in_arrears(merchant, 12)

    with pytest.raises(ValidationError) as error:
        collection_contact_record(loan=loan, by=collector, channel="fax", outcome="no_answer")

    assert "phone, sms, email, visit" in error.value.message_dict["channel"][0]


def test_a_contact_needs_the_permission(merchant, staff_without_role):
    loan = in_arrears(merchant, 12)

    with pytest.raises(PermissionDenied):
        collection_contact_record(loan=loan, by=staff_without_role, channel="phone", outcome="no_answer")


# The queue.


def test_the_queue_filtered_by_bucket_shows_only_that_buckets_loans_with_their_figures(
    client, merchant, other_merchant, collector
):
    early = in_arrears(merchant, 12)
    late = in_arrears(other_merchant, 45)
    collection_contact_record(loan=late, by=collector, channel="sms", outcome="no_answer")
    client.force_login(collector)

    everything = client.get(reverse(QUEUE))
    bucket = client.get(reverse(QUEUE), {"bucket": "31-60"})

    assert everything.status_code == 200
    assert {loan.pk for loan in everything.context["cl"].result_list} == {early.pk, late.pk}
    rows = list(bucket.context["cl"].result_list)
    assert [loan.pk for loan in rows] == [late.pk]
    # Every instalment of a loan started 2025-01-15 is past due: the whole schedule is overdue.
    assert rows[0].amount_overdue == sum((row.payment_due for row in late.instalments.all()), Decimal(0))
    page = bucket.content.decode()
    assert "苏州乙餐饮有限公司" in page
    assert "杭州甲商贸有限公司" not in page
    assert "31-60 (1)" in page


def test_the_queue_needs_the_view_loan_permission(client, staff_without_role):
    client.force_login(staff_without_role)

    assert client.get(reverse(QUEUE)).status_code == 403


def test_the_contact_form_records_a_contact_shown_in_the_history(client, merchant, collector):
    loan = in_arrears(merchant, 12)
    client.force_login(collector)
    url = reverse("lending_collections_loan", args=[loan.pk])

    response = client.post(
        url,
        {
            "do": "contact",
            "contact-channel": "phone",
            "contact-outcome": "promise_to_pay",
            "contact-promised_amount": "800.00",
            "contact-promised_on": (timezone.localdate() + 2 * DAY).isoformat(),
            "contact-note": "Pays on Friday.",
        },
    )

    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Pays on Friday." in page
    assert "800.00" in page
    assert CollectionContact.objects.get().contacted_by == collector


def test_the_contact_form_shows_the_field_error_and_saves_nothing(client, merchant, collector):
    loan = in_arrears(merchant, 12)
    client.force_login(collector)

    response = client.post(
        reverse("lending_collections_loan", args=[loan.pk]),
        {"do": "contact", "contact-channel": "phone", "contact-outcome": "promise_to_pay"},
    )

    assert response.status_code == 400
    assert "A promise to pay needs the amount promised" in response.content.decode()
    assert not CollectionContact.objects.exists()


def test_the_write_off_button_asks_for_a_write_off_and_the_loan_stays_defaulted(client, merchant, collector):
    loan = in_arrears(merchant, 120, state=LoanState.DEFAULTED)
    client.force_login(collector)
    url = reverse("lending_collections_loan", args=[loan.pk])
    assert 'id="write-off-preview"' in client.get(url).content.decode()

    response = client.post(url, {"do": "write_off", "close-reason": "No assets left."})

    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.state == LoanState.DEFAULTED
    concession = Concession.objects.get(loan=loan)
    assert (concession.kind, concession.status, concession.requested_by) == ("write_off", "pending", collector)
    page = client.get(url).content.decode()
    assert 'id="pending-write-off"' in page
    assert 'id="close-form"' not in page


def test_the_write_off_button_without_a_reason_shows_the_field_error_and_asks_nothing(client, merchant, collector):
    loan = in_arrears(merchant, 120, state=LoanState.DEFAULTED)
    client.force_login(collector)

    response = client.post(reverse("lending_collections_loan", args=[loan.pk]), {"do": "write_off", "close-reason": ""})

    assert response.status_code == 400
    assert response.context["close_form"].errors["reason"]
    assert not Concession.objects.exists()


# Deferral requests in the admin.


def pending_request(merchant):
    loan = active_loan(merchant, start=timezone.localdate() - 10 * DAY)
    first = loan.instalments.get(number=1)
    return deferral_request(
        loan=loan, instalment=first, new_due_date=first.due_date + 5 * DAY, reason="Road works", by=merchant.owner
    )


@pytest.fixture
def decider(loan_officer):
    return with_perms(loan_officer, "lending.view_deferralrequest", "lending.decide_deferral")


def test_the_approve_action_approves_through_the_service(client, merchant, decider):
    request = pending_request(merchant)
    client.force_login(decider)

    response = client.post(
        reverse("admin:lending_deferralrequest_changelist"),
        {"action": "approve_selected", "_selected_action": [request.pk], **CONFIRM},
        follow=True,
    )

    assert "1 request(s) approved." in response.content.decode()
    request.refresh_from_db()
    assert request.status == DeferralRequest.Status.APPROVED
    assert request.instalment.due_date == request.requested_due_date


def test_the_refuse_action_asks_for_the_note_then_refuses(client, merchant, decider):
    request = pending_request(merchant)
    client.force_login(decider)
    url = reverse("admin:lending_deferralrequest_changelist")

    asked = client.post(url, {"action": "refuse_selected", "_selected_action": [request.pk]})
    assert asked.status_code == 200
    assert "Why the request is refused" in asked.content.decode()

    client.post(url, {"action": "refuse_selected", "_selected_action": [request.pk], "apply": "1", "note": "Arrears."})

    request.refresh_from_db()
    assert (request.status, request.decision_note) == ("refused", "Arrears.")


def test_the_decide_actions_are_not_offered_without_the_permission(client, merchant, staff_without_role):
    request = pending_request(merchant)
    viewer = with_perms(staff_without_role, "lending.view_deferralrequest")
    client.force_login(viewer)

    page = client.get(reverse("admin:lending_deferralrequest_changelist"))

    assert page.status_code == 200
    assert "approve_selected" not in page.content.decode()
    request.refresh_from_db()
    assert request.status == "pending"
