"""A restructure below the product's grid, or forgiving fees or late fees, needs a second officer; until then the
merchant sees nothing of it and the loan does not change.

The loan is grade C of a product priced 12 % a year for C; its line 3 carries 25.00 of late fees.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.catalogue.money import quote
from lending.catalogue.tests.factories import InstalmentProductFactory, ShortTermProductFactory
from lending.servicing.models import Concession, Instalment, Loan, LoanState, PaymentSource, RestructureProposal
from lending.servicing.services.repayments import payment_record
from lending.servicing.services.restructure import (
    RestructureConflict,
    restructure_accept,
    restructure_approve,
    restructure_grid,
    restructure_propose,
    restructure_reject,
)
from lending.servicing.tests.factories import active_loan

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
P = RestructureProposal.Status
D = Decimal


def today() -> datetime.date:
    return timezone.localdate()


@pytest.fixture
def maker(senior_officer):
    # The maker holds the checker's permission too, so that only maker = checker can refuse them.
    return with_perms(senior_officer, "lending.second_approve_concession")


@pytest.fixture
def checker(db):
    return make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)


@pytest.fixture
def troubled_loan(merchant):
    loan = active_loan(merchant, start=today() - 100 * DAY, state=LoanState.OVERDUE)
    first = loan.instalments.get(number=1)
    payment_record(
        loan=loan,
        amount=first.payment_due,
        received_on=today(),
        source=PaymentSource.OFFICER,
        external_reference="troubled-1",
    )
    Instalment.objects.filter(loan=loan, number=3).update(penalty_due=D("25.00"))
    loan.refresh_from_db()
    return loan


def propose(loan, by, **overrides):
    fields = {
        "term": 12,
        "annual_rate": D("0.12"),
        "first_due_date": today() + 30 * DAY,
        "reason": "Sales fell after the road works.",
        **overrides,
    }
    return restructure_propose(loan=loan, by=by, **fields)


def schedule(loan) -> list:
    return list(loan.instalments.order_by("number").values_list(*(f.attname for f in Instalment._meta.fields)))


def merchant_told(loan) -> bool:
    return Notice.objects.filter(user=loan.merchant.owner, title__contains="new repayment plan").exists()


# What needs a second officer.


def test_at_the_grid_and_forgiving_nothing_goes_straight_to_the_merchant(troubled_loan, maker):
    proposal = propose(troubled_loan, maker)

    assert proposal.status == P.PROPOSED
    assert proposal.terms["grid"]["below"] is False
    assert not Concession.objects.exists()
    assert merchant_told(troubled_loan)


def test_below_the_grid_waits_for_a_second_officer_and_the_merchant_sees_nothing(client, troubled_loan, maker, checker):
    before = schedule(troubled_loan)

    proposal = propose(troubled_loan, maker, annual_rate=D("0.10"))

    assert proposal.status == P.AWAITING_APPROVAL
    assert (proposal.terms["grid"]["annual_rate"], proposal.terms["grid"]["below"]) == ("0.120000", True)
    concession = Concession.objects.get()
    assert (concession.kind, concession.restructure, concession.requested_by) == ("restructure", proposal, maker)
    assert not merchant_told(troubled_loan)
    assert Notice.objects.filter(user=checker, title="A restructure awaits your second approval").exists()
    assert schedule(troubled_loan) == before
    # Not on the merchant's page, and not to be accepted.
    client.force_login(troubled_loan.merchant.owner)
    url = reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "accept"}).status_code == 404
    with pytest.raises(RestructureConflict):
        restructure_accept(proposal=proposal, by=troubled_loan.merchant.owner)
    assert schedule(troubled_loan) == before


def test_forgiving_late_fees_needs_a_second_officer_and_leaves_them_out_of_the_balance(troubled_loan, maker):
    full = propose(troubled_loan, maker)
    restructure_decline_as_owner(full)

    proposal = propose(troubled_loan, maker, forgive_late_fees=True)

    assert proposal.status == P.AWAITING_APPROVAL
    assert proposal.terms["forgiven"]["penalty"] == "25.00"
    assert D(proposal.terms["capitalised"]["total"]) == D(full.terms["capitalised"]["total"]) - D("25.00")
    assert sum(D(line["principal"]) for line in proposal.schedule) == D(proposal.terms["capitalised"]["total"])
    assert Concession.objects.get().terms["forgiven"]["total"] == "25.00"


def test_forgiving_fees_when_there_are_none_forgives_nothing_and_needs_nobody(troubled_loan, maker):
    proposal = propose(troubled_loan, maker, forgive_fees=True)

    assert proposal.terms["forgiven"]["total"] == "0.00"
    assert proposal.status == P.PROPOSED


def test_a_flag_that_is_not_yes_or_no_is_refused_naming_it_and_nothing_is_saved(troubled_loan, maker):
    with pytest.raises(ValidationError) as error:
        propose(troubled_loan, maker, forgive_fees="yes", reason="")
    assert set(error.value.message_dict) == {"forgive_fees", "reason"}
    assert not RestructureProposal.objects.exists()
    assert not Concession.objects.exists()


def restructure_decline_as_owner(proposal):
    from lending.servicing.services.restructure import restructure_decline

    restructure_decline(proposal=proposal, by=proposal.loan.merchant.owner)


# The second officer.


@pytest.fixture
def waiting(troubled_loan, maker):
    return propose(troubled_loan, maker, annual_rate=D("0.10"), forgive_late_fees=True)


def test_the_maker_cannot_approve_their_own_restructure(waiting, maker):
    with pytest.raises(PermissionDenied, match="another officer"):
        restructure_approve(concession=waiting.concession, by=maker)
    waiting.refresh_from_db()
    assert waiting.status == P.AWAITING_APPROVAL


def test_the_merchant_cannot_approve_it_either(waiting):
    owner = with_perms(waiting.loan.merchant.owner, "lending.second_approve_concession")
    with pytest.raises(PermissionDenied):
        restructure_approve(concession=waiting.concession, by=owner)


def test_approval_sends_it_to_the_merchant_with_one_audit_row_and_accepting_applies_it(waiting, troubled_loan, checker):
    events_before = AuditEvent.objects.count()

    restructure_approve(concession=waiting.concession, by=checker)

    assert AuditEvent.objects.count() == events_before + 1
    waiting.refresh_from_db()
    assert waiting.status == P.PROPOSED
    event = audit_trail(waiting).get()
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        "restructure.approve",
        checker,
        "awaiting_approval",
        "proposed",
    )
    assert event.data["requested_by"] == waiting.proposed_by_id
    assert event.data["forgiven"]["penalty"] == "25.00"
    assert merchant_told(troubled_loan)

    restructure_accept(proposal=waiting, by=troubled_loan.merchant.owner)

    troubled_loan.refresh_from_db()
    assert troubled_loan.state == LoanState.ACTIVE
    rows = list(troubled_loan.instalments.all())
    # The late fees were forgiven: nothing owed on them, and the new schedule re-schedules the rest exactly.
    assert sum((row.owed("penalty") for row in rows), D(0)) == 0
    assert sum((row.owed("principal") for row in rows), D(0)) == D(waiting.terms["capitalised"]["total"])
    restructure = audit_trail(troubled_loan).get(action="loan.restructure")
    assert restructure.data["forgiven"]["penalty"] == "25.00"


def test_a_rejection_needs_a_reason_and_leaves_the_loan_as_it_was(waiting, troubled_loan, checker, maker):
    before = schedule(troubled_loan)
    with pytest.raises(ValidationError) as error:
        restructure_reject(concession=waiting.concession, by=checker, reason=" ")
    assert list(error.value.message_dict) == ["reason"]

    restructure_reject(concession=waiting.concession, by=checker, reason="Grid price, or no plan.")

    waiting.refresh_from_db()
    assert waiting.status == P.REJECTED
    assert waiting.concession.status == Concession.Status.REJECTED
    assert schedule(troubled_loan) == before
    assert not merchant_told(troubled_loan)
    event = audit_trail(waiting).get()
    assert (event.action, event.reason) == ("restructure.reject", "Grid price, or no plan.")
    # The loan is free for a new proposal.
    assert propose(troubled_loan, maker).status == P.PROPOSED


def test_a_proposal_gone_stale_while_waiting_is_not_sent(waiting, troubled_loan, checker):
    payment_record(
        loan=troubled_loan,
        amount=D("100.00"),
        received_on=today(),
        source=PaymentSource.OFFICER,
        external_reference="meanwhile",
    )
    with pytest.raises(RestructureConflict, match="balance changed"):
        restructure_approve(concession=waiting.concession, by=checker)
    waiting.refresh_from_db()
    assert waiting.status == P.AWAITING_APPROVAL
    assert not merchant_told(troubled_loan)


def test_the_checker_approves_a_restructure_from_the_queue(client, waiting, checker):
    client.force_login(checker)

    page = client.get(reverse("admin:lending_concession_change", args=[waiting.concession.pk]))
    assert page.status_code == 200
    assert "Approve (second approval)" in page.content.decode()
    client.post(
        reverse("admin:lending_concession_changelist"),
        {"action": "approve_selected", "_selected_action": [waiting.concession.pk], **CONFIRM},
    )

    waiting.refresh_from_db()
    assert waiting.status == P.PROPOSED


# The grid, by the product's price basis.


def quoted(balance: Decimal, annual_rate: Decimal):
    from lending.catalogue.money import QuoteTerms, RepaymentMethod

    return quote(
        QuoteTerms(
            amount=balance,
            start_date=today(),
            method=RepaymentMethod.EQUAL_INSTALMENT,
            term=12,
            annual_rate=annual_rate,
            first_due_date=today() + 30 * DAY,
        )
    )


def grid_for(loan, annual_rate: str) -> dict:
    rate = D(annual_rate)
    return restructure_grid(
        loan=loan,
        annual_rate=rate,
        priced=quoted(D("10000.00"), rate),
        balance=D("10000.00"),
        on=today(),
        term=12,
        first_due_date=today() + 30 * DAY,
    )


def test_a_daily_rate_grid_is_compared_as_a_yearly_rate():
    # Grade C: 0.04 % a day, 14.6 % a year over 365 days.
    loan = Loan(product=ShortTermProductFactory(), grade="C")

    assert grid_for(loan, "0.145")["below"] is True
    assert grid_for(loan, "0.146")["below"] is False


def test_a_fee_priced_grid_is_compared_by_apr_on_the_same_schedule():
    # Grade C: 0.6 % of the amount a month, about 13 % a year all in.
    loan = Loan(product=InstalmentProductFactory(), grade="C")

    low, high = grid_for(loan, "0.10"), grid_for(loan, "0.16")

    assert low["below"] is True
    assert high["below"] is False
    assert D("12.00") < D(low["apr"]) < D("14.00")


def test_a_grade_the_grid_does_not_price_counts_as_below_it(troubled_loan):
    troubled_loan.grade = ""

    assert grid_for(troubled_loan, "0.20")["below"] is True


# The officer's form.


def test_the_form_forgives_late_fees_and_says_the_plan_awaits_a_second_officer(client, troubled_loan, maker):
    client.force_login(maker)

    response = client.post(
        reverse("lending_collections_restructure", args=[troubled_loan.pk]),
        {
            "term": "12",
            "annual_rate": "0.12",
            "first_due_date": (today() + 30 * DAY).isoformat(),
            "forgive_late_fees": "on",
            "reason": "Hardship.",
        },
        follow=True,
    )

    assert any("awaits a second officer's approval" in str(message) for message in response.context["messages"])
    proposal = RestructureProposal.objects.get(loan=troubled_loan)
    assert proposal.status == P.AWAITING_APPROVAL
    assert proposal.terms["forgiven"] == {
        "principal": "0.00",
        "interest": "0.00",
        "fee": "0.00",
        "penalty": "25.00",
        "total": "25.00",
    }
    assert not merchant_told(troubled_loan)
