# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: the daily servicing jobs over 100,000 active loans on PostgreSQL.

    .venv/bin/python bench/servicing.py                    # 100,000 loans x 12 instalments
    .venv/bin/python bench/servicing.py --loans 20000      # smaller, quicker

It (re)creates the throwaway database ``lp_bench_servicing`` on the server of ``DATABASE_URL`` (the name must
contain "bench": nothing else is ever dropped), migrates it, and loads a realistic book: ``--loans`` loans of 12
monthly instalments started over the last eleven months, most of them current (everything due is paid), about 8 %
overdue by one to three instalments, about 1 % a few days short of the default threshold (90 days past due).
Loans go in with ``bulk_create``, instalments with ``COPY``.

What it measures, for one business date:

- ``servicing_run_day`` the first time (overdue marking, days past due, state changes with their audit rows, late
  fees, defaults, reminders and their notices). Target: under 60 s for 100,000 loans.
- the same call again on the same day, which has nothing left to do (near no-op).
- baseline: a bare ``UPDATE lending_instalment SET status = status`` over the same rows (every row rewritten once),
  printed with both runs as ratios to it.

Exit status 1 when the first run misses the target with at least 100,000 loans, 0 otherwise.
"""

import argparse
import datetime
import io
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60
MERCHANTS = 2000
INSTALMENTS = 12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--on", type=datetime.date.fromisoformat, default=datetime.date(2027, 6, 15))
    parser.add_argument("--database", default="lp_bench_servicing")
    args = parser.parse_args()
    if "bench" not in args.database:
        print(f"Refusing to drop {args.database!r}: a benchmark database's name contains 'bench'.", file=sys.stderr)
        return 2

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        print(f"DATABASE_URL must point at PostgreSQL (got {parts.scheme}://…).", file=sys.stderr)
        return 2
    _recreate_database(urlunsplit(parts._replace(path="/postgres")), args.database)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{args.database}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from lending.servicing.services.daily import servicing_run_day

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database  {args.database} on {parts.hostname}:{parts.port or 5432}, PostgreSQL {connection.pg_version}")
    started = time.perf_counter()
    mix = _seed(loans=args.loans, on=args.on, seed=args.seed)
    print(f"seeded    {args.loans:,} loans x {INSTALMENTS} instalments in {time.perf_counter() - started:.1f} s: {mix}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    # The reminder emails are queued on commit; the broker is not part of what is measured.
    from lending.servicing.services import daily as servicing

    servicing._queue_emails = lambda notice_ids: None

    first, counts = _timed(lambda: servicing_run_day(on=args.on))
    print(f"run 1     {first:8.2f} s  {_short(counts)}")
    second, counts_again = _timed(lambda: servicing_run_day(on=args.on))
    print(f"run 2     {second:8.2f} s  {_short(counts_again)}")
    baseline, _rows = _timed(_bare_update)
    print(f"baseline  {baseline:8.2f} s  bare rewrite of every instalment's status ({_rows:,} rows)")
    print(f"ratio     run 1 / baseline = {first / baseline:.2f}x, run 2 / baseline = {second / baseline:.2f}x")
    verdict = "met" if first < TARGET_SECONDS else "MISSED"
    print(f"target    run 1 under {TARGET_SECONDS} s for {args.loans:,} loans: {verdict}")
    return 1 if first >= TARGET_SECONDS and args.loans >= 100_000 else 0


def _timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _short(counts: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in counts.items() if value)


def _bare_update() -> int:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE lending_instalment SET status = status")
        return cursor.rowcount


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg2

    if "bench" not in name:  # main() refuses first; checked again right before the DROP
        raise SystemExit(f"Refusing to drop {name!r}")
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
    from lending.catalogue.services.products import product_terms_snapshot
    from lending.catalogue.tests.factories import LoanProductFactory
    from lending.origination.models import ApplicationState, LoanApplication
    from lending.servicing.models import Loan
    from merchants.choices import KycState
    from merchants.models import Merchant
    from merchants.tests.factories import valid_credit_code

    rng = random.Random(seed)
    product = LoanProductFactory(
        code="bench-operating",
        late_fee_daily_rate=Decimal("0.000500"),
        late_fee_fixed=Decimal("20.00"),
        grace_days=3,
        default_after_days_past_due=90,
    )
    terms = product_terms_snapshot(product=product, grade="C")
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
        )
        for k, user in enumerate(users)
    )
    principal_each, interest_each = Decimal("1000.00"), Decimal("80.00")
    plans = []  # (merchant, start, unpaid from instalment number)
    mix = {"current": 0, "overdue": 0, "near_default": 0}
    for k in range(loans):
        roll = rng.random()
        if roll < 0.01:
            # Close to default: the first instalment fell due 86-89 days ago and nothing has been paid.
            due = on - datetime.timedelta(days=rng.randint(86, 89))
            start = add_months(due, -1)
            kind = "near_default"
            first_unpaid = 1  # nothing paid since the first instalment
        else:
            start = on - datetime.timedelta(days=rng.randint(1, 330))
            elapsed = sum(1 for n in range(1, INSTALMENTS + 1) if add_months(start, n) <= on)
            if roll < 0.09 and elapsed:
                kind = "overdue"
                first_unpaid = max(1, elapsed - rng.randint(0, 2))
            else:
                kind = "current"
                first_unpaid = elapsed + 1
        mix[kind] += 1
        plans.append((merchants[k % MERCHANTS], start, first_unpaid))
    applications = LoanApplication.objects.bulk_create(
        (
            LoanApplication(
                merchant=merchant,
                product=product,
                amount=principal_each * INSTALMENTS,
                term=INSTALMENTS,
                repayment_method="equal_principal",
                state=ApplicationState.FUNDED,
            )
            for merchant, _start, _first in plans
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
                grade="C",
                price=Decimal("0.096000"),
                apr=Decimal("10.03"),
                net_disbursement=principal_each * INSTALMENTS,
                terms=terms,
                start_date=start,
                maturity_date=add_months(start, INSTALMENTS),
                state="active",
                serviced_on=on - datetime.timedelta(days=1),
            )
            for application, (merchant, start, _first) in zip(applications, plans, strict=True)
        ),
        batch_size=5000,
    )
    buffer = io.StringIO()
    for loan, (_merchant, start, first_unpaid) in zip(loan_rows, plans, strict=True):
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
    return mix


if __name__ == "__main__":
    sys.exit(main())
