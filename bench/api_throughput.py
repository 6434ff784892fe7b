"""API throughput on gunicorn: what an Idempotency-Key costs, and what a real POST costs next to a bare ping.

    .venv/bin/python bench/api_throughput.py [--requests 600] [--concurrency 4] [--time-cap 180]

What it does, all on this machine and only on 127.0.0.1:

1. (re)creates the throwaway PostgreSQL database ``lp_bench_api`` (``$BENCH_DATABASE_URL`` to change) and
   migrates it; makes 32 merchant owners with API tokens;
2. starts ``gunicorn config.wsgi -w 2`` on a free port with the test settings and DEBUG off, on a URLconf that
   adds three benchmark-only routes to the real ones (a bare DRF ping, the same ping honouring
   Idempotency-Key, and ``POST /api/v1/sales/`` honouring Idempotency-Key);
3. drives it with a bounded load generator (threads + urllib, a fixed number of requests per scenario and a
   time cap) that interleaves all scenarios request by request, so a busy moment on a shared machine weighs on
   every scenario alike and the ratios compare like with like;
4. prints, per scenario, the mean latency and the throughput it implies at that many threads (Little's law:
   threads / mean latency), then the ratios; stops gunicorn and drops the database.

Every sales POST is a first import of seven new days for one of the 32 merchants in turn, so requests neither
queue on one merchant's lock nor rewrite the same rows. Each keyed request uses a fresh key, so the key is
claimed, the view runs and the answer is stored: the full cost a client pays on its first try (replays are
cheaper and are measured separately).
"""

# ruff: noqa: T201 - a benchmark reports on standard output.

import argparse
import datetime
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
IDEMPOTENT_COST_TARGET = 1.15
MERCHANTS = 32
LAST_DAY = datetime.date(2025, 12, 31)

BENCH_SETTINGS = """
from config.settings.test import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench_api_urls"
ALLOWED_HOSTS = ["127.0.0.1"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
"""

BENCH_URLS = """
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from core.api.idempotency import IdempotentMixin
from core.api.views import IdempotentPingApi, PingApi
from merchants.api.sales import SalesImportApi

if issubclass(SalesImportApi, IdempotentMixin):
    IdempotentSalesImportApi = SalesImportApi
else:
    # Until the sales endpoint adopts the mixin itself, measure it with the mixin put in front.
    IdempotentSalesImportApi = type("IdempotentSalesImportApi", (IdempotentMixin, SalesImportApi), {})

urlpatterns = [
    path("bench/ping/", PingApi.as_view()),
    path("bench/idempotent-ping/", IdempotentPingApi.as_view()),
    path("bench/idempotent-sales/", IdempotentSalesImportApi.as_view()),
    *site_urlpatterns,
]
"""


@dataclass
class Result:
    name: str
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def mean_ms(self) -> float:
        return statistics.mean(self.latencies) * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[18] * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _database_urls(url: str) -> tuple[str, str, str]:
    """(the bench database's URL, the maintenance database's URL, the bench database's name)."""
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        sys.exit(f"The benchmark only runs against a local PostgreSQL, not {parts.hostname}.")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"The benchmark drops and recreates its database; {name!r} does not look like a bench database.")
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    return url, maintenance, name


def _recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    connection = psycopg2.connect(maintenance_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()


def _prepare(env: dict) -> list[str]:
    """Migrate the bench database and return the API tokens of ``MERCHANTS`` merchant owners."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth.models import Group\n"
        "from rest_framework.authtoken.models import Token\n"
        "from accounts.models import User\n"
        "from accounts.roles import Role\n"
        "from merchants.models import Merchant\n"
        "owners = Group.objects.get(name=Role.MERCHANT_OWNER)\n"
        f"for n in range({MERCHANTS}):\n"
        "    user = User.objects.create_user(f'bench{n}@shop.example', 'bench-password-not-secret')\n"
        "    user.groups.add(owners)\n"
        "    Merchant.objects.create(owner=user, legal_name=f'Bench Shop {n}')\n"
        "    print(Token.objects.create(user=user).key)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"Preparing the bench database failed:\n{done.stderr}")
    return done.stdout.split()[-MERCHANTS:]


def _start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    command = [gunicorn, "config.wsgi", "-w", "2", "-b", f"{HOST}:{port}", "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited while starting.")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    _stop(server)
    sys.exit("gunicorn did not answer /healthz within 30 seconds.")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _send(port: int, method: str, path: str, body, headers: dict) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def _run(port: int, scenarios: dict, *, per_scenario: int, concurrency: int, time_cap: float) -> dict[str, Result]:
    """Send ``per_scenario`` requests of every scenario, interleaved, from ``concurrency`` threads.

    Stops early when ``time_cap`` seconds have passed.
    """
    order = [name for _ in range(per_scenario) for name in scenarios]
    # Shuffled (the same way every run): with more threads than workers a request waits behind whatever is
    # ahead of it, and a fixed order would always put the same scenarios behind the heavy ones.
    random.Random(20251231).shuffle(order)
    schedule = iter(order)
    lock = threading.Lock()
    results = {name: Result(name, [], {}) for name in scenarios}
    started = time.perf_counter()

    def worker():
        while True:
            with lock:
                name = next(schedule, None)
                serial = next(SERIALS)
            if name is None or time.perf_counter() - started > time_cap:
                return
            method, path, body, headers = scenarios[name](serial)
            begun = time.perf_counter()
            status = _send(port, method, path, body, headers)
            took = time.perf_counter() - begun
            with lock:
                results[name].latencies.append(took)
                results[name].statuses[status] = results[name].statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# One number per request over the whole run: it picks the merchant and the days, so no two requests collide.
SERIALS = itertools.count()
TOKENS: list[str] = []


def _auth(serial: int) -> dict:
    return {"Authorization": f"Token {TOKENS[serial % len(TOKENS)]}"}


def _sales_body(serial: int) -> dict:
    """Seven days the merchant has not sent before: each merchant's serials walk back a week at a time."""
    last = LAST_DAY - datetime.timedelta(days=7 * (serial // MERCHANTS))
    days = [
        {
            "date": (last - datetime.timedelta(days=offset)).isoformat(),
            "gross_sales": f"{3000 + serial % 997 + offset}.50",
            "refunds": "12.00",
            "transaction_count": str(80 + offset),
            "distinct_customers": str(60 + offset),
        }
        for offset in range(7)
    ]
    return {"days": days}


def _key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


REPLAYED = {"Idempotency-Key": "bench-replayed", "Authorization": "replaced at start"}

SCENARIOS = {
    "ping GET": lambda n: ("GET", "/bench/ping/", None, _auth(n)),
    "ping POST, no key": lambda n: ("POST", "/bench/idempotent-ping/", {"n": n}, _auth(n)),
    "ping POST, new key": lambda n: ("POST", "/bench/idempotent-ping/", {"n": n}, {**_auth(n), **_key()}),
    "sales POST, no key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(n), _auth(n)),
    "sales POST, new key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(n), {**_auth(n), **_key()}),
    # The first merchant sending one import with one key again and again (serial 0 went to a ping: its days
    # are new the first time).
    "sales POST, replayed key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(0), REPLAYED),
    "sales POST /api/v1/sales/": lambda n: ("POST", "/api/v1/sales/", _sales_body(n), _auth(n)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--time-cap", type=float, default=180.0, help="seconds the measured run may take, at most")
    parser.add_argument("--keep-db", action="store_true", help="leave lp_bench_api in place afterwards")
    args = parser.parse_args()

    url, maintenance, name = _database_urls(
        os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lp_bench_api")
    )
    modules = Path(tempfile.mkdtemp(prefix="bench-api-"))
    (modules / "bench_api_settings.py").write_text(BENCH_SETTINGS)
    (modules / "bench_api_urls.py").write_text(BENCH_URLS)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_api_settings",
        "DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(modules), str(ROOT)]),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        # Persistent connections, as production runs (base.py reads it); a connection per request would
        # dwarf everything measured here.
        "DATABASE_CONN_MAX_AGE": "60",
    }
    print(f"Database {name}: recreating and migrating ...", flush=True)
    _recreate_database(maintenance, name)
    server = None
    try:
        TOKENS.extend(_prepare(env))
        REPLAYED["Authorization"] = f"Token {TOKENS[0]}"
        port = _free_port()
        server = _start_gunicorn(env, port)
        print(f"gunicorn config.wsgi -w 2 on {HOST}:{port} (settings: config.settings.test, DEBUG off)")
        print(f"{args.requests} requests per scenario, interleaved, {args.concurrency} client threads\n", flush=True)
        # Warm both workers (imports, connections, caches) and store the replayed key's first answer.
        _run(port, SCENARIOS, per_scenario=20, concurrency=args.concurrency, time_cap=30)
        started = time.perf_counter()
        results = _run(
            port, SCENARIOS, per_scenario=args.requests, concurrency=args.concurrency, time_cap=args.time_cap
        )
        took = time.perf_counter() - started
    finally:
        if server is not None:
            _stop(server)
        if not args.keep_db:
            _recreate_database(maintenance, name, drop_only=True)
        shutil.rmtree(modules, ignore_errors=True)

    sent = sum(len(r.latencies) for r in results.values())
    print(f"{sent} requests in {took:.1f} s ({sent / took:.1f} req/s overall)\n")
    print(f"{'scenario':28} {'sent':>5} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'req/s':>7}  statuses")
    for result in results.values():
        implied = args.concurrency / (result.mean_ms / 1000)
        statuses = dict(sorted(result.statuses.items()))
        print(
            f"{result.name:28} {len(result.latencies):5} {result.mean_ms:8.1f} {result.p50_ms:7.1f} "
            f"{result.p95_ms:7.1f} {implied:7.1f}  {statuses}"
        )

    def cost(scenario: str, baseline: str) -> float:
        return results[scenario].mean_ms / results[baseline].mean_ms

    sales_key = cost("sales POST, new key", "sales POST, no key")
    # Judged at the precision printed: the measurement is nowhere near finer than that.
    verdict = "within" if round(sales_key, 2) <= IDEMPOTENT_COST_TARGET else "OVER"
    rows = [
        ("sales POST with a new Idempotency-Key vs without", sales_key, f"{verdict} the 1.15x target"),
        (
            "ping POST with a new Idempotency-Key vs without",
            cost("ping POST, new key", "ping POST, no key"),
            "the key alone, nothing around it",
        ),
        ("sales POST with a replayed key vs without a key", cost("sales POST, replayed key", "sales POST, no key"), ""),
        ("POST /api/v1/sales/ (7 new days) vs bare DRF ping", cost("sales POST /api/v1/sales/", "ping GET"), ""),
        (
            "noise check: the same sales POST on its own route",
            cost("sales POST /api/v1/sales/", "sales POST, no key"),
            "1.00 on a quiet machine",
        ),
    ]
    print("\nRatios (cost per request: mean latency of the scenario / mean latency of its baseline):")
    for label, ratio, note in rows:
        print(f"  {label:52} {ratio:5.2f}x" + (f"  ({note})" if note else ""))
    print(
        "\nSubmitting loan applications is not measured yet: the applications API does not exist. "
        "Add it here (with and without Idempotency-Key, against this ping) when it lands."
    )


if __name__ == "__main__":
    main()
