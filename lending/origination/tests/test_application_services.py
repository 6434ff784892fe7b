"""The application services: every transition's allowed path, wrong state, failed condition and permission."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Notice
from core.selectors.audit import audit_trail
from lending.catalogue.services.products import product_terms_snapshot
from lending.origination.models import LoanApplication
from lending.origination.services.applications import (
    ApplicationConflict,
    ApplicationError,
    application_accept,
    application_apply,
    application_approve,
    application_counter_offer,
    application_create,
    application_decline,
    application_request_documents,
    application_submit,
    application_withdraw,
)
from lending.origination.tests.factories import APPLIED_AMOUNT, apply_for
from merchants.tests.factories import make_verified_merchant
from tests.concurrency import CONFLICT, race
from underwriting.choices import ScorecardState
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import Decision, Scorecard

pytestmark = pytest.mark.django_db


def actions(application: LoanApplication) -> list[tuple[str, str, str]]:
    return [(event.action, event.from_state, event.to_state) for event in audit_trail(application)]


def notices_of(merchant) -> list[str]:
    return list(Notice.objects.filter(user=merchant.owner).order_by("id").values_list("title", flat=True))


# Creating a draft.


def test_a_verified_merchant_makes_a_draft_with_one_audit_row(verified_merchant_with_sales, operating_loan):
    merchant = verified_merchant_with_sales

    application = application_create(
        merchant=merchant, product=operating_loan, amount="20,000.00", term="12", by=merchant.owner
    )

    application.refresh_from_db()
    assert application.state == "draft"
    assert application.amount == Decimal("20000.00")
    assert application.term == 12
    assert application.repayment_method == "equal_instalment"  # the product's standard method
    assert actions(application) == [("application.create", "", "draft")]


def test_a_merchant_whose_kyc_is_not_verified_cannot_apply(merchant, operating_loan):
    with pytest.raises(ApplicationError) as caught:
        application_create(merchant=merchant, product=operating_loan, amount="20000", term=12, by=merchant.owner)

    assert "must be verified" in caught.value.messages[0]
    assert not LoanApplication.objects.exists()


def test_terms_outside_the_product_are_refused_by_field_with_what_is_allowed(
    verified_merchant_with_sales, operating_loan
):
    merchant = verified_merchant_with_sales

    with pytest.raises(ApplicationError) as caught:
        application_create(
            merchant=merchant,
            product=operating_loan,
            amount="900000",
            term="30",
            repayment_method="bullet",
            by=merchant.owner,
        )

    errors = caught.value.message_dict
    assert errors["amount"] == [
        "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places."
    ]
    assert errors["term"] == ["Allowed terms are from 3 to 24 months."]
    assert "Equal instalments" in errors["repayment_method"][0]
    assert not LoanApplication.objects.exists()


def test_only_the_merchants_owner_applies(verified_merchant_with_sales, operating_loan, other_merchant_owner):
    with pytest.raises(PermissionDenied):
        application_create(
            merchant=verified_merchant_with_sales,
            product=operating_loan,
            amount="20000",
            term=12,
            by=other_merchant_owner,
        )
    assert not LoanApplication.objects.exists()


def test_a_second_application_is_refused_while_one_is_in_progress(approved_application, operating_loan):
    merchant = approved_application.merchant

    with pytest.raises(ApplicationError) as caught:
        application_create(merchant=merchant, product=operating_loan, amount="20000", term=12, by=merchant.owner)

    assert "already have an application in progress" in caught.value.messages[0]
    assert LoanApplication.objects.count() == 1


def test_a_merchant_may_apply_again_once_the_first_application_is_withdrawn(approved_application, operating_loan):
    merchant = approved_application.merchant
    application_withdraw(application=approved_application, by=merchant.owner)

    again = application_create(merchant=merchant, product=operating_loan, amount="20000", term=12, by=merchant.owner)

    assert again.state == "draft"


def test_the_same_form_token_returns_the_first_application_instead_of_a_second(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    merchant = verified_merchant_with_sales
    token = uuid.uuid4()
    terms = {"merchant": merchant, "product": operating_loan, "amount": "20000", "term": 12, "by": merchant.owner}

    first = application_apply(**terms, submission_token=token)
    second = application_apply(**terms, submission_token=token)

    assert second.pk == first.pk
    assert second.state == "approved"
    assert LoanApplication.objects.count() == 1
    assert Decision.objects.count() == 1


@pytest.mark.postgres
def test_applying_in_one_step_locks_only_the_merchant_and_reads_the_new_draft_no_more(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    merchant = verified_merchant_with_sales

    with CaptureQueriesContext(connection) as queries:
        application = application_apply(
            merchant=merchant, product=operating_loan, amount="20000", term=12, by=merchant.owner
        )

    assert application.state == "approved"
    statements = [query["sql"] for query in queries.captured_queries]
    locks = [sql for sql in statements if "FOR UPDATE" in sql]
    assert len(locks) == 1
    assert locks[0].startswith('SELECT "merchants_merchant"')
    # The new draft is not read back: the row the decision updates is the one just inserted.
    assert not [sql for sql in statements if sql.startswith('SELECT "lending_loanapplication"."id"')]


def test_applying_in_one_step_refuses_terms_the_product_does_not_allow_and_writes_nothing(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    merchant = verified_merchant_with_sales

    with pytest.raises(ValidationError) as refused:
        application_apply(merchant=merchant, product=operating_loan, amount="20000", term=30, by=merchant.owner)

    assert "term" in refused.value.message_dict
    assert not LoanApplication.objects.exists()
    assert not Decision.objects.exists()


def test_a_sales_share_advance_is_projected_from_the_merchants_own_daily_sales(
    verified_merchant_with_sales, loan_products, decisions_approve
):
    merchant = verified_merchant_with_sales

    application = apply_for(merchant, loan_products["sales-share-advance"], amount="30000", term=None)

    assert application.term is None
    assert application.average_daily_sales > Decimal("1000.00")
    assert application.state == "approved"
    assert application.offer_quote["sales_share"]["daily_deduction"]
    assert application.offer_apr > 0


# Submitting: the decision comes back at once.


def test_an_approved_application_carries_its_offer_and_two_audit_rows(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    before = timezone.now()

    application = apply_for(verified_merchant_with_sales, operating_loan)

    application.refresh_from_db()
    decision = application.decision
    assert application.state == "approved"
    assert decision.application_id == application.pk
    assert application.offer_amount == APPLIED_AMOUNT
    assert application.offer_term == 12
    assert application.offer_grade == decision.grade
    assert application.offer_price == operating_loan.price_for(decision.grade) == decision.price_rate
    assert application.offer_terms == product_terms_snapshot(product=operating_loan, grade=decision.grade)
    assert len(application.offer_quote["schedule"]) == 12
    assert Decimal(application.offer_quote["apr"]) == application.offer_apr > 0
    validity = datetime.timedelta(days=operating_loan.offer_validity_days)
    assert before + validity <= application.offer_expires_at <= timezone.now() + validity
    assert application.offered_by is None
    assert actions(application)[1:] == [
        ("application.submit", "draft", "submitted"),
        ("application.approve", "submitted", "approved"),
    ]
    assert notices_of(application.merchant) == [f"Your application #{application.pk} is approved"]


def test_a_referred_application_waits_for_an_officer_and_the_merchant_is_told(
    verified_merchant_with_sales, operating_loan, decisions_refer
):
    application = apply_for(verified_merchant_with_sales, operating_loan)

    assert application.state == "referred"
    assert application.offer_amount is None
    assert actions(application)[-1] == ("application.refer", "submitted", "referred")
    assert notices_of(application.merchant) == [f"Your application #{application.pk} is being reviewed"]
    assert "within one working day" in Notice.objects.get().body


def test_a_declined_application_keeps_the_reasons_and_what_would_change_the_outcome(
    verified_merchant_with_sales, operating_loan, decisions_decline
):
    application = apply_for(verified_merchant_with_sales, operating_loan)

    assert application.state == "declined"
    codes = [reason["code"] for reason in application.decline_reasons]
    assert codes[0] == "score-below-refer-level"
    assert "hint.sales-history" in codes
    assert all(reason["message_en"] and reason["message_zh"] for reason in application.decline_reasons)
    assert actions(application)[-1] == ("application.decline", "submitted", "declined")
    assert notices_of(application.merchant) == [f"Your application #{application.pk} was not approved"]


def test_an_amount_above_the_credit_line_is_referred_with_a_hint_to_ask_for_less(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    application = apply_for(verified_merchant_with_sales, operating_loan, amount="500000")

    assert application.state == "referred"
    codes = [reason["code"] for reason in application.decision.reasons]
    assert "amount-above-auto-ceiling" in codes


def test_without_an_active_scorecard_the_application_goes_to_an_officer(
    verified_merchant_with_sales, operating_loan, underwriting_rules
):
    Scorecard.objects.filter(pk=underwriting_rules.pk).update(state=ScorecardState.RETIRED)
    scorecard_cache_clear()

    application = apply_for(verified_merchant_with_sales, operating_loan)

    assert application.state == "referred"
    assert application.decision is None
    assert "No scorecard is active" in audit_trail(application).last().reason


def test_submitting_twice_is_a_conflict_and_changes_nothing(approved_application):
    rows = len(actions(approved_application))

    with pytest.raises(ApplicationConflict, match="Only a draft can be submitted"):
        application_submit(application=approved_application, by=approved_application.merchant.owner)

    approved_application.refresh_from_db()
    assert approved_application.state == "approved"
    assert len(actions(approved_application)) == rows
    assert Decision.objects.count() == 1


def test_only_the_owner_submits(draft_application, other_merchant_owner):
    with pytest.raises(PermissionDenied):
        application_submit(application=draft_application, by=other_merchant_owner)

    draft_application.refresh_from_db()
    assert draft_application.state == "draft"


def test_a_draft_whose_terms_the_product_no_longer_allows_is_refused_at_submission(draft_application, operating_loan):
    operating_loan.amount_max = Decimal("15000.00")
    operating_loan.save()

    with pytest.raises(ApplicationError) as caught:
        application_submit(application=draft_application, by=draft_application.merchant.owner)

    assert "15,000.00" in caught.value.message_dict["amount"][0]
    draft_application.refresh_from_db()
    assert draft_application.state == "draft"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submissions_of_one_draft_decide_it_exactly_once(draft_application, decisions_approve):
    def submit() -> str:
        application_submit(application=draft_application, by=draft_application.merchant.owner)
        return "won"

    outcomes = race(submit, times=2, conflicts=(ApplicationConflict,))

    assert sorted(outcomes) == [CONFLICT, "won"]
    draft_application.refresh_from_db()
    assert draft_application.state == "approved"
    assert Decision.objects.filter(application_id=draft_application.pk).count() == 1
    assert [action for action, _f, _t in actions(draft_application)].count("application.submit") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_submit_makes_one_application(
    verified_merchant_with_sales, operating_loan, decisions_approve
):
    merchant = verified_merchant_with_sales
    token = uuid.uuid4()

    def click() -> int:
        return application_apply(
            merchant=merchant,
            product=operating_loan,
            amount="20000",
            term=12,
            by=merchant.owner,
            submission_token=token,
        ).pk

    made = race(click, times=3)

    assert len(made) == 3
    assert len(set(made)) == 1
    assert LoanApplication.objects.count() == 1


# Accepting the offer.


def test_accepting_an_offer_queues_the_contract_after_commit(
    approved_application, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[int] = []

    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", queued.append)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        application = application_accept(application=approved_application, by=approved_application.merchant.owner)
        assert queued == []  # nothing leaves the transaction before it commits

    for callback in callbacks:
        callback()
    assert queued == [application.pk]
    application.refresh_from_db()
    assert application.state == "accepted"
    assert application.accepted_at is not None
    assert actions(application)[-1] == ("application.accept", "approved", "accepted")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_acceptances_accept_once_and_ask_for_one_contract(approved_application, monkeypatch):
    queued: list[int] = []

    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", queued.append)

    def accept() -> str:
        application_accept(application=approved_application, by=approved_application.merchant.owner)
        return "won"

    outcomes = race(accept, times=2, conflicts=(ApplicationConflict,))

    assert sorted(outcomes) == [CONFLICT, "won"]
    assert queued == [approved_application.pk]
    assert [action for action, _f, _t in actions(approved_application)].count("application.accept") == 1


def test_an_expired_offer_cannot_be_accepted_and_is_expired_on_the_spot(approved_application):
    LoanApplication.objects.filter(pk=approved_application.pk).update(
        offer_expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    with pytest.raises(ApplicationConflict) as caught:
        application_accept(application=approved_application, by=approved_application.merchant.owner)

    assert caught.value.code == "offer_expired"
    assert "This offer expired on" in caught.value.message
    approved_application.refresh_from_db()
    assert approved_application.state == "expired"
    assert actions(approved_application)[-1] == ("application.expire", "approved", "expired")
    assert notices_of(approved_application.merchant)[-1] == f"Your loan offer #{approved_application.pk} has expired"


def test_a_referred_application_has_no_offer_to_accept(referred_application):
    with pytest.raises(ApplicationConflict, match="Only an approved offer can be accepted"):
        application_accept(application=referred_application, by=referred_application.merchant.owner)

    referred_application.refresh_from_db()
    assert referred_application.state == "referred"


def test_only_the_owner_accepts(approved_application, other_merchant_owner):
    with pytest.raises(PermissionDenied):
        application_accept(application=approved_application, by=other_merchant_owner)

    approved_application.refresh_from_db()
    assert approved_application.state == "approved"


# Withdrawing.


@pytest.mark.parametrize("fixture", ["draft_application", "approved_application", "accepted_application"])
def test_the_owner_withdraws_before_the_contract_is_ready(request, fixture):
    application = request.getfixturevalue(fixture)
    from_state = application.state

    application_withdraw(application=application, by=application.merchant.owner, reason="Found cheaper credit")

    application.refresh_from_db()
    assert application.state == "withdrawn"
    assert application.closed_at is not None
    event = audit_trail(application).last()
    assert (event.action, event.from_state, event.to_state, event.reason) == (
        "application.withdraw",
        from_state,
        "withdrawn",
        "Found cheaper credit",
    )


def test_a_declined_application_cannot_be_withdrawn(declined_application):
    with pytest.raises(ApplicationConflict, match="this one is Declined"):
        application_withdraw(application=declined_application, by=declined_application.merchant.owner)


def test_only_the_owner_withdraws(approved_application, other_merchant_owner):
    with pytest.raises(PermissionDenied):
        application_withdraw(application=approved_application, by=other_merchant_owner)


# Officers.


def test_an_officer_approves_a_referred_application_at_its_decided_grade(referred_application, deciding_officer):
    application = application_approve(application=referred_application, by=deciding_officer, note="Checked the bank")

    application.refresh_from_db()
    assert application.state == "approved"
    assert application.offered_by == deciding_officer
    assert application.is_counter_offer is False
    assert application.offer_grade == referred_application.decision.grade
    assert application.offer_amount == APPLIED_AMOUNT
    assert application.offer_apr > 0
    event = audit_trail(application).last()
    assert (event.action, event.actor, event.from_state, event.to_state, event.reason) == (
        "application.approve",
        deciding_officer,
        "referred",
        "approved",
        "Checked the bank",
    )
    assert notices_of(application.merchant)[-1] == f"Your application #{application.pk} is approved"


def test_someone_without_the_permission_to_decide_cannot_approve(referred_application, partner_user):
    with pytest.raises(PermissionDenied, match="permission to decide"):
        application_approve(application=referred_application, by=partner_user)

    referred_application.refresh_from_db()
    assert referred_application.state == "referred"


def test_an_officer_cannot_decide_for_a_business_of_their_own(deciding_officer, operating_loan, decisions_refer):
    own = make_verified_merchant(deciding_officer)
    application = apply_for(own, operating_loan)

    with pytest.raises(PermissionDenied, match="business you own"):
        application_approve(application=application, by=deciding_officer)


def test_an_officer_only_decides_referred_applications(approved_application, deciding_officer):
    with pytest.raises(ApplicationConflict, match="Only a referred application"):
        application_decline(application=approved_application, by=deciding_officer, reason="No")


def test_a_counter_offer_is_an_approval_on_the_officers_terms(referred_application, deciding_officer):
    application = application_counter_offer(
        application=referred_application,
        by=deciding_officer,
        amount="15000",
        term=6,
        price="0.15",
        repayment_method="equal_principal",
        note="Less, for less time",
    )

    application.refresh_from_db()
    assert application.state == "approved"
    assert application.is_counter_offer is True
    assert application.offered_by == deciding_officer
    assert (application.offer_amount, application.offer_term) == (Decimal("15000.00"), 6)
    assert application.offer_repayment_method == "equal_principal"
    assert application.offer_price == Decimal("0.150000")
    assert application.offer_terms["price"] == "0.150000"
    assert len(application.offer_quote["schedule"]) == 6
    assert application.offer_apr > Decimal("15")  # the fee taken from the payout adds to the rate
    event = audit_trail(application).last()
    assert event.action == "application.counter_offer"
    assert event.data["amount"] == "15000.00"
    assert notices_of(application.merchant)[-1] == f"A counter-offer for your application #{application.pk}"


def test_a_counter_offer_outside_the_product_is_refused_by_field(referred_application, deciding_officer):
    with pytest.raises(ApplicationError) as caught:
        application_counter_offer(
            application=referred_application, by=deciding_officer, amount="5000", term=30, price="0.5"
        )

    errors = caught.value.message_dict
    assert errors["amount"] == [
        "Enter an amount between 10,000.00 and 500,000.00 yuan, with at most two decimal places."
    ]
    assert errors["term"] == ["Allowed terms are from 3 to 24 months."]
    assert errors["price"][0].startswith("Enter a price from 0.072 to 0.17")
    referred_application.refresh_from_db()
    assert referred_application.state == "referred"


def test_an_officer_declines_with_the_reason_the_merchant_will_read(referred_application, deciding_officer):
    application = application_decline(
        application=referred_application, by=deciding_officer, reason="The settlement account is not the business's."
    )

    application.refresh_from_db()
    assert application.state == "declined"
    assert application.decline_reasons[0]["message_en"] == "The settlement account is not the business's."
    assert audit_trail(application).last().reason == "The settlement account is not the business's."


def test_declining_needs_a_reason(referred_application, deciding_officer):
    with pytest.raises(ApplicationError) as caught:
        application_decline(application=referred_application, by=deciding_officer, reason="  ")

    assert "reason" in caught.value.message_dict
    referred_application.refresh_from_db()
    assert referred_application.state == "referred"


def test_asking_for_documents_tells_the_merchant_and_keeps_the_state(referred_application, deciding_officer):
    application = application_request_documents(
        application=referred_application, by=deciding_officer, message="Bank statements for the last 3 months"
    )

    application.refresh_from_db()
    assert application.state == "referred"
    assert application.documents_requested == "Bank statements for the last 3 months"
    event = audit_trail(application).last()
    assert (event.action, event.from_state, event.to_state) == (
        "application.documents_requested",
        "referred",
        "referred",
    )
    notice = Notice.objects.filter(user=application.merchant.owner).order_by("id").last()
    assert notice.title == f"Documents needed for your application #{application.pk}"
    assert "Bank statements" in notice.body


def test_documents_are_only_asked_for_while_the_application_is_reviewed(approved_application, deciding_officer):
    with pytest.raises(ApplicationConflict, match="Only a referred application"):
        application_request_documents(application=approved_application, by=deciding_officer, message="Statements")

    approved_application.refresh_from_db()
    assert approved_application.documents_requested == ""


def test_a_counter_offer_needs_the_permission_to_decide(referred_application, partner_user):
    with pytest.raises(PermissionDenied, match="permission to decide"):
        application_counter_offer(
            application=referred_application, by=partner_user, amount="15000", term=6, price="0.15"
        )


def test_a_loan_officer_holds_the_permission_to_decide_through_the_role(loan_officer):
    assert loan_officer.has_perm("lending.decide_application")


def test_a_notice_is_emailed_after_the_commit(
    referred_application, deciding_officer, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        application_approve(application=referred_application, by=deciding_officer)

    assert [mail.subject for mail in mailoutbox] == [f"Your application #{referred_application.pk} is approved"]
    assert mailoutbox[0].to == [referred_application.merchant.owner.email]
    assert f"/loans/applications/{referred_application.pk}/" in mailoutbox[0].body
