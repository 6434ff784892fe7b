"""Officers' answers to a fraud alert after payout, and what they change below: borrowing frozen, a loan marked as
fraud, its loss reported apart."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from core.exceptions import StateConflict
from core.selectors.audit import audit_trail
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.applications import ApplicationError, application_create, application_submit
from lending.servicing.models import Loan
from lending.servicing.selectors.portfolio import portfolio_figures, portfolio_loss_by_cause
from lending.servicing.services.fraud import loan_mark_fraud
from merchants.models import Merchant
from merchants.services.borrowing_freeze import merchant_borrowing_freeze, merchant_borrowing_unfreeze
from merchants.tests.factories import make_verified_merchant
from risk.models.watch import WatchAlert, WatchAlertKind, WatchAlertStatus
from risk.services.watch import (
    watch_alert_confirm_fraud,
    watch_alert_dismiss,
    watch_alert_freeze_borrowing,
    watch_alerts_raise,
)
from risk.tests.factories_watch import ON, history_around_payout, open_alert, paid_out_loan

FROZEN_MESSAGE = "New loans are paused for your business while our team reviews your account"


@pytest.fixture
def alert(merchant):
    paid_out_loan(merchant)
    history_around_payout(merchant, before="1000.00", after="100.00")
    watch_alerts_raise(on=ON)
    return WatchAlert.objects.get(kind=WatchAlertKind.LOAN_AND_RUN)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


# Dismiss.


def test_an_officer_dismisses_an_alert_with_a_reason(alert, loan_officer):
    watch_alert_dismiss(alert=alert, by=loan_officer, note="Shop closed for a refit; reopening next week.")

    alert = fresh(alert)
    assert (alert.status, alert.resolved_by, alert.resolution_note) == (
        WatchAlertStatus.DISMISSED,
        loan_officer,
        "Shop closed for a refit; reopening next week.",
    )
    event = audit_trail(alert).last()
    assert (event.action, event.from_state, event.to_state, event.actor) == (
        "watch_alert.dismiss",
        "open",
        "dismissed",
        loan_officer,
    )


def test_dismissing_needs_a_reason(alert, loan_officer):
    with pytest.raises(ValidationError) as caught:
        watch_alert_dismiss(alert=alert, by=loan_officer, note="  ")

    assert caught.value.message_dict == {"note": ["Say why; it is kept with the alert and in the audit trail."]}
    assert fresh(alert).status == WatchAlertStatus.OPEN


def test_an_alert_is_dismissed_once(alert, loan_officer):
    watch_alert_dismiss(alert=alert, by=loan_officer, note="False positive.")

    with pytest.raises(StateConflict, match=r"already dismissed; only an open alert can be worked"):
        watch_alert_dismiss(alert=alert, by=loan_officer, note="Again.")


def test_someone_without_the_permission_cannot_dismiss(alert, merchant_owner, staff_without_role):
    for person in (merchant_owner, staff_without_role):
        with pytest.raises(PermissionDenied, match="permission to work fraud alerts after payout"):
            watch_alert_dismiss(alert=alert, by=person, note="Not mine to close.")
    assert fresh(alert).status == WatchAlertStatus.OPEN


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_dismissing_at_once_close_it_once(merchant, loan_officer, senior_officer):
    paid_out_loan(merchant)
    history_around_payout(merchant)
    watch_alerts_raise(on=ON)
    alert = WatchAlert.objects.get()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def dismiss(officer) -> None:
        try:
            barrier.wait()
            watch_alert_dismiss(alert=alert, by=officer, note=f"Checked by {officer}.")
            outcomes.append("dismissed")
        except StateConflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=dismiss, args=(officer,)) for officer in (loan_officer, senior_officer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["dismissed", "not_open"]
    assert [event.action for event in audit_trail(alert)] == ["watch_alert.raise", "watch_alert.dismiss"]


# Freeze the merchant's further borrowing.


def test_freezing_borrowing_stops_new_applications_and_keeps_the_alert_open(db, loan_officer, merchant_owner):
    merchant = make_verified_merchant(merchant_owner)
    alert = open_alert(merchant)
    product = LoanProductFactory()

    watch_alert_freeze_borrowing(alert=alert, by=loan_officer, note="Sales stopped after the payout; calling.")

    merchant = fresh(merchant)
    assert merchant.borrowing_frozen
    assert merchant.borrowing_frozen_by == loan_officer
    assert fresh(alert).status == WatchAlertStatus.OPEN
    event = audit_trail(merchant).last()
    assert (event.action, event.to_state, event.data["watch_alert"]) == (
        "merchant.borrowing_freeze",
        "frozen",
        alert.pk,
    )
    with pytest.raises(ApplicationError, match=FROZEN_MESSAGE) as caught:
        application_create(merchant=merchant, product=product, amount="20000", term=6, by=merchant_owner)
    assert caught.value.code == "borrowing_frozen"


def test_a_draft_made_before_the_freeze_cannot_be_submitted_after_it(db, loan_officer, merchant_owner):
    merchant = make_verified_merchant(merchant_owner)
    product = LoanProductFactory()
    draft = application_create(merchant=merchant, product=product, amount="20000", term=6, by=merchant_owner)

    merchant_borrowing_freeze(merchant=merchant, by=loan_officer, reason="Settlement account changed after payout.")

    with pytest.raises(ApplicationError, match=FROZEN_MESSAGE):
        application_submit(application=draft, by=merchant_owner)
    assert fresh(draft).state == "draft"


def test_a_freeze_is_set_once_needs_a_reason_and_the_permission(merchant, loan_officer, merchant_owner):
    with pytest.raises(ValidationError, match="say why the merchant's borrowing is frozen"):
        merchant_borrowing_freeze(merchant=merchant, by=loan_officer, reason="")
    with pytest.raises(PermissionDenied, match="permission to freeze a merchant's borrowing"):
        merchant_borrowing_freeze(merchant=merchant, by=merchant_owner, reason="Mine.")
    merchant_borrowing_freeze(merchant=merchant, by=loan_officer, reason="Dormant since payout.")
    with pytest.raises(StateConflict, match="borrowing is already frozen") as caught:
        merchant_borrowing_freeze(merchant=merchant, by=loan_officer, reason="Again.")

    assert caught.value.code == "already_frozen"
    assert fresh(merchant).borrowing_frozen_reason == "Dormant since payout."


def test_only_a_senior_officer_lifts_a_freeze(merchant, loan_officer, senior_officer):
    merchant_borrowing_freeze(merchant=merchant, by=loan_officer, reason="Dormant since payout.")

    with pytest.raises(PermissionDenied, match="lift a freeze"):
        merchant_borrowing_unfreeze(merchant=merchant, by=loan_officer, reason="Trading again.")
    merchant_borrowing_unfreeze(merchant=merchant, by=senior_officer, reason="Trading again; called the owner.")

    assert not fresh(merchant).borrowing_frozen
    assert audit_trail(merchant).last().action == "merchant.borrowing_unfreeze"


# Confirm as fraud: the loan is marked, the merchant frozen, the loss reported apart.


def test_confirming_fraud_marks_the_loan_freezes_the_merchant_and_closes_the_alert(alert, senior_officer):
    watch_alert_confirm_fraud(alert=alert, by=senior_officer, note="The shop is empty; owner unreachable.")

    alert = fresh(alert)
    loan = Loan.objects.get(pk=alert.loan_id)
    assert alert.status == WatchAlertStatus.FRAUD
    assert (loan.fraud_marked_by, loan.fraud_reason) == (senior_officer, "The shop is empty; owner unreachable.")
    assert Merchant.objects.get(pk=alert.merchant_id).borrowing_frozen
    assert [event.action for event in audit_trail(loan)] == ["loan.mark_fraud"]
    assert [event.action for event in audit_trail(alert)] == ["watch_alert.raise", "watch_alert.confirm_fraud"]


def test_a_loan_officer_cannot_mark_a_loan_as_fraud_and_nothing_changes(alert, loan_officer):
    with pytest.raises(PermissionDenied, match="permission to mark a loan as fraud"):
        watch_alert_confirm_fraud(alert=alert, by=loan_officer, note="Looks like fraud.")

    assert fresh(alert).status == WatchAlertStatus.OPEN
    assert Loan.objects.get(pk=alert.loan_id).fraud_marked_at is None
    assert not Merchant.objects.get(pk=alert.merchant_id).borrowing_frozen


def test_a_second_alert_on_a_loan_already_marked_is_still_closed_as_fraud(alert, senior_officer):
    loan_mark_fraud(loan=alert.loan, by=senior_officer, reason="Reported by the platform.")

    watch_alert_confirm_fraud(alert=alert, by=senior_officer, note="Same case.")

    assert fresh(alert).status == WatchAlertStatus.FRAUD
    assert Loan.objects.get(pk=alert.loan_id).fraud_reason == "Reported by the platform."


def test_a_loan_is_marked_as_fraud_once_and_only_after_its_payout(merchant, senior_officer):
    loan = paid_out_loan(merchant)
    loan_mark_fraud(loan=loan, by=senior_officer, reason="Ran.")
    with pytest.raises(StateConflict, match="already marked as fraud"):
        loan_mark_fraud(loan=loan, by=senior_officer, reason="Ran again.")
    Loan.objects.filter(pk=loan.pk).update(fraud_marked_at=None, activated_at=None)
    with pytest.raises(StateConflict, match="was never paid out"):
        loan_mark_fraud(loan=loan, by=senior_officer, reason="Ran.")


def test_fraud_losses_are_reported_apart_from_credit_losses(merchant, other_merchant, senior_officer):
    fraud = paid_out_loan(merchant)
    credit = paid_out_loan(other_merchant)
    # Written off as an approved write-off leaves them (the write-off itself is lending's, tested there).
    for loan, principal in ((fraud, "5000.00"), (credit, "3000.00")):
        Loan.objects.filter(pk=loan.pk).update(
            state="written_off", written_off_at=loan.activated_at, written_off_principal=Decimal(principal)
        )
    loan_mark_fraud(loan=fraud, by=senior_officer, reason="Took the money and closed the shop.")

    split = portfolio_loss_by_cause()

    assert (split.fraud.loss, split.credit.loss, split.loans_marked_fraud) == (
        Decimal("5000.00"),
        Decimal("3000.00"),
        1,
    )
    assert split.fraud.loss + split.credit.loss == portfolio_figures().loss


def test_the_portfolio_page_shows_fraud_loss_apart(client, merchant, other_merchant, senior_officer):
    fraud = paid_out_loan(merchant)
    Loan.objects.filter(pk=fraud.pk).update(
        state="written_off", written_off_at=fraud.activated_at, written_off_principal=Decimal("5000.00")
    )
    loan_mark_fraud(loan=fraud, by=senior_officer, reason="Ran.")
    client.force_login(senior_officer)

    page = client.get("/admin/lending/collections/portfolio/").content.decode()

    assert '<td id="fraud-loss">5,000.00</td>' in page
    assert '<td id="credit-loss">0.00</td>' in page
    assert "Fraud (1 loan marked as fraud)" in page
