"""Every figure of the portfolio dashboard against the same figure computed here, independently, from the raw rows
(loans, instalments, applications read one by one in Python); and the number of queries does not grow with the
portfolio."""

from __future__ import annotations

import datetime
import itertools
import math
import random
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lending.catalogue.money.dates import add_months
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, Loan, LoanState
from merchants.choices import Industry, Province
from merchants.tests.factories import MerchantFactory
from partners.models import LoanShare
from partners.tests.factories import funding_partner
from risk.selectors.portfolio import month_end, portfolio_dashboard
from risk.tests.factories_stress import book_loan
from underwriting.choices import Outcome
from underwriting.tests.factories import DecisionFactory

ON_BOOK = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)
INDUSTRIES = (Industry.GROCERY, Industry.RESTAURANT, Industry.BEAUTY)
PROVINCES = (Province.GUANGDONG, Province.ZHEJIANG)
BUCKETS = (("current", 0, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, 10**9))


def _moment(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def make_book(*, seed: int, loans: int, applications: int, today: datetime.date) -> None:
    """A varied book: loans started over the last eight months, some repaid late, some in arrears, defaulted,
    written off or paid off; applications at every stage of the funnel."""
    rng = random.Random(seed)
    products = [LoanProductFactory(code=f"dash-{seed}-{k}") for k in range(2)]
    for _ in range(loans):
        months = 6
        start = today - datetime.timedelta(days=rng.randint(20, 240))
        elapsed = sum(1 for n in range(1, months + 1) if add_months(start, n) < today)
        paid = rng.randint(0, elapsed)
        loan = book_loan(
            product=rng.choice(products),
            industry=rng.choice(INDUSTRIES),
            province=rng.choice(PROVINCES),
            grade=rng.choice("ABCD"),
            outstanding=Decimal(1200) * (months - paid) if paid < months else Decimal(1200),
            months=months,
            paid=min(paid, months - 1),
            start=start,
            paid_days_late=rng.choice([0, 0, 12, 45]),
        )
        first_unpaid = add_months(start, min(paid, months - 1) + 1)
        dpd = max((today - first_unpaid).days, 0)
        fields = {"activated_at": _moment(start), "days_past_due": dpd}
        if dpd > 90:
            defaulted = first_unpaid + datetime.timedelta(days=91)
            fields |= {"state": LoanState.DEFAULTED, "defaulted_at": _moment(defaulted)}
            if rng.random() < 0.4:
                fields |= {"state": LoanState.WRITTEN_OFF, "closed_at": _moment(defaulted + datetime.timedelta(10))}
        elif dpd > 0:
            fields["state"] = LoanState.OVERDUE
        elif rng.random() < 0.15:
            fields |= {"state": LoanState.PAID_OFF, "closed_at": _moment(today - datetime.timedelta(days=3))}
        Loan.objects.filter(pk=loan.pk).update(**fields)

    merchants = [MerchantFactory() for _ in range(3)]
    product = products[0]
    for _ in range(applications):
        submitted = _moment(today - datetime.timedelta(days=rng.randint(0, 200)), hour=rng.randint(8, 20))
        outcome = rng.choice([Outcome.APPROVE, Outcome.APPROVE, Outcome.REFER, Outcome.DECLINE])
        merchant = rng.choice(merchants)
        fields = {"submitted_at": submitted}
        if outcome == Outcome.APPROVE:
            state = rng.choice([ApplicationState.APPROVED, ApplicationState.SIGNED, ApplicationState.FUNDED])
        elif outcome == Outcome.REFER:
            state = rng.choice([ApplicationState.REFERRED, ApplicationState.APPROVED, ApplicationState.DECLINED])
        else:
            state = ApplicationState.DECLINED
        fields["decided_at"] = submitted + datetime.timedelta(seconds=rng.choice([1, 2, 3, 5, 3600, 86400 * 2]))
        if state != ApplicationState.DECLINED and state != ApplicationState.REFERRED:
            fields["offer_amount"] = Decimal("5000.00")
        if state in (ApplicationState.SIGNED, ApplicationState.FUNDED):
            fields["signed_at"] = fields["decided_at"] + datetime.timedelta(days=1)
        if state == ApplicationState.FUNDED:
            fields["funded_at"] = fields["signed_at"] + datetime.timedelta(hours=2)
        LoanApplication.objects.create(
            merchant=merchant,
            product=product,
            amount=Decimal("5000.00"),
            term=6,
            repayment_method="equal_principal",
            state=state,
            decision=DecisionFactory(merchant=merchant, outcome=outcome),
            **fields,
        )


def _local(moment: datetime.datetime | None) -> datetime.date | None:
    return None if moment is None else timezone.localtime(moment).date()


def _bucket_of(dpd: int) -> str:
    return next(key for key, first, last in BUCKETS if first <= dpd <= last)


def _bucket_at(loan: Loan, instalments: list[Instalment], day: datetime.date) -> str:
    unpaid = [row.due_date for row in instalments if row.due_date < day and (row.paid_on is None or row.paid_on > day)]
    return "current" if not unpaid else _bucket_of((day - min(unpaid)).days)


def _on_book_at(loan: Loan, day: datetime.date) -> bool:
    return _local(loan.activated_at) <= day and (loan.closed_at is None or _local(loan.closed_at) > day)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def book(db, today):
    make_book(seed=3, loans=30, applications=60, today=today)


def test_the_book_by_dimension_and_days_past_due_match_the_raw_rows(book, today):
    figures = portfolio_dashboard(today=today)
    outstanding = defaultdict(lambda: defaultdict(Decimal))
    loans = defaultdict(lambda: defaultdict(set))
    for row in Instalment.objects.select_related("loan__merchant", "loan__product"):
        loan = row.loan
        if loan.state not in ON_BOOK:
            continue
        for dimension, key in (
            ("product", loan.product.code),
            ("grade", loan.grade),
            ("industry", loan.merchant.industry),
            ("region", loan.merchant.province),
            ("dpd", _bucket_of(loan.days_past_due)),
        ):
            outstanding[dimension][key] += row.principal_due - row.principal_paid
            loans[dimension][key].add(loan.pk)
    for dimension in ("product", "grade", "industry", "region"):
        shown = {item.key: (item.loans, item.outstanding) for item in figures.outstanding[dimension]}
        expected = {key: (len(loans[dimension][key]), amount) for key, amount in outstanding[dimension].items()}
        assert shown == expected, dimension
        assert sum(amount for _n, amount in shown.values()) > 0
    shown = {item.key: (item.loans, item.outstanding) for item in figures.dpd_buckets}
    assert shown == {
        key: (len(loans["dpd"][key]), outstanding["dpd"].get(key, Decimal("0.00"))) for key, _f, _l in BUCKETS
    }
    assert sum(1 for item in figures.dpd_buckets if item.loans) >= 3  # the book is varied enough to mean something


def test_roll_rates_match_the_instalments_read_one_by_one(book, today):
    figures = portfolio_dashboard(today=today)
    loans = list(Loan.objects.prefetch_related("instalments"))
    assert len(figures.roll_rates) == 6
    assert figures.roll_rates[-1].end == today
    assert figures.roll_rates[0].start == month_end(today, back=6)
    moved = 0
    for row in figures.roll_rates:
        counts = Counter()
        for loan in loans:
            if loan.activated_at is None or not _on_book_at(loan, row.start):
                continue
            rows = list(loan.instalments.all())
            source = _bucket_at(loan, rows, row.start)
            target = _bucket_at(loan, rows, row.end) if _on_book_at(loan, row.end) else "closed"
            counts[(source, target)] += 1
        expected = []
        for source, target in (("current", "1-30"), ("1-30", "31-60"), ("31-60", "61-90"), ("61-90", "90+")):
            base = sum(n for (was, _now), n in counts.items() if was == source)
            expected.append((source, target, base, counts[(source, target)]))
        assert row.rolls == expected, row.end
        moved += sum(rolled for _s, _t, _b, rolled in expected)
    assert moved > 0


def test_vintage_curves_match_the_loans_read_one_by_one(book, today):
    figures = portfolio_dashboard(today=today)
    vintages = defaultdict(list)
    for loan in Loan.objects.filter(activated_at__isnull=False):
        vintages[loan.start_date.replace(day=1)].append(loan)
    assert [curve.month for curve in figures.vintages] == sorted(vintages)
    defaulted_somewhere = False
    for curve in figures.vintages:
        cohort = vintages[curve.month]
        assert curve.loans == len(cohort)
        assert curve.principal == sum(loan.principal for loan in cohort)
        age = (today.year - curve.month.year) * 12 + today.month - curve.month.month
        expected = []
        for month_on_book in range(age + 1):
            defaulted = 0
            for loan in cohort:
                if loan.defaulted_at is None:
                    continue
                when = timezone.localtime(loan.defaulted_at)
                if (when.year - curve.month.year) * 12 + when.month - curve.month.month <= month_on_book:
                    defaulted += 1
            expected.append(Decimal(defaulted) / Decimal(len(cohort)))
        assert curve.cumulative == expected
        defaulted_somewhere |= expected[-1] > 0
    assert defaulted_somewhere


def test_the_funnel_rates_and_decision_times_match_the_applications(book, today):
    figures = portfolio_dashboard(today=today)
    since = figures.since
    applications = list(LoanApplication.objects.select_related("decision"))

    def monday(moment):
        day = _local(moment)
        return day - datetime.timedelta(days=day.weekday())

    expected = defaultdict(Counter)
    decided = []
    for application in applications:
        final = application.decided_at is not None and application.state != ApplicationState.REFERRED
        events = {
            "applied": application.submitted_at,
            "decided": application.decided_at if final else None,
            "approved": application.decided_at if final and application.offer_amount is not None else None,
            "signed": application.signed_at,
            "funded": application.funded_at,
        }
        for stage, moment in events.items():
            if moment is not None and _local(moment) >= since:
                expected[monday(moment)][stage] += 1
        if final and _local(application.decided_at) >= since:
            decided.append(application)
    shown = {week: {k: v for k, v in stages.items() if v} for week, stages in figures.funnel.items()}
    assert {week: stages for week, stages in shown.items() if stages} == {
        week: dict(stages) for week, stages in expected.items()
    }
    assert min(figures.funnel) == since
    assert all(b - a == datetime.timedelta(days=7) for a, b in itertools.pairwise(figures.funnel))

    assert figures.rates.decided == len(decided) > 0
    assert figures.rates.approved == sum(1 for a in decided if a.offer_amount is not None)
    assert figures.rates.straight_through == sum(1 for a in decided if a.decision.outcome != Outcome.REFER)
    assert figures.rates.approval_rate == Decimal(figures.rates.approved) / Decimal(len(decided))

    durations = sorted(a.decided_at - a.submitted_at for a in decided)
    assert figures.times.decided == len(durations)
    assert figures.times.median == durations[math.ceil(len(durations) * 0.5) - 1]
    assert figures.times.p95 == durations[math.ceil(len(durations) * 0.95) - 1]


def _queries(today) -> int:
    with CaptureQueriesContext(connection) as captured:
        portfolio_dashboard(today=today)
    return len(captured.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_portfolio(db, today):
    make_book(seed=5, loans=4, applications=6, today=today)
    small = _queries(today)
    make_book(seed=6, loans=40, applications=80, today=today)
    assert _queries(today) == small


def test_outstanding_by_lender_matches_the_shares_and_instalments(book, today):
    bank = funding_partner("bank-a")
    for loan in Loan.objects.filter(state__in=ON_BOOK).order_by("pk")[:4]:
        partner_part = (loan.principal * Decimal("0.7")).quantize(Decimal("0.01"))
        LoanShare.objects.create(loan=loan, partner=bank, share=Decimal("0.7000"), principal=partner_part)
        LoanShare.objects.create(
            loan=loan, partner=None, share=Decimal("0.3000"), principal=loan.principal - partner_part
        )
    figures = portfolio_dashboard(today=today)
    committed = (*ON_BOOK, LoanState.PENDING_DISBURSEMENT)
    expected = defaultdict(Decimal)
    expected["platform"] = Decimal("0.00")
    # A co-funded loan: each share's principal less the principal distributed to it; any other loan: the platform's
    # unpaid principal.
    for loan in Loan.objects.filter(state__in=committed).prefetch_related(
        "instalments", "shares__partner", "shares__distributions"
    ):
        shares = list(loan.shares.all())
        if not shares:
            expected["platform"] += sum(
                (r.principal_due - r.principal_paid for r in loan.instalments.all()), Decimal(0)
            )
        for share in shares:
            repaid = sum((d.amount for d in share.distributions.all() if d.component == "principal"), Decimal(0))
            expected[share.partner.code if share.partner else "platform"] += share.principal - repaid
    assert figures.outstanding_by_partner == {code: value.quantize(Decimal("0.01")) for code, value in expected.items()}
    assert figures.outstanding_by_partner["bank-a"] > 0
