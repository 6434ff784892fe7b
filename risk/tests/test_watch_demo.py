"""The demo's loan-and-run case: ``make run`` opens on a loan-and-run alert with its evidence."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from lending.catalogue.services.demo import products_seed
from lending.servicing.models import Loan, LoanState
from risk.models.watch import WatchAlert, WatchAlertKind
from risk.services.watch_demo import DEMO_EMAIL, DEMO_NAME, PAYOUT_DAYS_AGO, watch_demo_load
from underwriting.services.demo import underwriting_seed


def test_the_demo_merchant_whose_sales_collapse_after_payout_gets_a_loan_and_run_alert(loan_officer):
    products_seed()
    underwriting_seed()
    today = timezone.localdate()

    line = watch_demo_load(today=today, officer=loan_officer)

    loan = Loan.objects.get(merchant__owner__email=DEMO_EMAIL)
    assert (loan.state, loan.serviced_on) == (LoanState.ACTIVE, today)
    assert (today - timezone.localdate(loan.activated_at)).days == PAYOUT_DAYS_AGO
    alert = WatchAlert.objects.get(loan=loan)
    assert (alert.kind, alert.raised_on) == (WatchAlertKind.LOAN_AND_RUN, today)
    assert Decimal(alert.evidence["ratio"]) < Decimal("0.10")
    assert alert.evidence["after"]["days"] == PAYOUT_DAYS_AGO - 1
    assert f"The loan-and-run case ({DEMO_EMAIL}): {DEMO_NAME}, alert #{alert.pk}" in line
    # The demo has no beat: the day's drift job runs with it (here with too few decisions for a reading).
    assert "model drift: 0 stability reading(s), 0 drift alert(s)" in line

    again = watch_demo_load(today=today, officer=loan_officer)

    assert "0 alert(s) raised today" in again
    assert Loan.objects.filter(merchant__owner__email=DEMO_EMAIL).count() == 1
    assert WatchAlert.objects.count() == 1
