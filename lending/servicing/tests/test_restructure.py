"""Restructuring a loan: an officer proposes equal instalments for the capitalised balance, the merchant decides.

Capitalised: all unpaid principal, plus the unpaid interest, fees and late fees of the lines already due. Also
the statement PDF over the API (owner only), which shares these URLs.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import with_perms
from core.models import Notice
from core.selectors.audit import audit_trail
from lending.servicing.models import Instalment, LoanState, PaymentSource, RestructureProposal
from lending.servicing.services.repayments import payment_record
from lending.servicing.services.restructure import (
    RestructureConflict,
    restructure_accept,
    restructure_decline,
    restructure_propose,
)
from lending.servicing.tests.factories import active_loan

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
ZERO = Decimal("0.00")


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def today():
    return timezone.localdate()


@pytest.fixture
def proposer(loan_officer):
    return with_perms(loan_officer, "lending.propose_restructure")


@pytest.fixture
def troubled_loan(merchant):
    """Started 100 days ago, overdue: line 1 paid, line 2 partly paid, line 3 past due with 25.00 late fees."""
    loan = active_loan(merchant, start=today() - 100 * DAY, state=LoanState.OVERDUE)
    first, second = loan.instalments.get(number=1), loan.instalments.get(number=2)
    payment_record(
        loan=loan,
        amount=first.payment_due + Decimal("300.00"),
        received_on=today(),
        source=PaymentSource.OFFICER,
        external_reference="troubled-1",
    )
    second.refresh_from_db()
    assert second.status != Instalment.Status.PAID
    Instalment.objects.filter(loan=loan, number=3).update(penalty_due=Decimal("25.00"))
    loan.refresh_from_db()
    assert loan.state == LoanState.OVERDUE
    return loan


def expected_balance(loan) -> Decimal:
    rows = list(loan.instalments.all())
    principal = sum((row.principal_due - row.principal_paid for row in rows), ZERO)
    due = [row for row in rows if row.due_date <= today()]
    arrears = sum(
        (
            row.interest_due - row.interest_paid + row.fee_due - row.fee_paid + row.penalty_due - row.penalty_paid
            for row in due
        ),
        ZERO,
    )
    return principal + arrears


def propose(loan, by, **overrides):
    # At the grid's 12 % for grade C, forgiving nothing: no second officer needed (test_restructure_concessions).
    fields = {
        "term": 12,
        "annual_rate": Decimal("0.12"),
        "first_due_date": today() + 30 * DAY,
        "reason": "Sales fell after the road works; a longer plan fits the cash flow.",
        **overrides,
    }
    return restructure_propose(loan=loan, by=by, **fields)


# Proposing.


def test_an_officer_without_the_permission_cannot_propose(troubled_loan, loan_officer):
    with pytest.raises(PermissionDenied):
        propose(troubled_loan, loan_officer)
    assert not RestructureProposal.objects.exists()


def test_bad_terms_are_refused_naming_each_field(troubled_loan, proposer):
    with pytest.raises(ValidationError) as caught:
        propose(troubled_loan, proposer, term=0, annual_rate="twelve", reason="  ")
    errors = caught.value.message_dict
    assert "1 to 60" in errors["term"][0]
    assert "0.12" in errors["annual_rate"][0]
    assert "Say why" in errors["reason"][0]
    assert not RestructureProposal.objects.exists()


def test_a_first_due_date_too_far_off_is_refused_on_that_field(troubled_loan, proposer):
    with pytest.raises(ValidationError) as caught:
        propose(troubled_loan, proposer, first_due_date=today() + 90 * DAY)
    assert list(caught.value.message_dict) == ["first_due_date"]
    assert not RestructureProposal.objects.exists()


def test_a_proposal_schedules_the_capitalised_balance_exactly_and_tells_the_merchant(troubled_loan, proposer):
    balance = expected_balance(troubled_loan)
    proposal = propose(troubled_loan, proposer)

    assert Decimal(proposal.terms["capitalised"]["total"]) == balance
    assert Decimal(proposal.terms["capitalised"]["penalty"]) == Decimal("25.00")
    assert len(proposal.schedule) == 12
    assert sum(Decimal(line["principal"]) for line in proposal.schedule) == balance
    assert proposal.schedule[0]["due_date"] == (today() + 30 * DAY).isoformat()
    # 12 % a year by actual days, counted in equal months: within a tenth of a point of the rate.
    assert abs(Decimal(proposal.terms["apr"]) - Decimal("12.00")) < Decimal("0.10")
    assert [event.action for event in audit_trail(troubled_loan)][-1] == "restructure.propose"
    notice = Notice.objects.get(user=troubled_loan.merchant.owner, title__contains="new repayment plan")
    assert notice.url == reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk])
    # Nothing changes on the loan until the merchant accepts.
    assert troubled_loan.instalments.count() == 12


def test_a_second_open_proposal_for_the_same_loan_is_refused(troubled_loan, proposer):
    propose(troubled_loan, proposer)
    with pytest.raises(RestructureConflict, match="already has an open restructure proposal"):
        propose(troubled_loan, proposer)
    assert RestructureProposal.objects.count() == 1


def test_a_paid_off_loan_cannot_be_restructured(merchant, proposer):
    loan = active_loan(merchant, start=today() - 10 * DAY, state=LoanState.PAID_OFF)
    with pytest.raises(RestructureConflict, match="only an active, overdue or defaulted loan"):
        propose(loan, proposer)


# Accepting and declining.


def test_accepting_replaces_the_unpaid_schedule_exactly_and_cures_the_loan(troubled_loan, proposer, merchant_owner):
    balance = expected_balance(troubled_loan)
    paid_before = {
        row.number: row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
        for row in troubled_loan.instalments.all()
    }
    proposal = propose(troubled_loan, proposer)

    restructure_accept(proposal=proposal, by=merchant_owner)

    troubled_loan.refresh_from_db()
    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.ACCEPTED
    assert troubled_loan.state == LoanState.ACTIVE
    assert troubled_loan.days_past_due == 0
    rows = list(troubled_loan.instalments.order_by("number"))
    old, new = rows[:2], rows[2:]
    # Lines 1 (paid) and 2 (partly paid) stay, cut down to what was paid; 3 to 12 are gone.
    assert [row.number for row in old] == [1, 2]
    for row in old:
        assert row.status == Instalment.Status.PAID
        assert row.principal_due + row.interest_due + row.fee_due + row.penalty_due == paid_before[row.number]
    assert [row.number for row in new] == list(range(3, 15))
    assert sum((row.principal_due for row in new), ZERO) == balance
    assert [row.due_date.isoformat() for row in new] == [line["due_date"] for line in proposal.schedule]
    assert troubled_loan.maturity_date == new[-1].due_date
    # Nothing counted twice: what is owed now is exactly the new schedule.
    owed = sum((row.principal_due - row.principal_paid for row in rows), ZERO)
    assert owed == balance
    restructure = [event for event in audit_trail(troubled_loan) if event.action == "loan.restructure"]
    assert len(restructure) == 1
    assert restructure[0].from_state == LoanState.OVERDUE
    assert restructure[0].to_state == LoanState.ACTIVE
    assert len(restructure[0].data["old_schedule"]) == 12
    assert len(restructure[0].data["new_schedule"]) == 14
    assert [event.action for event in audit_trail(proposal)] == ["restructure.accept"]


def test_accepting_twice_is_refused(troubled_loan, proposer, merchant_owner):
    proposal = propose(troubled_loan, proposer)
    restructure_accept(proposal=proposal, by=merchant_owner)
    with pytest.raises(RestructureConflict, match="already accepted"):
        restructure_accept(proposal=proposal, by=merchant_owner)
    assert troubled_loan.instalments.count() == 14


def test_a_payment_after_the_proposal_makes_it_stale(troubled_loan, proposer, merchant_owner):
    proposal = propose(troubled_loan, proposer)
    payment_record(
        loan=troubled_loan,
        amount=Decimal("100.00"),
        received_on=today(),
        source=PaymentSource.OFFICER,
        external_reference="after-proposal",
    )
    with pytest.raises(RestructureConflict, match="balance changed"):
        restructure_accept(proposal=proposal, by=merchant_owner)
    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.PROPOSED
    assert troubled_loan.instalments.count() == 12


def test_declining_keeps_the_schedule(troubled_loan, proposer, merchant_owner):
    before = list(troubled_loan.instalments.values_list("number", "principal_due", "interest_due"))
    proposal = propose(troubled_loan, proposer)

    restructure_decline(proposal=proposal, by=merchant_owner)

    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.DECLINED
    assert list(troubled_loan.instalments.values_list("number", "principal_due", "interest_due")) == before
    assert [event.action for event in audit_trail(proposal)] == ["restructure.decline"]
    # A declined proposal no longer blocks a new one.
    assert propose(troubled_loan, proposer).status == RestructureProposal.Status.PROPOSED


def test_another_merchant_cannot_decide(troubled_loan, proposer, other_merchant_owner):
    proposal = propose(troubled_loan, proposer)
    with pytest.raises(PermissionDenied):
        restructure_accept(proposal=proposal, by=other_merchant_owner)
    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.PROPOSED


# The merchant's page.


def test_the_owner_sees_both_schedules_and_the_apr(client, troubled_loan, proposer, merchant_owner):
    proposal = propose(troubled_loan, proposer)
    client.force_login(merchant_owner)

    response = client.get(reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="new-schedule"' in page
    assert 'id="old-schedule"' in page
    assert f"{proposal.terms['apr']} %" in page
    assert proposal.schedule[-1]["due_date"] in page
    assert 'value="accept"' in page


def test_the_owner_accepts_on_the_page(client, troubled_loan, proposer, merchant_owner):
    proposal = propose(troubled_loan, proposer)
    client.force_login(merchant_owner)

    response = client.post(
        reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk]), {"decision": "accept"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("lending:loan-detail", args=[troubled_loan.pk])
    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.ACCEPTED
    troubled_loan.refresh_from_db()
    assert troubled_loan.state == LoanState.ACTIVE


def test_accepting_twice_on_the_page_says_it_is_already_decided(client, troubled_loan, proposer, merchant_owner):
    proposal = propose(troubled_loan, proposer)
    client.force_login(merchant_owner)
    url = reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk])
    client.post(url, {"decision": "accept"})

    response = client.post(url, {"decision": "accept"})

    assert response.status_code == 409
    assert "already accepted" in response.content.decode()
    assert troubled_loan.instalments.count() == 14


def test_another_merchant_gets_404_on_the_page(client, troubled_loan, proposer, other_merchant_owner):
    proposal = propose(troubled_loan, proposer)
    client.force_login(other_merchant_owner)
    url = reverse("lending:restructure-proposal", args=[troubled_loan.pk, proposal.pk])

    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "accept"}).status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == RestructureProposal.Status.PROPOSED


# The statement over the API.


def test_the_owner_downloads_the_statement_pdf_over_the_api(troubled_loan, merchant_owner):
    response = api_as(merchant_owner).get(f"/api/v1/loans/{troubled_loan.pk}/statement/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_another_merchant_gets_404_for_the_statement(troubled_loan, other_merchant_owner):
    response = api_as(other_merchant_owner).get(f"/api/v1/loans/{troubled_loan.pk}/statement/")
    assert response.status_code == 404


# The officer's form in the back office.


def test_an_officer_proposes_from_the_collections_page(client, troubled_loan, proposer):
    client.force_login(proposer)
    url = reverse("lending_collections_restructure", args=[troubled_loan.pk])
    response = client.post(
        url,
        {
            "term": "12",
            "annual_rate": "0.12",
            "first_due_date": (today() + 30 * DAY).isoformat(),
            "reason": "Sales fell.",
        },
    )
    assert response.status_code == 302
    assert RestructureProposal.objects.get(loan=troubled_loan).terms["term"] == 12


def test_a_bad_first_due_date_on_the_collections_page_is_shown_on_the_field(client, troubled_loan, proposer):
    client.force_login(proposer)
    url = reverse("lending_collections_restructure", args=[troubled_loan.pk])
    response = client.post(
        url,
        {"term": "12", "annual_rate": "0.10", "first_due_date": (today() + 90 * DAY).isoformat(), "reason": "x"},
    )
    assert response.status_code == 400
    assert "no later than" in response.context["form"].errors["first_due_date"][0]
    assert not RestructureProposal.objects.exists()


def test_a_restructure_above_the_annual_cost_ceiling_is_refused_naming_the_rate(troubled_loan, proposer):
    with pytest.raises(ValidationError) as refused:
        propose(troubled_loan, proposer, annual_rate=Decimal("0.30"))
    assert "above the platform's ceiling of 24.00 %" in refused.value.message_dict["annual_rate"][0]
    assert not RestructureProposal.objects.filter(loan=troubled_loan).exists()


def test_payoff_after_a_restructure_accrues_from_the_restructure_date(troubled_loan, proposer):
    from lending.servicing.services.repayments import payoff_quote

    proposal = propose(troubled_loan, proposer)
    restructure_accept(proposal=proposal, by=troubled_loan.merchant.owner)
    balance = Decimal(proposal.terms["capitalised"]["total"])
    ten_days_on = today() + 10 * DAY
    quote = payoff_quote(loan=troubled_loan, on=ten_days_on)
    # Ten days at the plan's 12 % on the capitalised balance, not from the last old due date.
    expected = (balance * Decimal("0.12") * 10 / 365).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert quote.interest == expected
