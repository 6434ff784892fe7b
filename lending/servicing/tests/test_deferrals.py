"""Deferring one instalment: the merchant asks (web, API), an officer approves or refuses (services).

The rule: one unpaid, not yet overdue instalment of an up-to-date loan, moved 1 to 30 days later and before the
next instalment's due date; at most one approved deferral per loan. The amounts due never change.

This module also holds the URLs the servicing tests run against (the lead wires the same into the project).
"""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import with_perms
from core.models import Notice
from core.selectors.audit import audit_trail
from lending.servicing.models import DeferralRequest, LoanState
from lending.servicing.services.collections import (
    DeferralConflict,
    deferral_approve,
    deferral_refuse,
    deferral_request,
    instalments_deferrable,
)
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def fresh_loan(merchant, *, term=12, **kwargs):
    """A loan started ten days ago: instalment 1 is due in about three weeks."""
    return active_loan(merchant, start=timezone.localdate() - 10 * DAY, term=term, **kwargs)


def first_two(loan):
    return loan.instalments.get(number=1), loan.instalments.get(number=2)


@pytest.fixture
def decider(loan_officer):
    return with_perms(loan_officer, "lending.decide_deferral")


def ask(loan, *, number=1, days=7, by, reason="A slow month after the road works."):
    instalment = loan.instalments.get(number=number)
    return deferral_request(
        loan=loan, instalment=instalment, new_due_date=instalment.due_date + days * DAY, reason=reason, by=by
    )


# Asking.


def test_owner_asks_to_defer_a_due_instalment_and_the_request_waits_for_an_officer(merchant):
    loan = fresh_loan(merchant)

    request = ask(loan, by=merchant.owner)

    assert request.status == DeferralRequest.Status.PENDING
    assert [event.action for event in audit_trail(loan)] == ["deferral.request"]
    assert [event.action for event in audit_trail(request)] == ["deferral.request"]
    # Nothing moves until an officer approves.
    assert loan.instalments.get(number=1).due_date == request.requested_due_date - 7 * DAY


def test_a_date_past_the_next_instalment_is_refused_naming_the_allowed_range(merchant):
    loan = fresh_loan(merchant)
    first, second = first_two(loan)
    latest = min(first.due_date + 30 * DAY, second.due_date - DAY)

    with pytest.raises(ValidationError) as error:
        deferral_request(
            loan=loan, instalment=first, new_due_date=second.due_date, reason="more time", by=merchant.owner
        )

    assert error.value.message_dict["new_due_date"] == [
        f"Choose a new due date from {(first.due_date + DAY).isoformat()} to {latest.isoformat()}."
    ]
    assert not DeferralRequest.objects.exists()


def test_the_last_instalment_may_move_at_most_thirty_days(merchant):
    loan = fresh_loan(merchant, term=3)
    last = loan.instalments.get(number=3)

    with pytest.raises(ValidationError) as error:
        ask(loan, number=3, days=31, by=merchant.owner)
    assert f"to {(last.due_date + 30 * DAY).isoformat()}" in error.value.message_dict["new_due_date"][0]

    assert ask(loan, number=3, days=30, by=merchant.owner).status == "pending"


def test_an_empty_reason_is_refused(merchant):
    loan = fresh_loan(merchant)

    with pytest.raises(ValidationError) as error:
        ask(loan, by=merchant.owner, reason="  ")

    assert "reason" in error.value.message_dict


def test_another_merchant_cannot_ask_for_my_loan(merchant, other_merchant):
    loan = fresh_loan(merchant)

    with pytest.raises(PermissionDenied):
        ask(loan, by=other_merchant.owner)
    assert not DeferralRequest.objects.exists()


def test_an_overdue_instalment_cannot_be_deferred(merchant):
    loan = active_loan(merchant, start=timezone.localdate() - 50 * DAY)

    with pytest.raises(DeferralConflict, match="paid or already overdue"):
        ask(loan, by=merchant.owner)


def test_a_loan_in_arrears_cannot_defer(merchant):
    loan = fresh_loan(merchant, state=LoanState.OVERDUE)

    with pytest.raises(DeferralConflict, match="up to date"):
        ask(loan, by=merchant.owner)


def test_a_second_request_while_one_waits_is_refused(merchant):
    loan = fresh_loan(merchant)
    ask(loan, by=merchant.owner)

    with pytest.raises(DeferralConflict, match="already waiting"):
        ask(loan, number=2, by=merchant.owner)


# Deciding.


def test_approval_moves_the_due_date_keeps_the_amounts_and_tells_the_merchant(merchant, decider):
    loan = fresh_loan(merchant)
    before = loan.instalments.get(number=1)
    request = ask(loan, days=10, by=merchant.owner)

    deferral_approve(request=request, by=decider, note="Seasonal dip, good history.")

    after = loan.instalments.get(number=1)
    assert after.due_date == before.due_date + 10 * DAY
    assert (after.principal_due, after.interest_due, after.fee_due) == (
        before.principal_due,
        before.interest_due,
        before.fee_due,
    )
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_note) == (
        "approved",
        decider,
        "Seasonal dip, good history.",
    )
    assert [event.action for event in audit_trail(loan)] == ["deferral.request", "deferral.approve"]
    assert audit_trail(request).last().to_state == "approved"
    notice = Notice.objects.get(user=merchant.owner, title__contains="is now due on")
    assert after.due_date.isoformat() in notice.title


def test_approving_the_last_instalment_moves_the_maturity_date(merchant, decider):
    loan = fresh_loan(merchant, term=3)
    request = ask(loan, number=3, days=20, by=merchant.owner)

    deferral_approve(request=request, by=decider)

    loan.refresh_from_db()
    assert loan.maturity_date == request.requested_due_date


def test_only_one_deferral_is_approved_per_loan(merchant, decider):
    loan = fresh_loan(merchant)
    deferral_approve(request=ask(loan, by=merchant.owner), by=decider)

    with pytest.raises(DeferralConflict, match="one deferral"):
        ask(loan, number=2, by=merchant.owner)


# The product's rule, as signed.


def test_a_product_allowing_two_deferrals_approves_two_and_refuses_a_third(merchant, decider):
    loan = fresh_loan(merchant, deferrals_per_loan=2, deferral_max_days=10)
    deferral_approve(request=ask(loan, number=1, by=merchant.owner), by=decider)
    deferral_approve(request=ask(loan, number=2, by=merchant.owner), by=decider)

    with pytest.raises(DeferralConflict, match="already had all 2 of its deferrals"):
        ask(loan, number=3, by=merchant.owner)


def test_the_products_longest_deferral_bounds_the_dates_offered(merchant):
    loan = fresh_loan(merchant, term=3, deferral_max_days=10, deferrals_per_loan=1)
    last = loan.instalments.get(number=3)

    with pytest.raises(ValidationError) as error:
        ask(loan, number=3, days=11, by=merchant.owner)

    assert error.value.message_dict["new_due_date"] == [
        f"Choose a new due date from {(last.due_date + DAY).isoformat()} to {(last.due_date + 10 * DAY).isoformat()}."
    ]
    assert ask(loan, number=3, days=10, by=merchant.owner).status == "pending"


def test_a_product_offering_no_deferral_says_so(merchant):
    loan = fresh_loan(merchant, deferral_max_days=0, deferrals_per_loan=0)

    with pytest.raises(DeferralConflict, match="terms offer no deferral"):
        ask(loan, by=merchant.owner)
    assert instalments_deferrable(loan=loan, on=timezone.localdate()) == set()


def test_the_rule_signed_with_the_loan_holds_after_the_product_changes(merchant, decider):
    loan = fresh_loan(merchant, deferrals_per_loan=2, deferral_max_days=10)
    loan.product.deferrals_per_loan = 0
    loan.product.deferral_max_days = 0
    loan.product.save()

    deferral_approve(request=ask(loan, number=1, by=merchant.owner), by=decider)
    assert ask(loan, number=2, by=merchant.owner).status == "pending"


def test_a_loan_signed_before_products_had_the_rule_keeps_thirty_days_once(merchant, decider):
    loan = fresh_loan(merchant, term=3)
    loan.terms.pop("deferral")
    loan.save(update_fields=["terms"])
    last = loan.instalments.get(number=3)

    with pytest.raises(ValidationError) as error:
        ask(loan, number=3, days=31, by=merchant.owner)
    assert f"to {(last.due_date + 30 * DAY).isoformat()}" in error.value.message_dict["new_due_date"][0]
    deferral_approve(request=ask(loan, number=3, days=30, by=merchant.owner), by=decider)
    with pytest.raises(DeferralConflict, match="one deferral"):
        ask(loan, number=1, by=merchant.owner)


def test_staff_without_the_permission_cannot_approve(merchant, staff_without_role):
    loan = fresh_loan(merchant)
    request = ask(loan, by=merchant.owner)

    with pytest.raises(PermissionDenied):
        deferral_approve(request=request, by=staff_without_role)
    request.refresh_from_db()
    assert request.status == "pending"


def test_a_decided_request_cannot_be_decided_again(merchant, decider):
    loan = fresh_loan(merchant)
    request = ask(loan, by=merchant.owner)
    deferral_refuse(request=request, by=decider, note="Arrears on another loan.")

    with pytest.raises(DeferralConflict, match="already decided"):
        deferral_approve(request=request, by=decider)
    assert loan.instalments.get(number=1).due_date < request.requested_due_date


def test_refusal_needs_a_note_and_tells_the_merchant_why(merchant, decider):
    loan = fresh_loan(merchant)
    request = ask(loan, by=merchant.owner)

    with pytest.raises(ValidationError) as error:
        deferral_refuse(request=request, by=decider, note="")
    assert "note" in error.value.message_dict

    deferral_refuse(request=request, by=decider, note="Arrears on another loan.")
    request.refresh_from_db()
    assert request.status == "refused"
    assert Notice.objects.get(user=merchant.owner, title__contains="was refused").body.endswith(
        "Arrears on another loan."
    )
    assert [event.action for event in audit_trail(loan)] == ["deferral.request", "deferral.refuse"]


def test_a_request_whose_instalment_was_paid_meanwhile_cannot_be_approved(merchant, decider):
    from lending.servicing.services.repayments import payment_record

    loan = fresh_loan(merchant)
    request = ask(loan, by=merchant.owner)
    first = loan.instalments.get(number=1)
    payment_record(
        loan=loan,
        amount=first.payment_due,
        received_on=timezone.localdate(),
        source="api",
        external_reference="paid-early",
    )

    with pytest.raises(DeferralConflict, match="can no longer be deferred"):
        deferral_approve(request=request, by=decider)


# The web form.


def test_owner_sends_the_form_and_returns_to_the_loan(client, merchant):
    loan = fresh_loan(merchant)
    first = loan.instalments.get(number=1)
    client.force_login(merchant.owner)
    url = reverse("lending:deferral-request", args=[loan.pk, 1])

    page = client.get(url)
    assert page.status_code == 200
    assert f"From {(first.due_date + DAY).isoformat()}" in page.content.decode()

    response = client.post(url, {"new_due_date": (first.due_date + 5 * DAY).isoformat(), "reason": "Road works"})

    assert response.status_code == 302
    assert response["Location"] == reverse("lending:loan-detail", args=[loan.pk])
    assert DeferralRequest.objects.get().requested_due_date == first.due_date + 5 * DAY


def test_the_form_shows_the_allowed_range_when_the_date_is_out_of_it(client, merchant):
    loan = fresh_loan(merchant)
    first = loan.instalments.get(number=1)
    client.force_login(merchant.owner)

    response = client.post(
        reverse("lending:deferral-request", args=[loan.pk, 1]),
        {"new_due_date": (first.due_date + 60 * DAY).isoformat(), "reason": "Road works"},
    )

    assert response.status_code == 400
    assert "Choose a new due date from" in response.content.decode()
    assert not DeferralRequest.objects.exists()


@pytest.mark.parametrize(
    ("per_loan", "max_days", "says"),
    [
        (1, 30, "you may move one instalment, once, by up to 30 days"),
        (3, 14, "you may move up to 3 instalments, one at a time, each by up to 14 days"),
    ],
)
def test_the_form_states_the_rule_the_loan_was_signed_with(client, merchant, per_loan, max_days, says):
    loan = fresh_loan(merchant, deferrals_per_loan=per_loan, deferral_max_days=max_days)
    client.force_login(merchant.owner)

    page = client.get(reverse("lending:deferral-request", args=[loan.pk, 1])).content.decode()

    assert says in page


def test_the_form_of_a_loan_offering_no_deferral_says_why_without_a_form(client, merchant):
    loan = fresh_loan(merchant, deferrals_per_loan=0, deferral_max_days=0)
    client.force_login(merchant.owner)

    page = client.get(reverse("lending:deferral-request", args=[loan.pk, 1])).content.decode()

    assert "This loan&#x27;s terms offer no deferral." in page
    assert 'id="deferral-rule"' not in page
    assert "<form" not in page.split("<main", 1)[-1]


def test_the_form_of_another_merchants_loan_is_not_found(client, merchant, other_merchant):
    loan = fresh_loan(merchant)
    client.force_login(other_merchant.owner)

    assert client.get(reverse("lending:deferral-request", args=[loan.pk, 1])).status_code == 404


# The API.


def test_api_owner_posts_a_request_and_lists_it(client, merchant):
    loan = fresh_loan(merchant)
    first = loan.instalments.get(number=1)
    client.force_login(merchant.owner)
    url = reverse("api:loan-deferral-requests", args=[loan.pk])

    created = client.post(
        url,
        {"instalment": 1, "new_due_date": (first.due_date + 3 * DAY).isoformat(), "reason": "Road works"},
        content_type="application/json",
    )
    listed = client.get(url)

    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert [row["instalment"] for row in listed.json()["results"]] == [1]


def test_api_out_of_range_date_is_a_field_error(client, merchant):
    loan = fresh_loan(merchant)
    client.force_login(merchant.owner)

    response = client.post(
        reverse("api:loan-deferral-requests", args=[loan.pk]),
        {"instalment": 1, "new_due_date": "2000-01-01", "reason": "Road works"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "Choose a new due date from" in response.json()["fields"]["new_due_date"][0]


def test_api_another_merchants_loan_is_not_found_and_anonymous_is_unauthorised(client, merchant, other_merchant):
    loan = fresh_loan(merchant)
    url = reverse("api:loan-deferral-requests", args=[loan.pk])

    assert client.get(url).status_code == 401
    client.force_login(other_merchant.owner)
    assert client.get(url).status_code == 404
    assert client.post(url, {}, content_type="application/json").status_code == 404


def test_api_a_second_request_is_a_conflict(client, merchant):
    loan = fresh_loan(merchant)
    ask(loan, by=merchant.owner)
    second = loan.instalments.get(number=2)
    client.force_login(merchant.owner)

    response = client.post(
        reverse("api:loan-deferral-requests", args=[loan.pk]),
        {"instalment": 2, "new_due_date": (second.due_date + DAY).isoformat(), "reason": "Road works"},
        content_type="application/json",
    )

    assert response.status_code == 409


def test_the_loan_page_links_only_the_instalments_that_can_be_deferred(merchant):
    from lending.servicing.services.collections import instalments_deferrable

    loan = fresh_loan(merchant, term=3)
    assert instalments_deferrable(loan=loan, on=timezone.localdate()) == {1, 2, 3}

    ask(loan, by=merchant.owner)

    assert instalments_deferrable(loan=loan, on=timezone.localdate()) == set()


def test_reminders_about_the_old_due_date_are_sent_again_for_the_new_one(merchant, decider):
    from lending.servicing.models import Reminder

    loan = fresh_loan(merchant)
    instalment = loan.instalments.get(number=1)
    Reminder.objects.create(instalment=instalment, kind=Reminder.Kind.DUE_SOON, sent_on=timezone.localdate())
    request = ask(loan, by=merchant.owner)

    deferral_approve(request=request, by=decider)

    assert not Reminder.objects.filter(instalment=instalment, kind=Reminder.Kind.DUE_SOON).exists()
