"""API throughput on gunicorn: what an Idempotency-Key costs, what a real POST costs next to a bare ping, and how
many loan applications the server takes per second next to bare pings.

    .venv/bin/python bench/api_throughput.py [--requests 600] [--concurrency 4] [--time-cap 180]
                                             [--applications 300] [--apply-time-cap 90]

What it does, all on this machine and only on 127.0.0.1 (the server and database handling is ``bench/_server.py``):

1. (re)creates the throwaway PostgreSQL database ``lp_bench_api`` (``$BENCH_DATABASE_URL`` to change; the name must
   contain "bench") and migrates it; makes 32 merchant owners with API tokens for the sales imports, and
   ``2 × (applications + 10)`` verified demo merchants with 24 months of sales and tokens, the demo products and
   the shipped scorecard for the applications;
2. starts ``gunicorn config.wsgi -w 2`` on a free port with the test settings and DEBUG off, on a URLconf that
   adds three benchmark-only routes to the real ones (a bare DRF ping, the same ping honouring
   Idempotency-Key, and ``POST /api/v1/sales/`` honouring Idempotency-Key), with the application limits raised
   through the environment (said so in the output);
3. drives it with a bounded load generator (threads + urllib, a fixed number of requests per scenario and a
   time cap) that interleaves all latency scenarios request by request, so a busy moment on a shared machine
   weighs on every scenario alike and the ratios compare like with like;
4. prints, per scenario, the mean latency and the throughput it implies at that many threads (Little's law:
   threads / mean latency), then the ratios;
5. measures throughput, each application decided in its answer (each merchant's first): applications in one
   request (``POST /api/v1/applications/`` with ``"submit": true``) with a new Idempotency-Key, the same without a
   key, applications in two requests (create, then ``POST …/{id}/submit/``) with a new key on each, and ``GET`` of
   the bare ping, in alternating blocks so that only one side is in flight at a time and each side's rate is the
   server's on that work alone. It prints applications per second against pings per second (target at least 0.2,
   judged on the one-request side) and the same in HTTP requests, then the CPU per application and per ping of the
   server, PostgreSQL and the load generator during each side's blocks; stops gunicorn, deletes its task queue and
   drops the database.

Every sales POST is a first import of seven new days for one of the 32 merchants in turn, so requests neither
queue on one merchant's lock nor rewrite the same rows. Each keyed request uses a fresh key, so the key is
claimed, the view runs and the answer is stored: the full cost a client pays on its first try (replays are
cheaper and are measured separately).
"""

# ruff: noqa: T201 - a benchmark reports on standard output.

import argparse
import datetime
import itertools
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass

from _guard import bench_database_url, verdict
from _server import (
    RAISED_LIMITS,
    BenchServer,
    alternate_blocks,
    apply_task,
    describe_limits,
    new_key,
    run_tasks,
    seed_applicants,
    send,
)

IDEMPOTENT_COST_TARGET = 1.15
APPLY_THROUGHPUT_TARGET = 0.2
MERCHANTS = 32
LAST_DAY = datetime.date(2025, 12, 31)
APPLY_WARM_UP = 10  # applications per apply side before the measured blocks, not counted
APPLY_ROUNDS = 10
PINGS_PER_APPLICATION = 5  # the ping side's blocks then last about as long as the apply sides'

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

# MERCHANTS merchant owners (email verified, KYC not, no sales: the sales imports give them theirs) with API tokens.
MAKE_MERCHANTS = f"""
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from accounts.models import User
from accounts.roles import Role
from accounts.services.tokens import api_token_issue
from merchants.models import Merchant

owners = Group.objects.get(name=Role.MERCHANT_OWNER)
tokens = []
for n in range({MERCHANTS}):
    user = User.objects.create_user(f"bench{{n}}@shop.example", "bench-password-not-secret")
    user.groups.add(owners)
    # A token answers only for a verified sign-in address.
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    Merchant.objects.create(owner=user, legal_name=f"Bench Shop {{n}}")
    tokens.append(api_token_issue(user=user).key)
answer(tokens)
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


def _run(port: int, scenarios: dict, *, per_scenario: int, concurrency: int, time_cap: float) -> dict[str, Result]:
    """Send ``per_scenario`` requests of every scenario, interleaved, from ``concurrency`` threads.

    Stops early when ``time_cap`` seconds have passed.
    """
    order = [name for _ in range(per_scenario) for name in scenarios]
    # Shuffled (the same way every run): with more threads than workers a request waits behind whatever is
    # ahead of it, and a fixed order would always put the same scenarios behind the heavy ones.
    random.Random(20251231).shuffle(order)

    def request(name: str, serial: int):
        def run() -> tuple[str, float, int]:
            method, path, body, headers = scenarios[name](serial)
            begun = time.perf_counter()
            status, _body = send(port, method, path, body, headers)
            return name, time.perf_counter() - begun, status

        return run

    tasks = [request(name, next(SERIALS)) for name in order]
    done, _seconds = run_tasks(tasks, concurrency=concurrency, deadline=time.monotonic() + time_cap)
    results = {name: Result(name, [], {}) for name in scenarios}
    for name, took, status in done:
        results[name].latencies.append(took)
        results[name].statuses[status] = results[name].statuses.get(status, 0) + 1
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


REPLAYED = {"Idempotency-Key": "bench-replayed", "Authorization": "replaced at start"}

SCENARIOS = {
    "ping GET": lambda n: ("GET", "/bench/ping/", None, _auth(n)),
    "ping POST, no key": lambda n: ("POST", "/bench/idempotent-ping/", {"n": n}, _auth(n)),
    "ping POST, new key": lambda n: ("POST", "/bench/idempotent-ping/", {"n": n}, {**_auth(n), **new_key()}),
    "sales POST, no key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(n), _auth(n)),
    "sales POST, new key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(n), {**_auth(n), **new_key()}),
    # The first merchant sending one import with one key again and again (serial 0 went to a ping: its days
    # are new the first time).
    "sales POST, replayed key": lambda n: ("POST", "/bench/idempotent-sales/", _sales_body(0), REPLAYED),
    "sales POST /api/v1/sales/": lambda n: ("POST", "/api/v1/sales/", _sales_body(n), _auth(n)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--time-cap", type=float, default=180.0, help="seconds the interleaved run may take, at most")
    parser.add_argument("--applications", type=int, default=300, help="applications per side of the throughput run")
    parser.add_argument(
        "--apply-time-cap", type=float, default=90.0, help="seconds the applications' throughput run may take, at most"
    )
    parser.add_argument("--keep-db", action="store_true", help="leave lp_bench_api in place afterwards")
    args = parser.parse_args()

    url = bench_database_url(os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lp_bench_api"))
    with BenchServer(database_url=url, urls=BENCH_URLS, env=RAISED_LIMITS, keep_db=args.keep_db) as bench:
        TOKENS.extend(bench.django(MAKE_MERCHANTS))
        REPLAYED["Authorization"] = f"Token {TOKENS[0]}"
        applicants = seed_applicants(bench, count=len(APPLY_SIDES) * (args.applications + APPLY_WARM_UP))
        port = bench.start()
        print(bench.describe())
        print(describe_limits())
        print(f"{args.requests} requests per scenario, interleaved, {args.concurrency} client threads\n", flush=True)
        # Warm both workers (imports, connections, caches) and store the replayed key's first answer.
        _run(port, SCENARIOS, per_scenario=20, concurrency=args.concurrency, time_cap=30)
        started = time.perf_counter()
        results = _run(
            port, SCENARIOS, per_scenario=args.requests, concurrency=args.concurrency, time_cap=args.time_cap
        )
        took = time.perf_counter() - started
        key_met = _report_interleaved(results, took=took, concurrency=args.concurrency)
        sides = _apply_throughput(
            port, applicants, applications=args.applications, args=args, server_session=bench.session
        )
    throughput_met = _report_throughput(sides, concurrency=args.concurrency)
    print(f"\n{bench.tasks_published} tasks (the decisions' emails) were published for a worker and deleted unsent.")
    status = verdict(key_met, f"a sales POST with a new Idempotency-Key at most {IDEMPOTENT_COST_TARGET}x one without")
    return status | verdict(throughput_met, f"applications/s at least {APPLY_THROUGHPUT_TARGET}x pings/s")


def _report_interleaved(results: dict[str, Result], *, took: float, concurrency: int) -> bool:
    """Print the interleaved run's latencies and ratios; whether the Idempotency-Key's cost met its target."""
    sent = sum(len(r.latencies) for r in results.values())
    print(f"{sent} requests in {took:.1f} s ({sent / took:.1f} req/s overall)\n")
    print(f"{'scenario':28} {'sent':>5} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'req/s':>7}  statuses")
    for result in results.values():
        implied = concurrency / (result.mean_ms / 1000)
        statuses = dict(sorted(result.statuses.items()))
        print(
            f"{result.name:28} {len(result.latencies):5} {result.mean_ms:8.1f} {result.p50_ms:7.1f} "
            f"{result.p95_ms:7.1f} {implied:7.1f}  {statuses}"
        )

    def cost(scenario: str, baseline: str) -> float:
        return results[scenario].mean_ms / results[baseline].mean_ms

    sales_key = cost("sales POST, new key", "sales POST, no key")
    # Judged at the precision printed: the measurement is nowhere near finer than that.
    within = "within" if round(sales_key, 2) <= IDEMPOTENT_COST_TARGET else "OVER"
    rows = [
        ("sales POST with a new Idempotency-Key vs without", sales_key, f"{within} the 1.15x target"),
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
    print(
        "\nbaselines: the same POST without an Idempotency-Key (the key's cost alone), and a bare DRF ping "
        "(authentication, routing, JSON, no ORM work: what any request costs)"
    )
    print("Ratios (cost per request: mean latency of the scenario / mean latency of its baseline):")
    for label, ratio, note in rows:
        print(f"  {label:52} {ratio:5.2f}x" + (f"  ({note})" if note else ""))
    return within == "within"


APPLY_ONE = "apply, 1 request"
APPLY_ONE_UNKEYED = "apply, 1 req no key"
APPLY_TWO = "apply, 2 requests"
PING_SIDE = "ping GET"
APPLY_SIDES = (APPLY_ONE, APPLY_ONE_UNKEYED, APPLY_TWO)


def _apply_throughput(port: int, applicants, *, applications: int, args, server_session: int | None) -> dict:
    """Applications per second, each decided in its answer, against bare pings per second.

    Three ways of applying, each merchant's first application: one request (``"submit": true``) with a new key,
    the same without a key, and two requests (create, then submit) with a new key each. Throughput needs the
    server to itself: in alternating blocks only one side's requests are in flight, so each side's rate is what
    the two workers sustain on that work alone (a mix would give every side the mix's rate).
    """
    print(
        f"\nThroughput: {applications} applications on each of {len(APPLY_SIDES)} sides, "
        f"{applications * PINGS_PER_APPLICATION} pings, in {APPLY_ROUNDS} alternating blocks each, "
        f"{args.concurrency} client threads",
        flush=True,
    )
    share = len(applicants) // len(APPLY_SIDES)
    groups = [applicants[n * share : (n + 1) * share] for n in range(len(APPLY_SIDES))]
    options = {
        APPLY_ONE: {"one_request": True},
        APPLY_ONE_UNKEYED: {"one_request": True, "keyed": False},
        APPLY_TWO: {},
    }
    warm_up = [
        apply_task(port, a, **options[side])
        for side, group in zip(APPLY_SIDES, groups, strict=True)
        for a in group[:APPLY_WARM_UP]
    ]
    run_tasks(warm_up, concurrency=args.concurrency, deadline=time.monotonic() + 60)
    ping = ("GET", "/bench/ping/", None, _auth(0))

    def ping_task() -> bool:
        return send(port, *ping)[0] == 200

    sides = {
        side: [apply_task(port, a, **options[side]) for a in group[APPLY_WARM_UP:]]
        for side, group in zip(APPLY_SIDES, groups, strict=True)
    }
    sides[PING_SIDE] = [ping_task] * (applications * PINGS_PER_APPLICATION)
    return alternate_blocks(
        sides,
        rounds=APPLY_ROUNDS,
        concurrency=args.concurrency,
        deadline=time.monotonic() + args.apply_time_cap,
        server_session=server_session,
    )


def _report_throughput(sides: dict, *, concurrency: int) -> bool:
    """Print the throughput run; whether applications per second met their target against pings per second."""
    print(f"\n{'side':20} {'done':>5} {'failed':>6} {'seconds':>8} {'per s':>7} {'HTTP req/s':>10}  outcomes")
    rates = {}
    for name, side in sides.items():
        if name == PING_SIDE:
            done = sum(side.results)
            requests, outcomes = done, ""
        else:
            done = sum(1 for a in side.results if a.ok)
            requests = (2 if name == APPLY_TWO else 1) * done
            counts: dict[str, int] = {}
            for a in side.results:
                counts[a.outcome] = counts.get(a.outcome, 0) + 1
            outcomes = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        rates[name] = (side.per_second(done), side.per_second(requests))
        print(
            f"{name:20} {done:5} {len(side.results) - done:6} {side.seconds:8.1f} {rates[name][0]:7.1f} "
            f"{rates[name][1]:10.1f}  {outcomes}"
        )
    if not rates[PING_SIDE][0] or not all(rates[side][0] for side in APPLY_SIDES):
        print("Nothing to compare: a side completed nothing.")
        return False
    pings = rates[PING_SIDE][0]
    ratio = rates[APPLY_ONE][0] / pings
    meets = "meets" if round(ratio, 2) >= APPLY_THROUGHPUT_TARGET else "MISSES"
    print("\nRatios (throughput of the side / throughput of the bare DRF ping, same server, same run):")
    rows = [
        (
            "applications/s, one request each (with a key) vs pings/s",
            ratio,
            f"{meets} the {APPLY_THROUGHPUT_TARGET}x target; each decided in its answer",
        ),
        ("applications/s, create + submit (with keys) vs pings/s", rates[APPLY_TWO][0] / pings, "two requests each"),
        ("HTTP requests/s, create + submit vs pings/s", rates[APPLY_TWO][1] / pings, ""),
        ("applications/s, one request without a key vs pings/s", rates[APPLY_ONE_UNKEYED][0] / pings, ""),
        (
            "applications/s, one request, with a key vs without",
            rates[APPLY_ONE][0] / rates[APPLY_ONE_UNKEYED][0],
            "what the key costs in throughput",
        ),
    ]
    for label, value, note in rows:
        print(f"  {label:58} {value:5.2f}x" + (f"  ({note})" if note else ""))
    _report_cpu(sides)
    return meets == "meets"


def _report_cpu(sides: dict) -> None:
    """Where the machine's CPU went, per application (or ping): what a ratio of throughputs is made of."""
    if not all(side.cpu for side in sides.values()):
        return
    groups = list(sides[PING_SIDE].cpu)
    print("\nCPU milliseconds per application (per ping on the ping side), during each side's blocks:")
    print(f"  {'side':20} " + " ".join(f"{group:>15}" for group in groups) + f" {'total':>8}")
    for name, side in sides.items():
        done = sum(side.results) if name == PING_SIDE else sum(1 for a in side.results if a.ok)
        if not done:
            continue
        per = {group: side.cpu.get(group, 0.0) * 1000 / done for group in groups}
        print(f"  {name:20} " + " ".join(f"{per[group]:15.2f}" for group in groups) + f" {sum(per.values()):8.2f}")


if __name__ == "__main__":
    sys.exit(main())
