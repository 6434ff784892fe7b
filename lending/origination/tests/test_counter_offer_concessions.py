"""A counter-offer below the product's grid price for the application's grade needs a second officer; at the grid it
does not. Until the second officer approves, the application stays referred and the merchant is told nothing."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import (
    ApplicationConflict,
    application_counter_offer,
    counter_offer_approve,
    counter_offer_reject,
)
from lending.origination.services.concessions import concession_approve
from lending.servicing.models import Concession
from underwriting.models import Decision

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db
S = ApplicationState
STEP = Decimal("0.010000")


@pytest.fixture
def referred_application(referred_application):
    """The referred application, decided at grade C: the grid has lower prices than C's (A's is the floor)."""
    # Test set-up: a decision is never edited by the portal.
    Decision.objects.filter(pk=referred_application.decision_id).update(grade="C")
    referred_application.refresh_from_db()
    return referred_application


@pytest.fixture
def maker(deciding_officer):
    # The maker holds the checker's permission too, so that only maker = checker can refuse them.
    return with_perms(deciding_officer, "lending.second_approve_concession")


@pytest.fixture
def checker(db):
    return make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)


def grid_price(application: LoanApplication) -> Decimal:
    return application.product.price_for(application.decision.grade)


def counter_offer(application, by, *, price: Decimal, note: str = "Long-standing customer, strong sales."):
    return application_counter_offer(
        application=application, by=by, amount="15000", term=6, price=str(price), note=note
    )


def merchant_notices(application) -> list[str]:
    return list(Notice.objects.filter(user=application.merchant.owner).order_by("id").values_list("title", flat=True))


def test_a_counter_offer_at_the_grid_price_needs_no_second_officer(referred_application, maker):
    application = counter_offer(referred_application, maker, price=grid_price(referred_application))

    assert application.state == S.APPROVED
    assert not Concession.objects.exists()
    assert audit_trail(application).last().data["grid_price"] == str(grid_price(referred_application))


def test_a_counter_offer_below_the_grid_waits_and_the_merchant_sees_nothing(referred_application, maker, checker):
    seen_before = merchant_notices(referred_application)
    below = grid_price(referred_application) - STEP

    application = counter_offer(referred_application, maker, price=below)

    application.refresh_from_db()
    assert application.state == S.REFERRED
    assert (application.offer_amount, application.offer_price, application.is_counter_offer) == (None, None, False)
    assert merchant_notices(application) == seen_before
    concession = Concession.objects.get()
    assert (concession.kind, concession.application, concession.requested_by) == ("counter_offer", application, maker)
    assert (concession.terms["price"], concession.terms["grid_price"]) == (
        str(below),
        str(grid_price(referred_application)),
    )
    event = audit_trail(application).last()
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        "application.counter_offer_request",
        maker,
        "referred",
        "referred",
    )
    assert Notice.objects.filter(
        user=checker, title="A counter-offer below the price grid awaits your second approval"
    ).exists()


def test_a_counter_offer_below_the_grid_needs_a_reason_and_saves_nothing_without_one(referred_application, maker):
    with pytest.raises(ValidationError) as error:
        counter_offer(referred_application, maker, price=grid_price(referred_application) - STEP, note=" ")

    assert list(error.value.message_dict) == ["note"]
    assert not Concession.objects.exists()
    assert [event.action for event in audit_trail(referred_application)][-1] != "application.counter_offer_request"


def test_no_other_counter_offer_while_one_waits(referred_application, maker):
    counter_offer(referred_application, maker, price=grid_price(referred_application) - STEP)

    with pytest.raises(ApplicationConflict, match="awaits a second approval"):
        counter_offer(referred_application, maker, price=grid_price(referred_application))
    referred_application.refresh_from_db()
    assert referred_application.state == S.REFERRED


@pytest.fixture
def waiting(referred_application, maker) -> Concession:
    counter_offer(referred_application, maker, price=grid_price(referred_application) - STEP)
    return Concession.objects.get()


def test_the_maker_cannot_approve_their_own_counter_offer(waiting, maker):
    with pytest.raises(PermissionDenied, match="another officer"):
        counter_offer_approve(concession=waiting, by=maker)

    waiting.application.refresh_from_db()
    assert waiting.application.state == S.REFERRED
    waiting.refresh_from_db()
    assert waiting.status == Concession.Status.PENDING


def test_a_loan_officer_cannot_give_the_second_approval(waiting, db):
    other = with_perms(
        make_user(Role.LOAN_OFFICER, email="officer2@loanportal.example", staff=True), "lending.decide_application"
    )
    with pytest.raises(PermissionDenied, match="Only a senior officer"):
        counter_offer_approve(concession=waiting, by=other)


def test_the_second_officer_approves_and_the_offer_is_made_with_one_audit_row(waiting, maker, checker):
    events_before = AuditEvent.objects.count()

    application = counter_offer_approve(concession=waiting, by=checker)

    assert AuditEvent.objects.count() == events_before + 1
    application.refresh_from_db()
    assert application.state == S.APPROVED
    assert application.is_counter_offer
    assert application.offered_by == maker
    assert application.offer_price == Decimal(waiting.terms["price"])
    assert (application.offer_amount, application.offer_term) == (Decimal("15000.00"), 6)
    event = audit_trail(application).last()
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        "application.counter_offer",
        checker,
        "referred",
        "approved",
    )
    assert (event.data["concession_id"], event.data["requested_by"]) == (waiting.pk, maker.pk)
    assert merchant_notices(application)[-1] == f"A counter-offer for your application #{application.pk}"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.decided_by) == ("approved", checker)


def test_a_rejected_counter_offer_leaves_the_application_referred_and_unchanged(waiting, maker, checker):
    application = waiting.application
    seen_before = merchant_notices(application)
    with pytest.raises(ValidationError) as error:
        counter_offer_reject(concession=waiting, by=checker, reason="")
    assert list(error.value.message_dict) == ["reason"]

    counter_offer_reject(concession=waiting, by=checker, reason="Price the grade: no reason to go lower.")

    application.refresh_from_db()
    assert application.state == S.REFERRED
    assert (application.offer_amount, application.offer_price) == (None, None)
    assert merchant_notices(application) == seen_before
    event = audit_trail(application).last()
    assert (event.action, event.reason) == (
        "application.counter_offer_reject",
        "Price the grade: no reason to go lower.",
    )
    assert Notice.objects.filter(user=maker, title="Your counter-offer below the price grid was rejected").exists()
    # The officer may decide it again.
    assert counter_offer(application, maker, price=grid_price(application)).state == S.APPROVED


def test_an_application_decided_otherwise_meanwhile_cannot_take_the_counter_offer(waiting, maker, checker):
    from lending.origination.services.applications import application_decline

    application_decline(application=waiting.application, by=maker, reason="No.")

    with pytest.raises(ApplicationConflict):
        concession_approve(concession=waiting, by=checker)
    waiting.refresh_from_db()
    assert waiting.status == Concession.Status.PENDING


# The back office.


def test_the_admin_form_says_the_counter_offer_waits_for_a_second_officer(client, referred_application, maker):
    client.force_login(with_perms(maker, "lending.view_loanapplication"))
    below = grid_price(referred_application) - STEP

    response = client.post(
        reverse("admin:lending_loanapplication_counter_offer", args=[referred_application.pk]),
        {"amount": "15000.00", "term": "6", "price": str(below), "repayment_method": "", "note": "Loyal customer"},
        follow=True,
    )

    assert any("awaits a second officer's approval" in str(message) for message in response.context["messages"])
    referred_application.refresh_from_db()
    assert referred_application.state == S.REFERRED
    assert "Counter-offer below the price grid" in response.content.decode()


def test_the_checker_approves_it_from_the_queue(client, waiting, checker):
    client.force_login(checker)

    queue = client.get(reverse("admin:lending_concession_changelist"))
    assert [row.pk for row in queue.context["cl"].result_list] == [waiting.pk]
    client.post(
        reverse("admin:lending_concession_changelist"),
        {"action": "approve_selected", "_selected_action": [waiting.pk], **CONFIRM},
    )

    waiting.application.refresh_from_db()
    assert waiting.application.state == S.APPROVED
