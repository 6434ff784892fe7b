# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: automated credit decisions in-process, and the nightly refresh of pre-approved limits.

    .venv/bin/python bench/decisions.py                      # 10,000 merchants, 10,000 decisions
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loanportal .venv/bin/python bench/decisions.py --decisions 2000

It works in its own throwaway database (``lp_bench_uw`` on the server of ``DATABASE_URL``, created if missing,
migrated), seeds it with ``merchants.services.demo.seed_merchants`` (24 months of daily sales each) unless it
already holds that many merchants, and installs the default scorecard and rules
(``underwriting.services.demo.underwriting_seed``).
Decisions, fraud alerts and limits of earlier runs are emptied first, so every run starts alike.

What it measures:


- ``underwriting.services.decisions.decision_make`` for one merchant after another (features, rules, score, fraud
  signals, credit line, the stored decision with its snapshot, its audit row): p50 and p99 over ``--decisions`` calls,
  against a **baseline**: a bare primary-key fetch of the same merchant (``Merchant.objects.get(pk=…)``).
  Targets: p50 ≤ 10 ms, p99 ≤ 50 ms.
- ``underwriting.services.decisions.preapproved_limits_refresh`` over every merchant. Target: 10,000 in under 60 s.

Exit status 1 when a target is missed, 0 otherwise. The decision targets count for any number of merchants;
the refresh target is stated for 10,000, so it counts only from 10,000 merchants on.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
P50_TARGET_MS = 10
P99_TARGET_MS = 50
REFRESH_TARGET_SECONDS = 60
WARM_UP = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merchants", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end-date", type=datetime.date.fromisoformat, default=datetime.date(2025, 6, 30))
    parser.add_argument("--database", default="lp_bench_uw", help="Throwaway database name (default lp_bench_uw).")
    parser.add_argument("--batch-size", type=int, default=2000, help="Merchants per pre-approval batch.")
    args = parser.parse_args()
    from _guard import bench_database_url  # refuses a database not marked "bench" or not on this machine (exit 2)

    bench_database_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal"), args.database)
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        print(f"DATABASE_URL must point at PostgreSQL (got {parts.scheme}://…).", file=sys.stderr)
        return 2
    _create_database(urlunsplit(parts._replace(path="/postgres")), args.database)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{args.database}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lending.servicing.selectors.loans import merchants_in_default
    from merchants.models import Merchant, SalesDay
    from merchants.services.demo import seed_merchants
    from underwriting.engine.decision import CreditRequest, Exposures
    from underwriting.services.decisions import decision_make, preapproved_limits_refresh
    from underwriting.services.demo import underwriting_seed

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database  {args.database} on {parts.hostname}:{parts.port or 5432}, PostgreSQL {connection.pg_version}")
    have = Merchant.objects.count()
    if have < args.merchants:
        started = time.perf_counter()
        seed_merchants(count=args.merchants, seed=args.seed, end_date=args.end_date)
        print(f"seeded    {args.merchants:,} merchants x 730 days in {time.perf_counter() - started:.1f} s")
    else:
        print(f"reused    {have:,} merchants already in the database")
    underwriting_seed()
    with connection.cursor() as cursor:
        # DELETE rather than TRUNCATE: other apps' tables point at decisions (and hold nothing in this database).
        for table in ("underwriting_fraudalert", "underwriting_decision", "underwriting_preapprovedlimit"):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        cursor.execute("DELETE FROM core_auditevent WHERE action IN ('decision.make', 'fraud_alert.raise')")
        cursor.execute("ANALYZE")
    merchants = list(Merchant.objects.order_by("pk").values_list("pk", flat=True))
    sales_rows = SalesDay.objects.count()
    print(f"workload  {len(merchants):,} merchants, {sales_rows:,} sales rows, decisions on {args.end_date}+1 day")

    as_of = args.end_date + datetime.timedelta(days=1)
    rng = random.Random(args.seed)
    amounts = [Decimal(rng.choice((10_000, 20_000, 30_000, 50_000, 80_000, 120_000))) for _ in merchants]
    grid = {
        grade: Decimal(price) for grade, price in zip("ABCDE", ("0.08", "0.10", "0.12", "0.15", "0.18"), strict=True)
    }

    def request(index: int) -> CreditRequest:
        return CreditRequest(
            amount=amounts[index % len(merchants)],
            term=12,
            term_unit="months",
            product_code="operating-loan",
            amount_max=Decimal("500000"),
            prices_by_grade=grid,
        )

    exposures = Exposures(industry=Decimal("50000000"), region=Decimal("80000000"), portfolio=Decimal("900000000"))
    instances = {merchant.pk: merchant for merchant in Merchant.objects.all()}
    order = [merchants[index % len(merchants)] for index in range(args.decisions + WARM_UP)]

    # Warm up: the scorecard's bins, content types, the connection, PostgreSQL's buffers for the first merchants.
    for index in range(WARM_UP):
        decision_make(merchant=instances[order[index]], request=request(index), exposures=exposures, as_of=as_of)
    with CaptureQueriesContext(connection) as captured:
        decision_make(merchant=instances[order[0]], request=request(0), exposures=exposures, as_of=as_of)
    queries_per_decision = len(captured.captured_queries)

    decision_ms = []
    outcomes: dict[str, int] = {}
    for index in range(WARM_UP, WARM_UP + args.decisions):
        merchant = instances[order[index]]
        started = time.perf_counter()
        decision = decision_make(merchant=merchant, request=request(index), exposures=exposures, as_of=as_of)
        decision_ms.append((time.perf_counter() - started) * 1000)
        outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1

    baseline_ms = []
    for index in range(WARM_UP, WARM_UP + args.decisions):
        started = time.perf_counter()
        Merchant.objects.get(pk=order[index])
        baseline_ms.append((time.perf_counter() - started) * 1000)

    p50, p99 = _percentile(decision_ms, 50), _percentile(decision_ms, 99)
    base50, base99 = _percentile(baseline_ms, 50), _percentile(baseline_ms, 99)
    print(
        f"decisions {args.decisions:,} in-process decision_make calls, {queries_per_decision} queries each: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {statistics.fmean(decision_ms):.2f} ms, "
        f"max {max(decision_ms):.1f} ms"
    )
    print("outcomes  " + ", ".join(f"{name} {count:,}" for name, count in sorted(outcomes.items())))
    print(f"baseline  Merchant.objects.get(pk=...): p50 {base50:.3f} ms, p99 {base99:.3f} ms")
    print(f"ratio     a decision takes {p50 / base50:.1f}x a bare primary-key fetch at p50, {p99 / base99:.1f}x at p99")

    started = time.perf_counter()
    refreshed = preapproved_limits_refresh(
        merchants_in_default=merchants_in_default, as_of=as_of, batch_size=args.batch_size
    )
    refresh_seconds = time.perf_counter() - started
    print(
        f"limits    pre-approved limits for {refreshed:,} merchants in {refresh_seconds:.1f} s "
        f"({refreshed / refresh_seconds:,.0f} merchants/s, batches of {args.batch_size:,})"
    )

    ok_decisions = p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS
    ok_refresh = refresh_seconds < REFRESH_TARGET_SECONDS or refreshed < 10_000
    print(
        f"target    p50 <= {P50_TARGET_MS} ms and p99 <= {P99_TARGET_MS} ms: {'OK' if ok_decisions else 'TOO SLOW'}; "
        f"10,000 limits under {REFRESH_TARGET_SECONDS} s: {'OK' if ok_refresh else 'TOO SLOW'}"
    )
    return 0 if ok_decisions and ok_refresh else 1


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def _create_database(admin_url: str, name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


if __name__ == "__main__":
    sys.exit(main())
