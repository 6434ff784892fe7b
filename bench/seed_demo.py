# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: how long ``seed_demo`` takes to load N merchants' daily sales, against a plain COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loanportal .venv/bin/python bench/seed_demo.py --merchants 10000

It works in its own throwaway database (``lp_bench`` on the same server, created if missing, emptied
first), times ``merchants.services.demo.seed_merchants`` and then the baseline: a COPY of the same number of
pre-generated plain tuples into a bare table with the same columns (no index, no constraint, no
Django). The ratio is the price of generating plausible data and of the real table's index and checks.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _guard import bench_database_url, require_bench_name

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 180


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merchants", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end-date", type=datetime.date.fromisoformat, default=datetime.date(2025, 6, 30))
    parser.add_argument("--database", default="lp_bench", help="Throwaway database name (default lp_bench).")
    parser.add_argument("--rerun", action="store_true", help="Also time a second run, which must add nothing.")
    args = parser.parse_args()
    # Refuses a database not marked "bench" or not on this machine (exit 2): the run empties it.
    bench_database_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal"), args.database)

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        print(f"DATABASE_URL must point at PostgreSQL (got {parts.scheme}://…).", file=sys.stderr)
        return 2
    bench_url = urlunsplit(parts._replace(path=f"/{args.database}"))
    _create_database(urlunsplit(parts._replace(path="/postgres")), args.database)

    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from merchants.services.demo import seed_merchants

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        # Everything hangs off the users (merchants, sales, audit rows): empty them all.
        require_bench_name(connection.settings_dict["NAME"])  # checked again right before the TRUNCATE
        cursor.execute("TRUNCATE accounts_user CASCADE")

    print(f"database  {args.database} on {parts.hostname}:{parts.port or 5432}, PostgreSQL {connection.pg_version}")
    print(f"workload  {args.merchants:,} merchants x {args.days} days, seed {args.seed}, up to {args.end_date}")

    started = time.perf_counter()
    created = seed_merchants(count=args.merchants, seed=args.seed, days=args.days, end_date=args.end_date)
    seed_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM merchants_salesday")
        rows = cursor.fetchone()[0]
    print(
        f"seed_demo {created:,} merchants, {rows:,} sales rows in {seed_seconds:.1f} s "
        f"({rows / seed_seconds:,.0f} rows/s)"
    )

    baseline_seconds = _baseline(connection, rows=rows, merchants=args.merchants, days=args.days)
    print(
        f"baseline  COPY of {rows:,} pre-generated tuples into a bare table in {baseline_seconds:.1f} s "
        f"({rows / baseline_seconds:,.0f} rows/s): the same rows without generating them, no index, no constraint, "
        "no Django"
    )
    print(f"ratio     seed_demo takes {seed_seconds / baseline_seconds:.2f}x the baseline")

    if args.rerun:
        started = time.perf_counter()
        again = seed_merchants(count=args.merchants, seed=args.seed, days=args.days, end_date=args.end_date)
        rerun_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM merchants_salesday")
            after = cursor.fetchone()[0]
        print(f"rerun     {again} merchants created, {after - rows} rows added, in {rerun_seconds:.1f} s")
        if again or after != rows:
            print("FAIL      the second run added data", file=sys.stderr)
            return 1

    verdict = "OK" if seed_seconds < TARGET_SECONDS else "TOO SLOW"
    print(f"target    seeding under {TARGET_SECONDS} s: {verdict}")
    return 0 if seed_seconds < TARGET_SECONDS or args.merchants < 10_000 else 1


def _create_database(admin_url: str, name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def _baseline(connection, *, rows: int, merchants: int, days: int) -> float:
    """Seconds to COPY ``rows`` plain tuples (generated beforehand, not timed) into a bare table."""
    stamp = "2025-06-30T12:00:00+08:00"
    first = datetime.date(2023, 7, 1)
    dates = [(first + datetime.timedelta(days=k)).isoformat() for k in range(days)]
    per_merchant = max(1, rows // max(merchants, 1))
    tuples = []
    for merchant in range(merchants):
        tuples.append([(merchant + 1, dates[k % days], "3200.50", "40.00", 80, 65, stamp) for k in range(per_merchant)])
    short = rows - per_merchant * merchants
    if short > 0:
        tuples.append([(merchants + 1, dates[k % days], "3200.50", "40.00", 80, 65, stamp) for k in range(short)])

    class Stream:
        def __init__(self):
            self.batches = iter(tuples)

        def read(self, size=-1):
            batch = next(self.batches, None)
            if batch is None:
                return b""
            return "".join([f"{m}\t{d}\t{g}\t{r}\t{t}\t{c}\t{s}\n" for m, d, g, r, t, c, s in batch]).encode()

        readline = read

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_sales_baseline")
        cursor.execute(
            "CREATE TABLE bench_sales_baseline (merchant_id bigint, date date, gross_sales numeric(14, 2), "
            "refunds numeric(14, 2), transaction_count integer, distinct_customers integer, "
            "imported_at timestamptz)"
        )
        started = time.perf_counter()
        with connection.cursor() as cursor_for_copy:
            cursor_for_copy.cursor.copy_expert("COPY bench_sales_baseline FROM STDIN", Stream())
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_sales_baseline")
    return seconds


if __name__ == "__main__":
    sys.exit(main())
