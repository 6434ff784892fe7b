"""Four eyes: above ``settings.FOUR_EYES_THRESHOLD`` a senior officer other than the approving officer must
approve before the loan is made; maker and checker are two people on every path."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.urls import reverse

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import Notice
from core.selectors.audit import audit_trail
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.checks import controls_configured_check
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import ApplicationConflict
from lending.origination.services.funding import application_fund, application_second_approve
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan, LoanState
from merchants.tests.factories import MerchantFactory

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db

LARGE = Decimal("60000.00")


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.FOUR_EYES_THRESHOLD = Decimal("50000.00")


@pytest.fixture
def product(db):
    return LoanProductFactory(code="operating-four-eyes")


@pytest.fixture
def approving_officer(loan_officer):
    return with_perms(loan_officer, "lending.decide_application")


@pytest.fixture
def checker(senior_officer):
    return with_perms(senior_officer, "lending.decide_application", "lending.second_approve_application")


@pytest.fixture
def large_application(merchant, product, approving_officer):
    return signed_application(merchant, product, amount=LARGE, offered_by=approving_officer)


@pytest.fixture
def awaiting(large_application, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert application_fund(application=large_application) is None
    large_application.refresh_from_db()
    return large_application


def test_a_loan_above_the_threshold_waits_for_a_second_approval_and_no_loan_is_made(checker, awaiting):
    # ``checker`` first: the officers who may give the second approval exist when the notice goes out.
    assert awaiting.state == ApplicationState.AWAITING_SECOND_APPROVAL
    assert not Loan.objects.exists()
    event = list(audit_trail(awaiting))[-1]
    assert event.action == "application.await_second_approval"
    assert (event.from_state, event.to_state) == ("signed", "awaiting_second_approval")
    assert "60,000.00 yuan is above the four-eyes threshold of 50,000.00 yuan" in event.reason
    assert Notice.objects.filter(user=awaiting.merchant.owner, title="Your loan is having a final check").exists()
    officer_notice = Notice.objects.get(user=checker, title="A loan awaits your second approval")
    assert officer_notice.url == reverse("admin:lending_loanapplication_change", args=[awaiting.pk])


def test_funding_again_while_waiting_changes_nothing(awaiting):
    assert application_fund(application=awaiting) is None
    awaiting.refresh_from_db()
    assert awaiting.state == ApplicationState.AWAITING_SECOND_APPROVAL
    assert [e.action for e in audit_trail(awaiting)].count("application.await_second_approval") == 1


def test_a_loan_at_the_threshold_needs_no_second_approval(merchant, product, django_capture_on_commit_callbacks):
    application = signed_application(merchant, product, amount=Decimal("50000.00"))
    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application)
    assert loan is not None
    assert Loan.objects.get().state == LoanState.ACTIVE


def test_the_approving_officer_cannot_give_the_second_approval(awaiting, approving_officer):
    maker = with_perms(approving_officer, "lending.second_approve_application")

    with pytest.raises(PermissionDenied, match="You approved this application"):
        application_second_approve(application=awaiting, by=maker)

    awaiting.refresh_from_db()
    assert awaiting.second_approver is None
    assert awaiting.state == ApplicationState.AWAITING_SECOND_APPROVAL
    assert not Loan.objects.exists()


def test_a_loan_officer_without_the_permission_cannot_give_the_second_approval(awaiting):
    other_officer = with_perms(
        make_user(Role.LOAN_OFFICER, email="officer2@loanportal.example", staff=True), "lending.decide_application"
    )
    with pytest.raises(PermissionDenied, match="Only a senior officer"):
        application_second_approve(application=awaiting, by=other_officer)
    assert not Loan.objects.exists()


def test_a_senior_officer_gives_the_second_approval_and_the_loan_is_made_and_paid(
    awaiting, checker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        loan = application_second_approve(application=awaiting, by=checker)

    awaiting.refresh_from_db()
    assert awaiting.state == ApplicationState.FUNDED
    assert awaiting.second_approver == checker
    assert Loan.objects.get(pk=loan.pk).state == LoanState.ACTIVE
    assert loan.principal == LARGE
    events = list(audit_trail(awaiting))
    assert [e.action for e in events][-2:] == ["application.second_approve", "application.fund"]
    assert events[-2].actor == checker
    assert events[-1].actor == checker
    assert (events[-1].from_state, events[-1].to_state) == ("awaiting_second_approval", "funded")


def test_a_second_approval_is_given_once(awaiting, checker, senior_officer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        application_second_approve(application=awaiting, by=checker)
    another = with_perms(
        make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True),
        "lending.second_approve_application",
    )

    with pytest.raises(ApplicationConflict, match="this one is Funded"):
        application_second_approve(application=awaiting, by=another)
    assert Loan.objects.count() == 1


def test_when_the_system_approved_any_senior_officer_may_be_the_second(
    merchant, product, checker, django_capture_on_commit_callbacks
):
    application = signed_application(merchant, product, amount=LARGE, offered_by=None)
    application_fund(application=application)

    with django_capture_on_commit_callbacks(execute=True):
        loan = application_second_approve(application=application, by=checker)

    assert loan.application_id == application.pk


def test_nobody_approves_a_loan_to_their_own_business(product, approving_officer, checker):
    own_business = MerchantFactory(owner=checker)
    application = signed_application(own_business, product, amount=LARGE, offered_by=approving_officer)
    application_fund(application=application)

    with pytest.raises(PermissionDenied, match="own business"):
        application_second_approve(application=application, by=checker)
    assert not Loan.objects.exists()


def test_a_signed_application_below_the_threshold_cannot_get_a_second_approval(merchant, product, checker):
    application = signed_application(merchant, product)
    with pytest.raises(ApplicationConflict, match="awaiting a second approval"):
        application_second_approve(application=application, by=checker)


# The same rule through the back office.


def test_bulk_second_approval_in_admin_refuses_the_officers_own_approvals(
    client, merchant, other_merchant, product, checker, approving_officer, django_capture_on_commit_callbacks
):
    checker = with_perms(checker, "lending.view_loanapplication")
    own = signed_application(merchant, product, amount=LARGE, offered_by=checker)
    others = signed_application(other_merchant, product, amount=LARGE, offered_by=approving_officer)
    for application in (own, others):
        application_fund(application=application)
    client.force_login(checker)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lending_loanapplication_changelist"),
            {"action": "second_approve_selected", "_selected_action": [own.pk, others.pk], **CONFIRM},
            follow=True,
        )

    texts = [str(message) for message in response.context["messages"]]
    assert any(f"#{own.pk}" in text and "You approved this application" in text for text in texts)
    assert "Second approval given and loan made for 1 application(s)." in texts
    own.refresh_from_db()
    others.refresh_from_db()
    assert own.state == ApplicationState.AWAITING_SECOND_APPROVAL
    assert others.state == ApplicationState.FUNDED
    assert list(Loan.objects.values_list("application_id", flat=True)) == [others.pk]


def test_second_approval_button_in_admin_refuses_the_approving_officer(
    client, awaiting, approving_officer, django_capture_on_commit_callbacks
):
    maker = with_perms(approving_officer, "lending.second_approve_application", "lending.view_loanapplication")
    client.force_login(maker)

    url = reverse("admin:lending_loanapplication_second_approve", args=[awaiting.pk])
    page = client.post(url)
    response = client.post(url, CONFIRM, follow=True)

    assert page.status_code == 200
    assert "Approve and pay out" in page.content.decode()
    assert response.status_code == 200
    assert any("You approved this application" in str(m) for m in response.context["messages"])
    awaiting.refresh_from_db()
    assert awaiting.state == ApplicationState.AWAITING_SECOND_APPROVAL


@pytest.mark.parametrize("value", [None, "", "-1", "0", "lots"])
def test_a_missing_or_malformed_threshold_fails_loudly_instead_of_skipping_four_eyes(settings, value):
    if value is None:
        del settings.FOUR_EYES_THRESHOLD
    else:
        settings.FOUR_EYES_THRESHOLD = value
    application = LoanApplication(offer_amount=Decimal("10.00"))

    with pytest.raises(ImproperlyConfigured, match="FOUR_EYES_THRESHOLD must be a positive amount"):
        application.needs_second_approval  # noqa: B018 - the property is what is tested
    [error] = controls_configured_check(None)
    assert error.id == "lending.E001"
    assert "FOUR_EYES_THRESHOLD" in error.msg


def test_the_configured_threshold_passes_the_check(settings):
    settings.FOUR_EYES_THRESHOLD = Decimal("50000.00")
    assert controls_configured_check(None) == []
    assert LoanApplication(offer_amount=Decimal("50000.01")).needs_second_approval
    assert not LoanApplication(offer_amount=Decimal("50000.00")).needs_second_approval
