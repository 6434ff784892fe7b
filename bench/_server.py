"""What the HTTP benchmarks share: a throwaway PostgreSQL database, gunicorn on 127.0.0.1, and a bounded load driver.

``BenchServer`` is a context manager::

    with BenchServer(database_url=..., urls=BENCH_URLS, env={...}) as bench:
        bench.django("print(1)")                     # a Python snippet with Django set up, against the bench database
        applicants = seed_applicants(bench, count=500)
        port = bench.start()                         # gunicorn config.wsgi -w 2 on a free local port
        ...

On entry it refuses a database that is not on this machine or whose name lacks "bench", drops and recreates it and
migrates it; on exit (also on Ctrl-C or an error) it stops gunicorn, drops the database (unless ``keep_db``),
deletes its task queue and removes its temporary settings and URLconf modules. It never talks to anything but
127.0.0.1.

Tasks (the emails that tell a merchant its decision) are published to the local Redis, as production publishes
them, on a queue named for this run (``bench-<uuid>``) that no worker consumes: a request's cost is what the web
tier pays, publishing included, and sending the email is a worker's cost, elsewhere in production. Running the
tasks inside the request instead (Celery's eager mode) would charge each application an email it does not wait for
in production. ``$BENCH_BROKER_URL`` names another local Redis database (default 14).

``run_tasks`` and ``alternate_blocks`` drive the load: a fixed list of tasks, a fixed number of client threads,
and a deadline after which no task starts, so every run ends by itself.
"""

# ruff: noqa: T201 - the benchmarks report on standard output.

import json
import os
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2
from _guard import bench_database_url, maintenance_url, require_bench_name
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SETTINGS_MODULE = "bench_settings"
URLS_MODULE = "bench_urls"
# What the scripts print before their JSON answer, so that anything else Django prints cannot be mistaken for it.
ANSWER_PREFIX = "BENCH-ANSWER "

BENCH_SETTINGS = f"""
from config.settings.test import *  # noqa: F403

import os

DEBUG = False
ROOT_URLCONF = "{URLS_MODULE}"
# Tasks go to the broker as in production, on a queue of this run's own that nothing consumes (see BenchServer).
CELERY_TASK_DEFAULT_QUEUE = os.environ["BENCH_TASK_QUEUE"]
ALLOWED_HOSTS = ["127.0.0.1"]
LOGGING = {{"version": 1, "disable_existing_loggers": False, "root": {{"level": "ERROR"}}}}

import warnings

# WhiteNoise warns, once per worker, that collectstatic has not run: the benchmarks serve no static files.
warnings.filterwarnings("ignore", message="No directory at")
"""

# The real site plus a bare DRF ping (``core.api.views.PingApi``): authentication, then an answer, nothing else.
PING_URLS = """
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from core.api.views import PingApi

urlpatterns = [path("bench/ping/", PingApi.as_view()), *site_urlpatterns]
"""

# Applying is limited per user and per merchant; the benchmark server gets room enough that no request is refused
# for it. The checks themselves still run on every request (only the numbers differ), so their cost is measured.
RAISED_LIMITS = {
    "API_RATE_APPLICATIONS": "1000000/hour",
    "API_RATE_APPLICATIONS_DAILY": "1000000/day",
    "MAX_OPEN_APPLICATIONS": "1000",
}


# --- The database and the server ------------------------------------------------------------------------------


def _database_urls(url: str) -> tuple[str, str]:
    """(the maintenance database's URL, the bench database's name); exits on anything not local or not a bench."""
    url = bench_database_url(url)  # this machine's server, a name marked "bench", or the script stops here
    return maintenance_url(url), urlsplit(url).path.lstrip("/")


def _recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    require_bench_name(name)  # checked again here: this is the line that drops
    connection = psycopg2.connect(maintenance_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if not drop_only:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def _broker_url() -> str:
    url = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost"}:
        sys.exit(f"The benchmark only publishes to a local Redis, not {urlsplit(url).hostname}.")
    return url


def _delete_queue(broker_url: str, queue: str) -> int:
    """Delete the run's queue and its binding; returns how many tasks were waiting in it."""
    import redis  # celery[redis]'s client, imported here: only the HTTP benchmarks need it

    client = redis.Redis.from_url(broker_url)
    try:
        waiting = client.llen(queue)
        client.delete(queue)
        # Kombu keeps the bindings in sets named after the exchange (``_kombu.binding.<exchange>``, and
        # ``_kombu.binding_permanent.<exchange>`` in newer versions); the run's queue has an exchange of its own name.
        for binding in client.scan_iter(match="_kombu.binding*"):
            if binding.decode(errors="replace").endswith(f".{queue}"):
                client.delete(binding)
                continue
            if client.type(binding) != b"set":  # kombu's other bookkeeping under that prefix (deadlines) is no binding
                continue
            for member in client.smembers(binding):
                if member.decode(errors="replace").endswith(queue):
                    client.srem(binding, member)
        return waiting
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class BenchServer:
    """A throwaway database and a gunicorn serving ``config.wsgi`` on it; see the module's docstring."""

    def __init__(self, *, database_url: str, urls: str = PING_URLS, env: dict[str, str] | None = None, keep_db=False):
        self.database_url = database_url
        self.maintenance_url, self.database = _database_urls(database_url)
        self.urls = urls
        self.extra_env = dict(env or {})
        self.keep_db = keep_db
        self.port: int | None = None
        self._server: subprocess.Popen | None = None
        self._modules: Path | None = None
        self.env: dict[str, str] = {}
        self.broker_url = _broker_url()
        self.task_queue = f"bench-{uuid.uuid4()}"
        self.tasks_published = 0

    def __enter__(self) -> "BenchServer":
        self._modules = Path(tempfile.mkdtemp(prefix="bench-http-"))
        (self._modules / f"{SETTINGS_MODULE}.py").write_text(BENCH_SETTINGS)
        (self._modules / f"{URLS_MODULE}.py").write_text(self.urls)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": self.database_url,
            "PYTHONPATH": os.pathsep.join([str(self._modules), str(ROOT)]),
            # Tasks are published to the broker, as in production, on a queue nothing consumes (the docstring says
            # why); it is deleted on the way out.
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_BROKER_URL": self.broker_url,
            "BENCH_TASK_QUEUE": self.task_queue,
            # Persistent connections, as production runs (base.py reads it); a connection per request would
            # dwarf much of what is measured.
            "DATABASE_CONN_MAX_AGE": "60",
            **self.extra_env,
        }
        print(f"Database {self.database}: recreating and migrating ...", flush=True)
        try:
            _recreate_database(self.maintenance_url, self.database)
            self.django("from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.stop()
            self.tasks_published = _delete_queue(self.broker_url, self.task_queue)
        finally:
            if not self.keep_db:
                _recreate_database(self.maintenance_url, self.database, drop_only=True)
            if self._modules is not None:
                shutil.rmtree(self._modules, ignore_errors=True)

    def django(self, script: str) -> Any:
        """Run ``script`` in a fresh Python with Django set up; returns what it gave ``answer(...)``, if anything."""
        prelude = (
            "import json\nimport django\ndjango.setup()\n"
            f"def answer(value):\n    print({ANSWER_PREFIX!r} + json.dumps(value), flush=True)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", prelude + script], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"A set-up step failed in the bench database:\n{done.stderr[-4000:]}")
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(ANSWER_PREFIX):
                return json.loads(line[len(ANSWER_PREFIX) :])
        return None

    def start(self) -> int:
        """Start ``gunicorn config.wsgi -w 2`` on a free local port; returns the port once /healthz answers."""
        self.port = _free_port()
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        command = [gunicorn, "config.wsgi", "-w", "2", "-b", f"{HOST}:{self.port}", "--log-level", "warning"]
        self._server = subprocess.Popen(command, env=self.env, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise SystemExit("gunicorn exited while starting.")
            status, _body = send(self.port, "GET", "/healthz", timeout=2)
            if status == 200:
                return self.port
            time.sleep(0.3)
        raise SystemExit("gunicorn did not answer /healthz within 30 seconds.")

    def stop(self) -> None:
        server, self._server = self._server, None
        sys.stdout.flush()  # what was printed comes before gunicorn's shutdown lines
        if server is not None and server.poll() is None:
            # Its own session (start_new_session): the signal reaches the master and its workers, nothing else.
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    @property
    def session(self) -> int | None:
        """The session id of gunicorn and its workers (it was started in a session of its own)."""
        return self._server.pid if self._server is not None else None

    def describe(self) -> str:
        return (
            f"gunicorn config.wsgi -w 2 on {HOST}:{self.port} (settings: config.settings.test, DEBUG off; tasks "
            f"published to {self.broker_url}, queue {self.task_queue}, which no worker consumes)"
        )


# --- Applicants ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    """A verified demo merchant's owner: an API token and the amount the merchant asks for."""

    token: str
    amount: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


APPLY_PRODUCT = "operating-loan"
APPLY_TERM = "12"

_SEED_APPLICANTS = """
import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from lending.catalogue.services.demo import products_seed
from merchants.services.demo import demo_email, seed_merchants
from merchants.models import Merchant, SalesDay
from underwriting.services.demo import underwriting_seed

products_seed()
underwriting_seed()
COUNT, SEED, START = {count}, {seed}, {start}
# Sales up to yesterday, as a live merchant's: the engine reads the last months' sales up to today.
seed_merchants(count=COUNT, seed=SEED, start_index=START)
emails = [demo_email(index) for index in range(START, START + COUNT)]
merchants = list(Merchant.objects.filter(owner__email__in=emails).order_by("pk"))
Token.objects.bulk_create(Token(user_id=m.owner_id, key=Token.generate_key()) for m in merchants)
tokens = dict(Token.objects.filter(user_id__in=[m.owner_id for m in merchants]).values_list("user_id", "key"))
# Each asks for about one month of its last year's net sales (what the scorecard was calibrated on), within the
# operating loan's 10,000 to 500,000 yuan.
since = timezone.localdate() - datetime.timedelta(days=365)
LEAST, MOST = Decimal(10000), Decimal(500000)
net = dict(
    SalesDay.objects.filter(merchant__in=merchants, date__gte=since)
    .values("merchant")
    .annotate(net=Sum(F("gross_sales") - F("refunds")))
    .values_list("merchant", "net")
)
# Fresh statistics, as autovacuum would have them on a live database: on a table just filled by COPY the planner
# knows nothing and may scan every merchant's sales for one merchant's.
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
answer([
    {{
        "token": tokens[m.owner_id],
        "amount": str(min(MOST, max(LEAST, (net.get(m.pk) or 0) // 1200 * 100)).quantize(Decimal("0.01"))),
    }}
    for m in merchants
])
"""


def seed_applicants(bench: BenchServer, *, count: int, seed: int = 7, start: int = 0) -> list[Applicant]:
    """``count`` verified demo merchants with 24 months of sales and API tokens; the products and the scorecard."""
    began = time.perf_counter()
    rows = bench.django(_SEED_APPLICANTS.format(count=count, seed=seed, start=start))
    applicants = [Applicant(token=row["token"], amount=row["amount"]) for row in rows]
    if len(applicants) != count:
        raise SystemExit(f"Expected {count} demo merchants, found {len(applicants)}.")
    print(
        f"Seeded {count} verified demo merchants (seed {seed}, 730 days of sales each, products, scorecard) "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return applicants


def describe_limits() -> str:
    settings = ", ".join(f"{name}={value}" for name, value in RAISED_LIMITS.items())
    return (
        f"Limits raised for this server only (environment): {settings}. Every application is a different merchant's "
        "first, so the defaults (20/hour, 100/day, 1 open) would not refuse any either; the checks still run."
    )


# --- HTTP ----------------------------------------------------------------------------------------------------


def send(port: int, method: str, path: str, body=None, headers: dict | None = None, *, timeout=30) -> tuple[int, bytes]:
    """One request to 127.0.0.1:port; (status, body). A connection failure is status 0, not an exception."""
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - always http://127.0.0.1
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:  # refused, reset, timed out
        return 0, b""


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@dataclass
class Apply:
    """One apply → decision: create a draft, submit it; the seconds of each request and of the pair."""

    create: float
    submit: float | None
    pair: float | None
    outcome: str  # the application's state after submit, or what failed ("create 429", ...)

    @property
    def ok(self) -> bool:
        return self.pair is not None


def apply_task(
    port: int, applicant: Applicant, *, keyed: bool = True, one_request: bool = False
) -> Callable[[], Apply]:
    """As one merchant: POST /api/v1/applications/, then POST …/{id}/submit/, each with a new Idempotency-Key.

    ``one_request``: a single ``POST /api/v1/applications/`` with ``"submit": true``, which answers with the
    decision (``create`` is then that request's time and ``submit`` None).
    """
    body = {"product": APPLY_PRODUCT, "amount": applicant.amount, "term": APPLY_TERM}
    if one_request:
        body["submit"] = True

    def run() -> Apply:
        keys = new_key if keyed else dict
        begun = time.perf_counter()
        status, payload = send(port, "POST", "/api/v1/applications/", body, {**applicant.auth, **keys()})
        created = time.perf_counter()
        if status != 201:
            return Apply(create=created - begun, submit=None, pair=None, outcome=f"create {status}")
        if one_request:
            return Apply(
                create=created - begun, submit=None, pair=created - begun, outcome=json.loads(payload)["state"]
            )
        path = f"/api/v1/applications/{json.loads(payload)['id']}/submit/"
        submitting = time.perf_counter()
        status, payload = send(port, "POST", path, None, {**applicant.auth, **keys()})
        done = time.perf_counter()
        if status != 200:
            return Apply(create=created - begun, submit=done - submitting, pair=None, outcome=f"submit {status}")
        return Apply(
            create=created - begun, submit=done - submitting, pair=done - begun, outcome=json.loads(payload)["state"]
        )

    return run


# --- Driving the load ----------------------------------------------------------------------------------------


def run_tasks(tasks: Sequence[Callable[[], Any]], *, concurrency: int, deadline: float) -> tuple[list[Any], float]:
    """Run ``tasks`` from ``concurrency`` threads, each thread taking the next task until none is left.

    No task starts once ``time.monotonic()`` has passed ``deadline``. Returns the results (in the order they
    finished) and the wall-clock seconds from the start to the last task's end.
    """
    pending = iter(tasks)
    lock = threading.Lock()
    results: list[Any] = []

    def worker() -> None:
        while True:
            with lock:
                task = next(pending, None)
            if task is None or time.monotonic() > deadline:
                return
            result = task()
            with lock:
                results.append(result)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


@dataclass
class Side:
    """What one side of an alternating comparison did: its results and the wall-clock seconds of its blocks."""

    name: str
    results: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    blocks: int = 0
    # CPU seconds used during this side's blocks, by process group (see ``cpu_seconds``); empty without /proc.
    cpu: dict[str, float] = field(default_factory=dict)

    def per_second(self, count: int | None = None) -> float:
        return (len(self.results) if count is None else count) / self.seconds if self.seconds else 0.0


def alternate_blocks(
    sides: dict[str, Sequence[Callable[[], Any]]],
    *,
    rounds: int,
    concurrency: int,
    deadline: float,
    server_session: int | None = None,
) -> dict[str, Side]:
    """Run each side's tasks in ``rounds`` blocks, the sides taking turns block by block (A B, then B A, ...).

    Within a block only one side's requests are in flight, at ``concurrency`` threads: its latencies and its
    throughput are its own, not those of a mix. Taking turns in short blocks spreads a busy moment on a shared
    machine over every side alike. Blocks stop being started at ``deadline``. With ``server_session`` (the
    server's session id, ``BenchServer.session``) each side also adds up the CPU its blocks used (``Side.cpu``).
    """
    out = {name: Side(name) for name in sides}
    names = list(sides)
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            tasks = sides[name]
            size = -(-len(tasks) // rounds)
            block = tasks[number * size : (number + 1) * size]
            if not block or time.monotonic() > deadline:
                continue
            before = cpu_seconds(server_session)
            results, seconds = run_tasks(block, concurrency=concurrency, deadline=deadline)
            for group, used in cpu_seconds(server_session).items():
                out[name].cpu[group] = out[name].cpu.get(group, 0.0) + used - before.get(group, 0.0)
            out[name].results.extend(results)
            out[name].seconds += seconds
            out[name].blocks += 1
    return out


def cpu_seconds(server_session: int | None) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the server's processes, PostgreSQL's and this load generator.

    Read from ``/proc`` (Linux); an empty dict elsewhere or without ``server_session``. "postgres" counts every
    PostgreSQL process on the machine, so another client's queries would be counted too: compare on a quiet machine.
    Processes that ended in between are missed (the server's workers and PostgreSQL's backends live on).
    """
    if server_session is None or not os.path.isdir("/proc"):
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"server": 0.0, "postgres": 0.0, "load generator": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                command, _, rest = stat.read().rpartition(")")
        except OSError:  # gone in between
            continue
        fields = rest.split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(fields[3]) == server_session:  # session id: gunicorn and its workers
            totals["server"] += used
        elif command.endswith("(postgres"):
            totals["postgres"] += used
        elif int(entry.name) == os.getpid():
            totals["load generator"] += used
    return totals


# --- Figures -------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between the samples."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summary_ms(values: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p99, mean) in milliseconds."""
    return (percentile(values, 50) * 1000, percentile(values, 99) * 1000, statistics.fmean(values) * 1000)
