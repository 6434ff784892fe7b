# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: a stress run over 100,000 loans on PostgreSQL, against a bare aggregate query over the same rows.

    .venv/bin/python bench/stress.py                    # 100,000 loans x 12 instalments (seeded once, then reused)
    .venv/bin/python bench/stress.py --loans 20000      # smaller, quicker
    .venv/bin/python bench/stress.py --rebuild          # drop and seed the database again

It uses the database ``lp_bench_stress`` on the server of ``DATABASE_URL`` (the name must contain "bench": nothing
else is ever dropped or written). The first time, or with ``--rebuild`` or when its loan count differs, it drops,
creates, migrates and seeds it: ``--loans`` loans of 12 monthly instalments over 2,000 merchants spread over
industries and provinces, each loan approved on a decision with a PD (kept on the loan), about 8 % in arrears and
1 % defaulted, about 30 % co-funded by one of two partner banks (70 % or 50 % theirs) and 20 % covered 80 % by an
insurer; the co-funded loans' paid instalments have their payments, allocations and the distributions of each between
the loan's shares, as repayments leave them (a share's outstanding principal is read from that ledger). Loans,
applications, decisions, shares and covers go in with ``bulk_create``, instalments with ``COPY``, the ledger with
``INSERT … SELECT``.

What it measures, best of ``--repeat`` rounds each:

- a whole stress run (``stress_run_start``: cutting the book into chunks of ``STRESS_CHUNK_SIZE`` loans, one task
  per chunk on a Celery worker of ``--workers`` processes, as production runs it, each chunk's statement and
  partial, the sum-up), with a combined scenario (sales −30 % in one industry, PD × 1.5, LGD 60 %), timed from the
  start until the run is finished. ``--workers 0`` runs the chunks eagerly in this process, as ``make run`` does;
- baseline: one statement of bare ``count(*)`` and ``sum`` aggregates over the rows of the book the run reads: the
  instalments of the loans on the book joined to each loan's merchant and product, the loans' shares, the principal
  distributed to them, the insurers' covers (and, for comparison only, the instalments joined to their loans alone).
  PostgreSQL may spread it over its parallel workers, as the run spreads its chunks over the Celery worker's
  processes: both use the machine's cores.

The worker takes its tasks from a queue of the run's own on ``BENCH_BROKER_URL`` (else ``CELERY_BROKER_URL``, else
Redis database 8 on this machine), deleted at the end. ``--serial`` also times both with PostgreSQL's parallel query
off in this process, for information.

Exit status 1 when the run takes more than 3 times the baseline, 0 otherwise.
"""

import argparse
import datetime
import io
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _guard import require_bench_name

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 3.0
MERCHANTS = 2000
INSTALMENTS = 12
# The rows a run reads, each table summed bare (no arithmetic per loan, no grouping, no chunks) in one statement: the
# instalments of the loans on the book with each loan (its PD at approval, grade, days past due), merchant (industry,
# region) and product; the partner banks' and the platform's shares of those loans and the principal distributed to
# each share; the insurers' covers.
BARE_AGGREGATE = """
    SELECT * FROM (
        SELECT count(*), sum(i.principal_due - i.principal_paid)
        FROM lending_instalment i
        JOIN lending_loan l ON l.id = i.loan_id
        JOIN merchants_merchant m ON m.id = l.merchant_id
        JOIN lending_loanproduct p ON p.id = l.product_id
        WHERE l.state IN ('active', 'overdue', 'defaulted')
    ) instalments, (
        SELECT count(*), sum(s.principal) FROM partners_loanshare s JOIN lending_loan l ON l.id = s.loan_id
        WHERE l.state IN ('active', 'overdue', 'defaulted')
    ) shares, (
        SELECT count(*), sum(d.amount) FROM partners_distribution d JOIN lending_loan l ON l.id = d.loan_id
        WHERE l.state IN ('active', 'overdue', 'defaulted') AND d.component = 'principal'
    ) distributed, (
        SELECT count(*), sum(c.cover_share) FROM partners_insurancecover c JOIN lending_loan l ON l.id = c.loan_id
        WHERE l.state IN ('active', 'overdue', 'defaulted')
    ) covers
"""
# The same sum over the instalments and their loans alone, printed for comparison.
INSTALMENTS_ONLY = """
    SELECT count(*), sum(i.principal_due - i.principal_paid)
    FROM lending_instalment i JOIN lending_loan l ON l.id = i.loan_id
    WHERE l.state IN ('active', 'overdue', 'defaulted')
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--on", type=datetime.date.fromisoformat, default=datetime.date(2027, 6, 15))
    parser.add_argument("--database", default="lp_bench_stress")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--serial", action="store_true", help="also time both with PostgreSQL's parallel query off")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="run the chunks on a Celery worker with this many processes (default 2); 0: eagerly in this process",
    )
    args = parser.parse_args()
    require_bench_name(args.database)  # the one rule every script shares (exit status 2)

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        print(f"DATABASE_URL must point at PostgreSQL (got {parts.scheme}://…).", file=sys.stderr)
        return 2
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    fresh = args.rebuild or not _database_exists(admin_url, args.database)
    if fresh:
        _recreate_database(admin_url, args.database)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{args.database}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false" if args.workers else "true"
    broker = os.environ.get("BENCH_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/8"
    queue = f"bench-stress-{uuid.uuid4().hex[:8]}"
    os.environ.update(CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND=broker, CELERY_TASK_DEFAULT_QUEUE=queue)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    from lending.servicing.models import Loan
    from partners.models import Distribution

    # A book seeded before the ledger was (no distributions) is seeded again too.
    if not fresh and (Loan.objects.count() != args.loans or not Distribution.objects.exists()):
        print(f"database  {args.database} holds another book: seeding it again")
        connection.close()
        _recreate_database(admin_url, args.database)
        call_command("migrate", verbosity=0, interactive=False)
        fresh = True
    print(f"database  {args.database} on {parts.hostname}:{parts.port or 5432}, PostgreSQL {connection.pg_version}")
    if fresh:
        started = time.perf_counter()
        mix = _seed(loans=args.loans, on=args.on, seed=args.seed)
        print(
            f"seeded    {args.loans:,} loans x {INSTALMENTS} instalments "
            f"in {time.perf_counter() - started:.1f} s: {mix}"
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        print(f"reused    {args.loans:,} loans already seeded (--rebuild to seed again)")

    from risk.models.stress import SalesShockScope, StressRun, StressRunStatus, StressScenario
    from risk.services.stress import stress_run_start

    user = _risk_manager()
    scenario, _created = StressScenario.objects.get_or_create(
        name="bench: restaurants -30 %, PD x 1.5, LGD 60 %",
        defaults={
            "sales_shock_percent": Decimal(30),
            "sales_shock_scope": SalesShockScope.INDUSTRY,
            "sales_shock_industry": "H6210",
            "pd_multiplier": Decimal("1.5"),
            "lgd_percent": Decimal(60),
            "created_by": user,
        },
    )

    def one_run():
        run = stress_run_start(scenario=scenario, by=user, as_of=args.on)
        while args.workers and StressRun.objects.filter(pk=run.pk, status=StressRunStatus.RUNNING).exists():
            time.sleep(0.01)
        run = StressRun.objects.get(pk=run.pk)
        if run.status != StressRunStatus.FINISHED:
            raise SystemExit(f"the run did not finish: {run.status} {run.error}")
        return run

    worker = _start_worker(args.workers) if args.workers else None
    try:

        def bare(statement=BARE_AGGREGATE):
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchone()

        bare()  # warm the cache for both
        runs, bases, plain = [], [], []
        for _round in range(args.repeat):
            seconds, run = _timed(one_run)
            runs.append(seconds)
            seconds, (rows, principal, shares, _principal, distributions, _distributed, covers, _covered) = _timed(bare)
            bases.append(seconds)
            plain.append(_timed(lambda: bare(INSTALMENTS_ONLY))[0])
        best_run, best_base = min(runs), min(bases)
        ratio = best_run / best_base
        print(
            f"run       {best_run:8.3f} s  best of {args.repeat} ({', '.join(f'{s:.3f}' for s in runs)}), "
            f"{run.chunks_total} chunks of {settings.STRESS_CHUNK_SIZE}, {run.results['loans']:,} loans, "
            f"EL {run.results['el_before_insurance']}, outstanding {run.results['exposure']}"
        )
        print(
            f"baseline  {best_base:8.3f} s  best of {args.repeat} ({', '.join(f'{s:.3f}' for s in bases)}), "
            f"bare aggregates over {rows:,} instalments with the rows they join (outstanding {principal}), "
            f"{shares:,} shares, {distributions:,} principal distributions, {covers:,} covers"
        )
        print(
            f"          {min(plain):8.3f} s  the instalments joined to their loans alone "
            f"(run / this = {best_run / min(plain):.2f}x, for comparison)"
        )
        if Decimal(run.results["exposure"]) != principal:
            print("MISMATCH  the run's exposure is not the bare aggregate's outstanding principal", file=sys.stderr)
            return 1
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        where = f"a Celery worker with {args.workers} processes" if args.workers else "Celery eager, in this process"
        print(
            f"ratio     run / baseline = {ratio:.2f}x (target at most {TARGET_RATIO:g}x), chunks on {where}: {verdict}"
        )
        if args.serial:
            # For reading the figure: PostgreSQL may scan the baseline with parallel workers, while each chunk's
            # statement runs in one process. Both again with parallel query off in this process (the worker's chunk
            # statements are planned without parallel workers either way).
            with connection.cursor() as cursor:
                cursor.execute("SET max_parallel_workers_per_gather = 0")
            serial_runs = [_timed(one_run)[0] for _round in range(args.repeat)]
            serial_bases = [_timed(bare)[0] for _round in range(args.repeat)]
            print(
                f"serial    run {min(serial_runs):.3f} s, baseline {min(serial_bases):.3f} s, "
                f"ratio {min(serial_runs) / min(serial_bases):.2f}x (baseline without parallel query; information only)"
            )
        return 0 if ratio <= TARGET_RATIO else 1
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
            from celery import current_app

            with current_app.connection_for_write() as connection_to_broker:
                connection_to_broker.default_channel.queue_delete(queue)


def _start_worker(processes: int):
    """A Celery worker on the bench database, started before anything is timed; stopped by main() at the end."""
    import subprocess

    environment = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency",
            str(processes),
            "--queues",
            os.environ["CELERY_TASK_DEFAULT_QUEUE"],
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=environment,
    )
    from celery import current_app

    for _attempt in range(300):
        if current_app.control.ping(timeout=0.5):
            return worker
    worker.terminate()
    raise SystemExit("the Celery worker did not answer")


def _timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _risk_manager():
    from django.contrib.auth.models import Permission

    from accounts.models import User

    user, created = User.objects.get_or_create(email="risk@bench.example", defaults={"is_staff": True})
    if created:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="risk", codename="run_stress_test"))
    return User.objects.get(pk=user.pk)


def _database_exists(admin_url: str, name: str) -> bool:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg2

    require_bench_name(name)  # main() refuses first; checked again right before the DROP
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def _seed(*, loans: int, on: datetime.date, seed: int) -> dict[str, int]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import User
    from lending.catalogue.money.dates import add_months
    from lending.catalogue.tests.factories import LoanProductFactory
    from lending.origination.models import ApplicationState, LoanApplication
    from lending.servicing.models import Loan
    from merchants.choices import Industry, KycState, Province
    from merchants.models import Merchant
    from merchants.tests.factories import valid_credit_code
    from underwriting.models import Decision

    rng = random.Random(seed)
    products = [LoanProductFactory(code=f"bench-stress-{k}") for k in range(3)]
    industries, provinces = list(Industry.values), list(Province.values)
    password = make_password(None)
    users = User.objects.bulk_create(User(email=f"owner{k}@bench.example", password=password) for k in range(MERCHANTS))
    merchants = Merchant.objects.bulk_create(
        Merchant(
            owner=user,
            legal_name=f"基准商户{k}",
            credit_code=valid_credit_code(k),
            kyc_state=KycState.VERIFIED,
            founded_on=datetime.date(2019, 3, 1),
            city="深圳",
            industry=industries[k % len(industries)],
            province=provinces[(k * 7) % len(provinces)],
        )
        for k, user in enumerate(users)
    )
    grades = {"A": "0.008", "B": "0.020", "C": "0.045", "D": "0.090"}
    principal_each, interest_each = Decimal("1000.00"), Decimal("80.00")
    plans = []  # (merchant, product, grade, start, first unpaid instalment, state, days past due)
    mix = {"current": 0, "overdue": 0, "defaulted": 0}
    for k in range(loans):
        grade = rng.choice(list(grades))
        start = on - datetime.timedelta(days=rng.randint(1, 330))
        elapsed = sum(1 for n in range(1, INSTALMENTS + 1) if add_months(start, n) <= on)
        roll = rng.random()
        if roll < 0.01 and elapsed >= 4:
            kind, first_unpaid = "defaulted", elapsed - 3
        elif roll < 0.09 and elapsed:
            kind, first_unpaid = "overdue", max(1, elapsed - rng.randint(0, 2))
        else:
            kind, first_unpaid = "current", elapsed + 1
        dpd = (on - add_months(start, first_unpaid)).days if kind != "current" else 0
        state = {"current": "active", "overdue": "overdue", "defaulted": "defaulted"}[kind]
        mix[kind] += 1
        plans.append((merchants[k % MERCHANTS], products[k % 3], grade, start, first_unpaid, state, max(dpd, 0)))
    decisions = Decision.objects.bulk_create(
        (
            Decision(
                merchant=merchant,
                outcome="approve",
                grade=grade,
                probability_of_default=Decimal(grades[grade]),
                requested_amount=principal_each * INSTALMENTS,
            )
            for merchant, _product, grade, *_rest in plans
        ),
        batch_size=5000,
    )
    applications = LoanApplication.objects.bulk_create(
        (
            LoanApplication(
                merchant=plan[0],
                product=plan[1],
                amount=principal_each * INSTALMENTS,
                term=INSTALMENTS,
                repayment_method="equal_principal",
                state=ApplicationState.FUNDED,
                decision=decision,
            )
            for plan, decision in zip(plans, decisions, strict=True)
        ),
        batch_size=5000,
    )
    loan_rows = Loan.objects.bulk_create(
        (
            Loan(
                application=application,
                merchant=merchant,
                product=product,
                principal=principal_each * INSTALMENTS,
                term=INSTALMENTS,
                term_unit="months",
                repayment_method="equal_principal",
                grade=grade,
                probability_of_default=Decimal(grades[grade]),
                price=Decimal("0.096000"),
                apr=Decimal("10.03"),
                net_disbursement=principal_each * INSTALMENTS,
                terms={},
                start_date=start,
                maturity_date=add_months(start, INSTALMENTS),
                state=state,
                days_past_due=dpd,
                serviced_on=on - datetime.timedelta(days=1),
            )
            for application, (merchant, product, grade, start, _first, state, dpd) in zip(
                applications, plans, strict=True
            )
        ),
        batch_size=5000,
    )
    mix |= _seed_partners(loan_rows, products=products, rng=rng)
    buffer = io.StringIO()
    for loan, (_m, _p, _g, start, first_unpaid, _s, _d) in zip(loan_rows, plans, strict=True):
        for number in range(1, INSTALMENTS + 1):
            due = add_months(start, number)
            paid = number < first_unpaid
            paid_p, paid_i = (principal_each, interest_each) if paid else (Decimal("0.00"), Decimal("0.00"))
            status = "paid" if paid else "due"
            paid_on = due.isoformat() if paid else r"\N"
            buffer.write(
                f"{loan.pk}\t{number}\t{due.isoformat()}\t{principal_each}\t{interest_each}\t0.00\t"
                f"{paid_p}\t{paid_i}\t0.00\t0.00\t0.00\t{paid_on}\t{status}\n"
            )
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY lending_instalment (loan_id, number, due_date, principal_due, interest_due, fee_due, "
            "principal_paid, interest_paid, fee_paid, penalty_due, penalty_paid, paid_on, status) FROM STDIN",
            buffer,
        )
    mix["distributions"] = _seed_distributions()
    return mix


def _seed_distributions() -> int:
    """What the co-funded loans' paid instalments left in the ledger, as repayments would have: one payment per paid
    instalment, its principal and interest allocations, and each allocation split between the loan's two shares
    (the partner's part rounded to the fen, the platform's the rest), so each share's outstanding principal is read
    from its distributions as in production."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO lending_payment (loan_id, amount, received_on, source, kind, external_reference, created_at) "
            "SELECT i.loan_id, i.principal_paid + i.interest_paid, i.paid_on, 'collection', 'regular', "
            "'bench-' || i.id, now() FROM lending_instalment i "
            "WHERE i.status = 'paid' AND i.loan_id IN (SELECT loan_id FROM partners_loanshare)"
        )
        cursor.execute(
            "INSERT INTO lending_allocation (payment_id, instalment_id, component, amount) "
            "SELECT p.id, i.id, c.component, "
            "CASE c.component WHEN 'principal' THEN i.principal_paid ELSE i.interest_paid END "
            "FROM lending_payment p JOIN lending_instalment i "
            "ON i.loan_id = p.loan_id AND p.external_reference = 'bench-' || i.id "
            "CROSS JOIN (VALUES ('principal'), ('interest')) c(component)"
        )
        cursor.execute(
            "INSERT INTO partners_distribution (allocation_id, share_id, loan_id, payment_id, partner_id, component, "
            "amount, value_date, business_date, created_at) "
            "SELECT a.id, s.id, s.loan_id, a.payment_id, s.partner_id, a.component, "
            "CASE WHEN s.partner_id IS NULL THEN a.amount - ROUND(a.amount * (1 - s.share), 2) "
            "ELSE ROUND(a.amount * s.share, 2) END, p.received_on, p.received_on, now() "
            "FROM lending_allocation a JOIN lending_payment p ON p.id = a.payment_id "
            "JOIN partners_loanshare s ON s.loan_id = p.loan_id"
        )
        return cursor.rowcount


CO_FUNDED = 0.3  # of the loans, shared with one of two partner banks (70 % or 50 % theirs)
INSURED = 0.2  # of the loans, 80 % covered by the insurer


def _seed_partners(loans, *, products, rng: random.Random) -> dict[str, int]:
    """Partner banks' shares in some loans and an insurer's cover on others, as payouts would have left them, so a
    run splits losses the way a co-lent book needs (the shares' principals sum exactly to the loan's)."""
    from partners.models import InsuranceCover, LoanShare
    from partners.tests.factories import funding_partner
    from partners.tests.factories_insurance import InsurerFactory, agreement_make

    banks = [funding_partner(code, priority=k) for k, code in enumerate(("bench-bank-a", "bench-bank-b"))]
    insurer_agreement = agreement_make(InsurerFactory(code="bench-insurer"), products, by=_risk_manager())
    shares, covers = [], []
    for loan in loans:
        if rng.random() < CO_FUNDED:
            bank = rng.choice(banks)
            theirs = Decimal("0.7000") if bank.code.endswith("a") else Decimal("0.5000")
            principal = (loan.principal * theirs).quantize(Decimal("0.01"))
            shares.append(LoanShare(loan=loan, partner=bank, share=theirs, principal=principal))
            shares.append(LoanShare(loan=loan, partner=None, share=1 - theirs, principal=loan.principal - principal))
        if rng.random() < INSURED:
            covers.append(
                InsuranceCover(
                    loan=loan,
                    insurer=insurer_agreement.insurer,
                    agreement=insurer_agreement,
                    cover_share=insurer_agreement.cover_share,
                    premium=(loan.principal * insurer_agreement.premium_rate).quantize(Decimal("0.01")),
                    premium_payer=insurer_agreement.premium_payer,
                    covered_principal=loan.principal,
                )
            )
    LoanShare.objects.bulk_create(shares, batch_size=5000)
    InsuranceCover.objects.bulk_create(covers, batch_size=5000)
    return {"co-funded": len(shares) // 2, "insured": len(covers)}


if __name__ == "__main__":
    sys.exit(main())
