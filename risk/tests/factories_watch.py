"""Paid-out loans and platform sales around their payout, for the fraud watch's tests; and an active scorecard with
a known training population for model drift."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import Disbursement, Loan
from lending.servicing.tests.factories import make_loan
from merchants.choices import SalesSource
from merchants.models import SalesDay
from underwriting.choices import ScorecardState
from underwriting.models import Decision, Scorecard

PAID = datetime.date(2026, 6, 1)
# The job's day: 21 days after the payout, so the 20 days since it are compared (the job's own day is not in yet).
ON = PAID + datetime.timedelta(days=21)


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def paid_out_loan(merchant, *, paid_out_on: datetime.date = PAID, principal_each: str = "1000.00") -> Loan:
    """An active loan paid out on ``paid_out_on`` to the merchant's settlement account as it is now."""
    loan = make_loan(merchant, LoanProductFactory(), start=paid_out_on, principal_each=Decimal(principal_each))
    # The payout as the funding journey leaves it: set here, since these tests pick their own dates.
    Loan.objects.filter(pk=loan.pk).update(activated_at=at(paid_out_on))
    Disbursement.objects.create(
        loan=loan,
        amount=loan.principal,
        account_name=merchant.settlement_account_name,
        account_number=merchant.settlement_account_number,
        bank_name=merchant.settlement_bank_name,
        status=Disbursement.Status.SUCCEEDED,
        completed_at=at(paid_out_on),
    )
    return Loan.objects.get(pk=loan.pk)


def sales_days(
    merchant,
    *,
    start: datetime.date,
    end: datetime.date,
    gross: str,
    refunds: str = "0.00",
    source: str = SalesSource.PLATFORM,
) -> None:
    """One row a day from ``start`` to ``end`` (inclusive) with the same figures."""
    days = (end - start).days + 1
    SalesDay.all_rows.bulk_create(
        SalesDay(
            merchant=merchant,
            date=start + datetime.timedelta(days=offset),
            gross_sales=Decimal(gross),
            refunds=Decimal(refunds),
            transaction_count=50 if Decimal(gross) else 0,
            distinct_customers=40 if Decimal(gross) else 0,
            source=source,
        )
        for offset in range(days)
    )


def history_around_payout(
    merchant, *, before: str = "1000.00", after: str = "100.00", paid: datetime.date = PAID, on: datetime.date = ON
) -> None:
    """90 days of platform sales at ``before`` a day up to the payout, then ``after`` a day up to the job's eve."""
    sales_days(merchant, start=paid - datetime.timedelta(days=90), end=paid - datetime.timedelta(days=1), gross=before)
    sales_days(merchant, start=paid, end=on - datetime.timedelta(days=1), gross=after)


# Score bands as train_scorecard stores them: 20 % below 550, 30 % in each of the next two, 20 % from 650.
TRAINING = {
    "rows": 1000,
    "edges": [550.0, 600.0, 650.0],
    "bands": [
        {"lower": None, "upper": 550.0, "share": 0.2},
        {"lower": 550.0, "upper": 600.0, "share": 0.3},
        {"lower": 600.0, "upper": 650.0, "share": 0.3},
        {"lower": 650.0, "upper": None, "share": 0.2},
    ],
}


def active_scorecard(*, activated: datetime.datetime) -> Scorecard:
    return Scorecard.objects.create(
        name="Expert",
        version=1,
        state=ScorecardState.ACTIVE,
        approve_min_score=Decimal("600"),
        refer_min_score=Decimal("550"),
        training_distribution=TRAINING,
        activated_at=activated,
    )


def decided(scorecard: Scorecard, merchant, scores: list[str], *, at_moment: datetime.datetime) -> None:
    Decision.objects.bulk_create(
        Decision(
            merchant=merchant,
            scorecard=scorecard,
            outcome="approve",
            grade="C",
            score=Decimal(score),
            requested_amount=Decimal("50000.00"),
            snapshot={},
            decided_at=at_moment,
        )
        for score in scores
    )


def open_alert(merchant, *, loan: Loan | None = None, kind: str = "loan_and_run", evidence: dict | None = None):
    """An open alert as the job leaves one, for tests of what officers do with it (the job is tested apart)."""
    from risk.models.watch import WatchAlert

    return WatchAlert.objects.create(
        merchant=merchant,
        loan=loan or paid_out_loan(merchant),
        kind=kind,
        raised_on=ON,
        evidence=evidence or {"paid_out_on": PAID.isoformat()},
    )
