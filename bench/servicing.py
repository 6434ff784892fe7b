# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: the nightly servicing run in chunks over a book of active loans, on 1 and then 2 Celery worker processes.

    .venv/bin/python bench/servicing.py                          # 1,000,000 loans x 12 instalments
    .venv/bin/python bench/servicing.py --loans 200000           # smaller
    .venv/bin/python bench/servicing.py --loans 200000 --reuse   # the book seeded by an earlier run, not seeded again

Databases, on the server of ``DATABASE_URL`` (names must contain "bench"; nothing else is ever created or dropped):
``lp_bench_servicing`` holds the seeded book (``--database``), and each measured run works on a fresh copy of it
(``CREATE DATABASE … TEMPLATE``), ``lp_bench_servicing_w1`` and ``_w2``, so both runs start from the same rows.
The book: ``--loans`` loans of 12 monthly instalments started over the last eleven months, most of them current
(everything due is paid), about 8 % overdue by one to three instalments, about 1 % a few days short of the default
threshold (90 days past due). Loans and applications are cloned from one made through the ORM with
``INSERT … SELECT``, instalments go in with ``COPY``.

Broker: ``BENCH_BROKER_URL`` (default ``CELERY_BROKER_URL``, or redis://127.0.0.1:6379/0), on a queue of the run's own
that is deleted at the end; results (the chord's bookkeeping) in the same Redis.

What it measures, for one business date (``--on``):

- **the chunked run** (``core.services.jobs.job_run_start`` of ``lending-servicing-daily``: planning, a chord of one
  task per chunk of ``--chunk-size`` loans, each chunk the whole servicing day for its loans in one transaction,
  the run recorded by the chord's last step), timed from the call until the run is recorded, with a worker of 1
  and then 2 processes (``celery worker --concurrency N``) started and warm before the clock starts. The reminder
  emails the chunks queue go to a queue of their own that no worker reads (the mail server is not measured).
- **baseline**: one bare set-based ``UPDATE lending_instalment SET status = status`` over the same instalments
  (every row rewritten once, one statement, no Python, no rules), on the seeded book.

Targets: throughput with 2 workers at least 1.7 x that with 1; the 2-worker run at most 3 x the baseline. It also
checks that both runs did the same (their counts are equal), that every chunk ran exactly once, and that starting
the same day again dispatches nothing. Exit status 1 when a target or a check is missed, 2 when refused.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from _guard import baseline, bench_database_url, maintenance_url, require_bench_name, verdict

ROOT = Path(__file__).resolve().parent.parent
MERCHANTS = 2000
INSTALMENTS = 12
SPEEDUP_TARGET = 1.7
BASELINE_TARGET = 3.0
JOB = "lending-servicing-daily"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--on", type=datetime.date.fromisoformat, default=datetime.date(2027, 6, 15))
    parser.add_argument("--database", default="lp_bench_servicing")
    parser.add_argument("--workers", default="1,2", help="Worker process counts to measure, in order (default 1,2).")
    parser.add_argument("--chunk-size", type=int, default=2000, help="Loans per chunk (JOBS_CHUNK_SIZE).")
    parser.add_argument("--reuse", action="store_true", help="Use the book an earlier run seeded (same --loans).")
    parser.add_argument("--time-cap", type=float, default=3600, help="Give up on a run after this many seconds.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # the worker processes' entry
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(queue=args.queue, concurrency=args.concurrency)

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    book_url = bench_database_url(url, args.database)
    workers = [int(n) for n in args.workers.split(",")]
    copies = {n: bench_database_url(url, f"{args.database}_w{n}") for n in workers}
    broker = os.environ.get("BENCH_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    queue = f"bench-servicing-{uuid.uuid4().hex[:8]}"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "JOBS_CHUNK_SIZE": str(args.chunk_size),
        "DATABASE_CONN_MAX_AGE": "60",
    }
    os.environ.update(env, DATABASE_URL=book_url)
    sys.path.insert(0, str(ROOT))

    import django

    exists = _database_exists(book_url)
    if not (args.reuse and exists):
        _recreate_database(book_url)
    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from lending.servicing.models import Instalment, Loan

    call_command("migrate", verbosity=0, interactive=False)
    print(f"database  {args.database} on {connection.settings_dict['HOST']}, PostgreSQL {connection.pg_version}")
    have = Loan.objects.count()
    if args.reuse and exists and have == args.loans:
        print(f"reused    {have:,} loans x {INSTALMENTS} instalments already seeded")
    else:
        if args.reuse and exists:
            print(f"reseeding: the database holds {have:,} loans, not {args.loans:,}")
            connections.close_all()
            _recreate_database(book_url)
            call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()
        mix = _seed(loans=args.loans, on=args.on, seed=args.seed)
        print(f"seeded    {args.loans:,} loans x {INSTALMENTS} in {time.perf_counter() - started:.1f} s: {mix}")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    instalments = Instalment.objects.count()
    print(
        f"workload  {args.loans:,} loans, {instalments:,} instalments, business date {args.on}, "
        f"chunks of {args.chunk_size:,} loans; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}"
    )
    connections.close_all()

    results: dict[int, tuple[float, dict, bool]] = {}
    try:
        for n in workers:
            results[n] = _measure(n, book_url=book_url, copy_url=copies[n], queue=queue, env=env, args=args)
    finally:
        _queues_delete(queue)
    connections.close_all()
    os.environ["DATABASE_URL"] = book_url
    connection.settings_dict["NAME"] = args.database
    base_seconds, rows = _bare_update()
    baseline(
        "baseline", base_seconds, f"one set-based UPDATE rewriting every instalment's status ({rows:,} rows), no Python"
    )

    ok = True
    first_counts = next(iter(results.values()))[1]
    for n, (seconds, counts, clean) in results.items():
        ratio = seconds / base_seconds
        print(
            f"ratio     {n} worker(s): {seconds:.2f} s = {ratio:.2f}x the baseline; {args.loans / seconds:,.0f} loans/s"
        )
        if counts != first_counts:
            print(f"check     the {n}-worker run's counts differ from the first run's: MISSED")
            ok = False
        ok = ok and clean
    status = 0 if ok else 1
    if 1 in results and 2 in results:
        speedup = results[1][0] / results[2][0]
        print(f"speedup   throughput with 2 workers / with 1 = {speedup:.2f}x")
        status |= verdict(speedup >= SPEEDUP_TARGET, f"2 workers at least {SPEEDUP_TARGET}x the throughput of 1")
    fastest = min(seconds for seconds, _c, _ok in results.values())
    status |= verdict(fastest / base_seconds <= BASELINE_TARGET, f"the run at most {BASELINE_TARGET}x the bare UPDATE")
    return status


def _measure(n: int, *, book_url: str, copy_url: str, queue: str, env: dict, args) -> tuple[float, dict, bool]:
    """One chunked run of the day on a fresh copy of the book with a worker of ``n`` processes; (seconds, counts,
    checks passed)."""
    from django.db import connection, connections

    from core.models import JobChunk, JobRun
    from core.services.jobs import job_run_start

    copy_name = copy_url.rsplit("/", 1)[1]
    started = time.perf_counter()
    _recreate_database(copy_url, template=book_url.rsplit("/", 1)[1])
    print(f"copied    the book to {copy_name} in {time.perf_counter() - started:.1f} s")
    connections.close_all()
    connection.settings_dict["NAME"] = copy_name
    worker = subprocess.Popen(
        [sys.executable, __file__, "--worker", "--queue", queue, "--concurrency", str(n)],
        env={**os.environ, **env, "DATABASE_URL": copy_url},
    )
    try:
        _wait_until_ready(queue)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        run = job_run_start(job=JOB, on=args.on)
        while True:
            time.sleep(0.25)
            run.refresh_from_db()
            if run.status != JobRun.Status.RUNNING or time.perf_counter() - started > args.time_cap:
                break
        seconds = time.perf_counter() - started
        chunks = run.chunks.all()
        attempts = sorted({chunk.attempts for chunk in chunks})
        failed = chunks.filter(status=JobChunk.Status.FAILED).count()
        again = job_run_start(job=JOB, on=args.on)
        clean = run.status == JobRun.Status.DONE and attempts == [1] and again.pk == run.pk and not failed
        counts = {key: value for key, value in run.counts.items() if value}
        print(
            f"run       {n} worker(s): {seconds:8.2f} s, {run.chunks_total} chunks, status {run.status}, "
            f"attempts per chunk {attempts}, load average before {load:.1f}"
        )
        print(f"          {', '.join(f'{key}={value:,}' for key, value in counts.items())}")
        if not clean:
            print("check     every chunk done once, the run recorded, a second start a no-op: MISSED")
        return seconds, counts, clean
    finally:
        worker.terminate()
        worker.wait(timeout=120)
        connections.close_all()
        _drop_database(copy_url)


def _worker(*, queue: str, concurrency: int) -> int:
    """A Celery worker of ``concurrency`` processes on ``queue``; the reminder emails go to a queue nobody reads."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from config.celery import app

    app.conf.task_default_queue = queue
    emails = {"queue": f"{queue}-emails"}
    app.conf.task_routes = {"core.tasks.notices_email_task": emails, "core.tasks.notice_email_task": emails}
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-Q",
            queue,
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    return 0


def _wait_until_ready(queue: str) -> None:
    from config.celery import app
    from core.tasks import echo_task

    app.conf.task_default_queue = queue
    echo_task.apply_async(args=["ready"], queue=queue).get(timeout=180)


def _queues_delete(queue: str) -> None:
    from config.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in (queue, f"{queue}-emails"):
            # Purged first: the emails' queue was never declared by a consumer, and deleting alone leaves its list.
            channel.queue_purge(name)
            channel.queue_delete(name)


def _bare_update() -> tuple[float, int]:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE lending_instalment SET status = status")
        rows = cursor.rowcount
    return time.perf_counter() - started, rows


def _admin():
    import psycopg2

    connection = psycopg2.connect(maintenance_url(os.environ.get("DATABASE_URL", "")))
    connection.autocommit = True
    return connection


def _database_exists(url: str) -> bool:
    name = require_bench_name(url.rsplit("/", 1)[1])
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def _recreate_database(url: str, *, template: str | None = None) -> None:
    from psycopg2 import sql

    name = require_bench_name(url.rsplit("/", 1)[1])  # checked again right before the DROP
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if template is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            else:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(require_bench_name(template))
                    )
                )
    finally:
        connection.close()


def _drop_database(url: str) -> None:
    from psycopg2 import sql

    name = require_bench_name(url.rsplit("/", 1)[1])
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        connection.close()


class _Lines:
    """A file-like object for ``COPY … FROM STDIN`` that generates its lines as PostgreSQL reads them."""

    def __init__(self, lines) -> None:
        self._lines = lines
        self._buffer = ""

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._buffer) < size:
            chunk = "".join(line for _n, line in zip(range(5000), self._lines, strict=False))
            if not chunk:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, ""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    readline = read


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
    plans = []  # (merchant id, start, unpaid from instalment number)
    mix = {"current": 0, "overdue": 0, "near_default": 0}
    for k in range(loans):
        roll = rng.random()
        if roll < 0.01:
            # Close to default: the first instalment fell due 86-89 days ago and nothing has been paid.
            due = on - datetime.timedelta(days=rng.randint(86, 89))
            start = add_months(due, -1)
            kind = "near_default"
            first_unpaid = 1
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
        plans.append((merchants[k % MERCHANTS].pk, start, first_unpaid))

    # One application and one loan through the ORM, cloned in SQL for every plan, then removed.
    application = LoanApplication.objects.create(
        merchant=merchants[0],
        product=product,
        amount=principal_each * INSTALMENTS,
        term=INSTALMENTS,
        repayment_method="equal_principal",
        state=ApplicationState.FUNDED,
    )
    template = Loan.objects.create(
        application=application,
        merchant=merchants[0],
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
        start_date=on,
        maturity_date=add_months(on, INSTALMENTS),
        state="active",
        serviced_on=on - datetime.timedelta(days=1),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_plan "
            "(k bigint PRIMARY KEY, merchant_id bigint, start_date date, maturity_date date)"
        )
        cursor.copy_expert(
            "COPY bench_plan FROM STDIN",
            _Lines(
                f"{k}\t{merchant_id}\t{start.isoformat()}\t{add_months(start, INSTALMENTS).isoformat()}\n"
                for k, (merchant_id, start, _first) in enumerate(plans, start=1)
            ),
        )
        application_base, loan_base = application.pk, template.pk
        _clone(
            cursor,
            "lending_loanapplication",
            application.pk,
            {"id": f"{application_base} + p.k", "merchant_id": "p.merchant_id", "submission_token": "NULL"},
        )
        _clone(
            cursor,
            "lending_loan",
            template.pk,
            {
                "id": f"{loan_base} + p.k",
                "application_id": f"{application_base} + p.k",
                "merchant_id": "p.merchant_id",
                "start_date": "p.start_date",
                "maturity_date": "p.maturity_date",
            },
        )
        cursor.execute("DELETE FROM lending_loan WHERE id = %s", [template.pk])
        cursor.execute("DELETE FROM lending_loanapplication WHERE id = %s", [application.pk])
        for table in ("lending_loanapplication", "lending_loan"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608

        def instalment_lines():
            for k, (_merchant, start, first_unpaid) in enumerate(plans, start=1):
                for number in range(1, INSTALMENTS + 1):
                    due = add_months(start, number)
                    paid = number < first_unpaid
                    paid_p, paid_i = (principal_each, interest_each) if paid else ("0.00", "0.00")
                    yield (
                        f"{loan_base + k}\t{number}\t{due.isoformat()}\t{principal_each}\t{interest_each}\t0.00\t"
                        f"{paid_p}\t{paid_i}\t0.00\t0.00\t0.00\t{due.isoformat() if paid else chr(92) + 'N'}\t"
                        f"{'paid' if paid else 'due'}\n"
                    )

        cursor.copy_expert(
            "COPY lending_instalment (loan_id, number, due_date, principal_due, interest_due, fee_due, "
            "principal_paid, interest_paid, fee_paid, penalty_due, penalty_paid, paid_on, status) FROM STDIN",
            _Lines(instalment_lines()),
        )
    return mix


def _clone(cursor, table: str, template_id: int, overrides: dict[str, str]) -> None:
    """Insert one row per plan into ``table``, a copy of row ``template_id`` with ``overrides`` (SQL over ``p``)."""
    from django.db import connection

    columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
    values = [overrides.get(column, f"t.{column}") for column in columns]
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608 - names from the schema
        f"FROM {table} t CROSS JOIN bench_plan p WHERE t.id = %s ORDER BY p.k",
        [template_id],
    )


if __name__ == "__main__":
    sys.exit(main())
