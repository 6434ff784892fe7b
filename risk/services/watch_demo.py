"""The demo's loan-and-run case: a merchant whose platform sales collapse after its loan is paid out.

``make run`` loads it (``load_demo`` sends ``lending.demo_hooks.demo_loaded``; ``risk.services.watch_hooks``
connects this) and then runs the day's fraud watch and model drift job (the demo has no beat), so the back office
opens with a loan-and-run alert on it:

- ``runaway@demo.example`` (the shared demo password) owns 「演示·卷款跑路」, a verified shop with two years of
  steady platform sales, drawn as every demo merchant's are (``merchants.services.demo``);
- ``PAYOUT_DAYS_AGO`` days ago it applied for an operating loan of about a month of its sales, was decided by the
  engine on the sales on file up to that day, accepted, signed and was paid out by the sandbox rail, each step
  through the portal's own services with the clock set to that day (``demo_clock``), as the history's loans were;
- from the day after the payout its platform sales are ``COLLAPSE`` of what they would have been: the shop takes
  the money and runs. Its first instalment is not due yet, so nothing else flags it.

Idempotent: found by its login, the case is never made twice; the watch for the day adds nothing on a second load.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from allauth.account.models import EmailAddress
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from accounts.services.roles import user_grant_role
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.applications import application_accept, application_apply, application_approve
from lending.origination.services.contracts import contract_newest, contract_prepare, contract_render, contract_sign
from lending.origination.services.demo import demo_clock
from lending.origination.services.funding import application_fund, disbursement_send
from lending.servicing.models import Loan
from lending.servicing.services.daily import servicing_run_day
from merchants.choices import KycState, SalesSource
from merchants.models import Merchant
from merchants.selectors.watch import SalesWindow, sales_window_totals
from merchants.services.demo import DEMO_PASSWORD, demo_merchant, demo_sales, verified_merchant
from merchants.services.sales import sales_import_rows
from risk.models.watch import WatchAlert, WatchAlertKind
from risk.services.watch import watch_alerts_raise
from risk.services.watch_drift import stability_readings_compute

DEMO_EMAIL = "runaway@demo.example"
DEMO_NAME = "演示·卷款跑路便利店 (demo: loan-and-run)"
# Drawn as the demo's merchants are, at an index of its own (merchant@demo.example's is 9,999,999).
DEMO_SEED = 20250101
DEMO_INDEX = 9_999_998
SALES_DAYS = 730
PAYOUT_DAYS_AGO = 25
# After the payout the shop takes this share of what it used to.
COLLAPSE = Decimal("0.05")
PRODUCT = "operating-loan"
TERM = 6
BATCH = "demo-loan-and-run"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _owner() -> User:
    user = User.objects.filter(email=DEMO_EMAIL).first() or User.objects.create_user(
        DEMO_EMAIL, DEMO_PASSWORD, first_name="Pao", last_name="Lu"
    )
    user_grant_role(user=user, role=Role.MERCHANT_OWNER, by=None, reason="demo data")
    EmailAddress.objects.get_or_create(user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True})
    return user


def _merchant(owner: User, *, today: datetime.date, payout_day: datetime.date) -> Merchant:
    profile = replace(demo_merchant(seed=DEMO_SEED, index=DEMO_INDEX), pattern="steady", legal_name=DEMO_NAME)
    joined = _at(today - datetime.timedelta(days=SALES_DAYS), 9)
    merchant = verified_merchant(profile, owner=owner, now=joined)
    merchant.save()
    audit_record(
        subject=merchant,
        action="kyc.seed_verified",
        to_state=KycState.VERIFIED,
        reason="Demo data: the loan-and-run case of the fraud watch, created as verified.",
        data={"seed": DEMO_SEED},
    )
    yesterday = today - datetime.timedelta(days=1)
    dates = [yesterday - datetime.timedelta(days=SALES_DAYS - 1 - k) for k in range(SALES_DAYS)]
    rows = []
    for position, gross_fen, refund_fen, transactions, customers in demo_sales(profile, dates):
        gross, refunds = Decimal(gross_fen).scaleb(-2), Decimal(refund_fen).scaleb(-2)
        if dates[position] > payout_day:
            # The money is out: the shop stops trading on the platform, bar a trickle.
            gross = (gross * COLLAPSE).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            refunds = (refunds * COLLAPSE).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            transactions, customers = int(transactions * COLLAPSE), int(customers * COLLAPSE)
        rows.append(
            {
                "date": dates[position].isoformat(),
                "gross_sales": str(gross),
                "refunds": str(refunds),
                "transaction_count": transactions,
                "distinct_customers": min(customers, transactions),
            }
        )
    # As the platform's settlement feed sends them, through the import it uses: the watch reads platform rows only.
    sales_import_rows(merchant=merchant, rows=rows, by=None, source=SalesSource.PLATFORM, batch_id=BATCH)
    return merchant


def _borrow(
    merchant: Merchant,
    *,
    payout_day: datetime.date,
    officer: User,
    lenders_answer: Callable[[LoanApplication], None] | None = None,
) -> Loan:
    """Apply, be decided, accept, sign and be paid out on ``payout_day``, through the services."""
    product = LoanProduct.objects.get(code=PRODUCT)
    owner = merchant.owner
    with demo_clock(_at(payout_day, 10)):
        month = SalesWindow("month", merchant.pk, payout_day - datetime.timedelta(days=30), payout_day)
        monthly = sales_window_totals(windows=[month])["month"].gross_sales
        amount = (monthly * Decimal("0.8") / 1000).to_integral_value(rounding=ROUND_DOWN) * 1000
        amount = min(max(amount, product.amount_min), Decimal("150000.00"))
        application = application_apply(
            merchant=merchant,
            product=product,
            amount=amount,
            term=TERM,
            repayment_method=product.repayment_methods[0],
            by=owner,
        )
    if application.state == ApplicationState.REFERRED:
        with demo_clock(_at(payout_day, 10, 20)):
            application = application_approve(
                application=application, by=officer, note="Steady sales for two years; checked by phone."
            )
    if application.state != ApplicationState.APPROVED:
        raise LookupError(f"The loan-and-run demo case was {application.state}, not approved.")
    with demo_clock(_at(payout_day, 10, 40)):
        application_accept(application=application, by=owner)
        if lenders_answer is not None:
            # A partner bank offered the loan answers first (the demo loader plays it), so the contract names it.
            lenders_answer(application)
        contract = contract_prepare(application_id=application.pk) or contract_newest(application=application)
        if contract is None:
            raise LookupError("The loan-and-run demo case still waits for a partner bank's answer.")
        if contract.status == Contract.Status.RENDERING:
            contract = contract_render(contract_id=contract.pk)
        contract_sign(
            contract=contract,
            by=owner,
            ip="203.0.113.66",
            user_agent="Mozilla/5.0 (demo: loan-and-run)",
            consent=True,
            reauthenticated_with="password",
        )
        loan = application_fund(application=LoanApplication.objects.get(pk=application.pk))
        disbursement_send(disbursement_id=loan.disbursement.pk)
    return loan


def watch_demo_load(
    *, today: datetime.date, officer: User, lenders_answer: Callable[[LoanApplication], None] | None = None
) -> str:
    """Make the loan-and-run case once, run the day's fraud watch, and say where its alert is."""
    if not Merchant.objects.filter(owner__email=DEMO_EMAIL).exists():
        payout_day = today - datetime.timedelta(days=PAYOUT_DAYS_AGO)
        with (
            _quiet(),
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            transaction.atomic(),
        ):
            merchant = _merchant(_owner(), today=today, payout_day=payout_day)
            loan = _borrow(merchant, payout_day=payout_day, officer=officer, lenders_answer=lenders_answer)
            # Serviced up to today like every loan of the demo. The nightly runs of those days were done before
            # this loan existed (a day's run is done once), so each day after the payout is run for this loan
            # alone, as the chunk of the nightly run holding it would have (a night's run opens the day, at 01:00).
            for offset in range(1, (today - payout_day).days + 1):
                day = payout_day + datetime.timedelta(days=offset)
                with demo_clock(min(_at(day, 1), timezone.now())):
                    servicing_run_day(on=day, loans=(loan.pk, loan.pk))
    run = watch_alerts_raise(on=today)
    # The demo has no beat: the day's stability readings are computed here as the nightly job would.
    drift = stability_readings_compute(on=today)
    alert = (
        WatchAlert.objects.filter(merchant__owner__email=DEMO_EMAIL, kind=WatchAlertKind.LOAN_AND_RUN)
        .order_by("-pk")
        .first()
    )
    line = _(
        "Fraud after payout: %(raised)d alert(s) raised today; model drift: %(readings)d stability reading(s), "
        "%(drift)d drift alert(s)."
    ) % {"raised": run.raised, "readings": drift.readings, "drift": drift.alerts}
    if alert is not None:
        line += " " + _(
            "The loan-and-run case (%(email)s): %(name)s, alert #%(id)s at /admin/risk/watchalert/%(id)s/change/"
        ) % {"email": DEMO_EMAIL, "name": DEMO_NAME, "id": alert.pk}
    return line


__all__ = ["DEMO_EMAIL", "DEMO_NAME", "watch_demo_load"]
