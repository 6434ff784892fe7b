# ruff: noqa: T201 - a benchmark script reports on standard output.
"""Benchmark: the back office's application list and the API's application list over 5 million applications.

    .venv/bin/python bench/admin_lists.py                          # 50,000 against 5,000,000 applications
    .venv/bin/python bench/admin_lists.py --large 1000000          # a smaller large table

Two throwaway databases on the server of ``DATABASE_URL``:

- ``lp_bench_lists_small``: the demo products, 1,000 demo merchants, an officer, and 50 applications per merchant
  (50,000), written by ``INSERT … SELECT generate_series`` from one application made through the ORM, spread over
  the states (2 % referred, a few signed or awaiting a second approval, the rest decided or closed), the three
  products, one in 97 a counter-offer, one a minute back in time;
- ``lp_bench_lists_large``: a copy of it (``CREATE DATABASE … TEMPLATE``) with filler merchants and their
  applications added until ``--large`` applications, every one decided or closed (declined, funded, expired,
  withdrawn): a portfolio grows by its history, while the officers' queues (referred, signed, awaiting a second
  approval) hold the same open work in both databases. The merchant whose API list is read still has its 50.

Both are reused when they already hold their rows (``--reseed`` starts again). Each page is requested in-process
through Django's test client (the whole stack from URL to rendered HTML or JSON, without a socket), ``--requests``
times after three warm-ups, in one child process per database, alternating small, large, small, large. The
**baseline** is the same page over 50,000 applications. Pages: the admin changelist unfiltered, by each filter (state,
queue, product, counter-offer) and searched by a credit code; the API's first page for the merchant, and filtered by
state. Target: every page's median at most 3× its baseline. Exit 1 on a miss, 2 for a database not named a bench's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SMALL_DB = "lp_bench_lists_small"
LARGE_DB = "lp_bench_lists_large"
RATIO_TARGET = 3.0
REAL_MERCHANTS = 1000
PER_MERCHANT = 50
FILLER_MERCHANTS_PER_BATCH = 1000
FILLER_PER_MERCHANT = 500
OFFICER = "bench-officer@bench.example"
WARM_UP = 3


def _refuse_unless_bench(name: str) -> None:
    """Benchmarks empty and refill their database: refuse any whose name does not say it is a benchmark's."""
    from _guard import require_bench_name  # the one rule every script shares (exit status 2)

    require_bench_name(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=int, default=5_000_000, help="Applications in the large database.")
    parser.add_argument("--requests", type=int, default=20, help="Timed requests per page, database and round.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reseed", action="store_true", help="Drop both databases and seed them again.")
    parser.add_argument("--seed-only", action="store_true", help="Seed both databases and stop (measure later).")
    parser.add_argument("--prepare", metavar="DATABASE", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loanportal")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        print(f"DATABASE_URL must point at PostgreSQL (got {parts.scheme}://…).", file=sys.stderr)
        return 2
    if args.prepare or args.measure:
        name = args.prepare or args.measure
        _refuse_unless_bench(name)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        return _prepare(args, large=name == LARGE_DB) if args.prepare else _measure(args)

    for name in (SMALL_DB, LARGE_DB):
        _refuse_unless_bench(name)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    if args.reseed:
        _sql(admin_url, f'DROP DATABASE IF EXISTS "{LARGE_DB}"')
        _sql(admin_url, f'DROP DATABASE IF EXISTS "{SMALL_DB}"')
    if not _exists(admin_url, SMALL_DB):
        _sql(admin_url, f'CREATE DATABASE "{SMALL_DB}"')
    _child(args, "--prepare", SMALL_DB)
    if not _exists(admin_url, LARGE_DB):
        _sql(admin_url, f'CREATE DATABASE "{LARGE_DB}" TEMPLATE "{SMALL_DB}"')
    _child(args, "--prepare", LARGE_DB)
    if args.seed_only:
        return 0

    results: dict[str, list[dict]] = {SMALL_DB: [], LARGE_DB: []}
    for round_number in range(1, args.rounds + 1):
        for name in (SMALL_DB, LARGE_DB):
            result = json.loads(_child(args, "--measure", name, capture=True).strip().splitlines()[-1])
            results[name].append(result)
            print(f"round {round_number}   {name}: {result['applications']:,} applications")
    pages = list(results[SMALL_DB][0]["pages"])
    small_count = results[SMALL_DB][-1]["applications"]
    large_count = results[LARGE_DB][-1]["applications"]
    print(f"{'page':<40} {small_count:>12,} {large_count:>12,}   ratio")
    ok = large_count >= args.large
    for page in pages:
        small = statistics.median(r["pages"][page] for r in results[SMALL_DB])
        large = statistics.median(r["pages"][page] for r in results[LARGE_DB])
        ratio = large / small
        ok = ok and ratio <= RATIO_TARGET
        verdict = "OK" if ratio <= RATIO_TARGET else "SLOW"
        print(f"{page:<40} {small:>9.1f} ms {large:>9.1f} ms   {ratio:.2f}x {verdict}")
    if large_count < args.large:
        print(f"note      the large database holds {large_count:,} applications, fewer than {args.large:,}")
    verdict = "OK" if ok else "MISSED"
    print(f"target    every page <= {RATIO_TARGET}x its time over {small_count:,} applications: {verdict}")
    return 0 if ok else 1


def _child(args, flag: str, name: str, *, capture: bool = False) -> str:
    command = [sys.executable, __file__, flag, name, "--large", str(args.large), "--requests", str(args.requests)]
    done = subprocess.run(command, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return done.stdout or ""


def _prepare(args, *, large: bool) -> int:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from lending.catalogue.services.demo import products_seed
    from lending.origination.models import LoanApplication
    from merchants.models import Merchant
    from merchants.services.demo import seed_merchants

    call_command("migrate", verbosity=0, interactive=False)
    if not large and not LoanApplication.objects.exists():
        started = time.perf_counter()
        products = products_seed()
        seed_merchants(count=REAL_MERCHANTS, seed=1, days=7)
        User.objects.filter(email=OFFICER).exists() or User.objects.create_superuser(OFFICER, "bench-password")
        merchant = Merchant.objects.exclude(credit_code="").order_by("pk").first()
        template = LoanApplication.objects.create(
            merchant=merchant,
            product=products[0],
            amount=Decimal("50000.00"),
            term=products[0].allowed_terms[0] if products[0].allowed_terms else None,
            repayment_method=products[0].repayment_methods[0],
        )
        merchants = list(Merchant.objects.exclude(credit_code="").order_by("pk").values_list("pk", flat=True))
        _applications_add(connection, template=template.pk, merchants=merchants, count=REAL_MERCHANTS * PER_MERCHANT)
        print(f"seeded    {LoanApplication.objects.count():,} applications in {time.perf_counter() - started:.1f} s")
    have = LoanApplication.objects.count()
    if large and have < args.large:
        started, at_start = time.perf_counter(), have
        template = LoanApplication.objects.order_by("pk").first()
        owner_template = Merchant.objects.exclude(credit_code="").order_by("pk").first()
        while have < args.large:
            fillers = _filler_merchants(connection, template=owner_template, count=FILLER_MERCHANTS_PER_BATCH)
            count = min(args.large - have, len(fillers) * FILLER_PER_MERCHANT)
            _applications_add(connection, template=template.pk, merchants=fillers, count=count, closed=True)
            have += count
            rate = (have - at_start) / (time.perf_counter() - started)
            print(f"filler    {have:,} / {args.large:,} applications ({rate:,.0f} a second)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE lending_loanapplication")
        cursor.execute("ANALYZE")
    print(f"ready     {connection.settings_dict['NAME']}: {have:,} applications")
    return 0


def _applications_add(connection, *, template: int, merchants: list[int], count: int, closed: bool = False) -> None:
    """``count`` copies of the template application, spread over ``merchants``, states, products and time.

    ``closed``: decided or closed applications only (declined, funded, expired, withdrawn), as history grows; the
    officers' queues (referred, signed, awaiting a second approval) keep the open work of the small database.
    """
    from django.db import transaction

    from lending.catalogue.models import LoanProduct
    from lending.origination.models import LoanApplication

    products = list(LoanProduct.objects.order_by("pk").values_list("pk", flat=True))
    columns = [f.column for f in LoanApplication._meta.concrete_fields if not f.primary_key]
    state = (
        "CASE WHEN g % 100 < 2 THEN 'referred' WHEN g % 100 = 2 THEN 'signed' "
        "WHEN g % 100 = 3 THEN 'awaiting_second_approval' WHEN g % 100 < 40 THEN 'declined' "
        "WHEN g % 100 < 70 THEN 'funded' WHEN g % 100 < 80 THEN 'expired' ELSE 'withdrawn' END"
    )
    if closed:
        state = state.replace("'referred'", "'declined'").replace("'signed'", "'funded'")
        state = state.replace("'awaiting_second_approval'", "'funded'")
    replaced = {
        "merchant_id": "(%(merchants)s::bigint[])[1 + g %% %(merchant_count)s]",
        "product_id": "(%(products)s::bigint[])[1 + g %% %(product_count)s]",
        "state": state.replace("%", "%%"),
        "is_counter_offer": "g %% 97 = 0",
        "created_at": "now() - (%(offset)s + g) * interval '1 minute'",
        "updated_at": "now()",
        "submission_token": "NULL",
        "decision_id": "NULL",
    }
    values = [replaced.get(column, f"t.{column}") for column in columns]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lending_loanapplication")
        (offset,) = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO lending_loanapplication ({', '.join(columns)}) "  # noqa: S608 - the model's columns
            f"SELECT {', '.join(values)} FROM lending_loanapplication t, generate_series(1, %(count)s) g "
            "WHERE t.id = %(template)s",
            {
                "merchants": merchants,
                "merchant_count": len(merchants),
                "products": products,
                "product_count": len(products),
                "offset": offset,
                "count": count,
                "template": template,
            },
        )


def _filler_merchants(connection, *, template, count: int) -> list[int]:
    from django.db import transaction

    from accounts.models import User
    from merchants.models import Merchant

    user_columns = [f.column for f in User._meta.concrete_fields if not f.primary_key]
    merchant_columns = [f.column for f in Merchant._meta.concrete_fields if not f.primary_key]
    user_values = [
        "'bench-filler-' || g || '@bench.example'" if column == "email" else f"t.{column}" for column in user_columns
    ]
    replaced = {
        "owner_id": "u.id",
        "credit_code": "''",
        "legal_name": "'Bench filler ' || u.id",
        "legal_rep_id_number": "'F' || lpad(u.id::text, 17, '0')",
        "settlement_account_number": "'F' || lpad(u.id::text, 18, '0')",
    }
    merchant_values = [replaced.get(column, f"t.{column}") for column in merchant_columns]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM accounts_user")
        (after,) = cursor.fetchone()
        cursor.execute(
            f"WITH u AS (INSERT INTO accounts_user ({', '.join(user_columns)}) "  # noqa: S608 - model columns
            f"SELECT {', '.join(user_values)} FROM accounts_user t, generate_series(%s, %s) g "
            "WHERE t.id = %s RETURNING id) "
            f"INSERT INTO merchants_merchant ({', '.join(merchant_columns)}) "
            f"SELECT {', '.join(merchant_values)} FROM merchants_merchant t, u WHERE t.id = %s RETURNING id",
            [after + 1, after + count, template.owner_id, template.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def _measure(args) -> int:
    from django.test import Client
    from rest_framework.test import APIClient

    from accounts.models import User
    from lending.catalogue.models import LoanProduct
    from lending.origination.models import LoanApplication
    from merchants.models import Merchant

    merchant = Merchant.objects.exclude(credit_code="").order_by("pk").first()
    product = LoanProduct.objects.order_by("pk").last()
    officer = Client(HTTP_HOST="localhost")
    officer.force_login(User.objects.get(email=OFFICER))
    owner = APIClient(HTTP_HOST="localhost")
    owner.force_authenticate(merchant.owner)
    changelist = "/admin/lending/loanapplication/"
    pages = {
        "admin: all applications": (officer, changelist),
        "admin: state = referred": (officer, changelist + "?state__exact=referred"),
        "admin: state = declined": (officer, changelist + "?state__exact=declined"),
        "admin: queue = to fund": (officer, changelist + "?queue=to_fund"),
        "admin: product": (officer, changelist + f"?product__id__exact={product.pk}"),
        "admin: counter-offers": (officer, changelist + "?is_counter_offer__exact=1"),
        "admin: search by credit code": (officer, changelist + f"?q={merchant.credit_code}"),
        "api: the merchant's first page": (owner, "/api/v1/applications/"),
        "api: the merchant's declined": (owner, "/api/v1/applications/?state=declined"),
    }
    timings = {}
    for name, (client, path) in pages.items():
        for _ in range(WARM_UP):
            response = client.get(path)
            if response.status_code != 200:
                print(f"{name}: {path} answered {response.status_code}", file=sys.stderr)
                return 1
        samples = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    print(json.dumps({"applications": LoanApplication.objects.count(), "pages": timings}))
    return 0


def _exists(admin_url: str, name: str) -> bool:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def _sql(admin_url: str, statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


if __name__ == "__main__":
    sys.exit(main())
