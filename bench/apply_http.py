"""Apply → decision over HTTP: gunicorn with 2 workers, PostgreSQL, 10 merchants applying at the same time.

    .venv/bin/python bench/apply_http.py [--applications 500] [--concurrency 10] [--time-cap 180]

What it does, all on this machine and only on 127.0.0.1:

1. (re)creates the throwaway PostgreSQL database ``lp_bench_apply`` (``$BENCH_DATABASE_URL`` to change; the name
   must contain "bench"), migrates it, installs the demo products and the shipped scorecard and rules, and seeds
   one verified demo merchant (``merchants.services.demo.seed_merchants``, 24 months of sales up to yesterday, an API
   token) per application, so every application is a different, realistic merchant's first;
2. starts ``gunicorn config.wsgi -w 2`` on a free port (test settings, DEBUG off, persistent connections,
   tasks published to a throwaway queue, see ``_server.py``) with the application limits raised through the
   environment (said so in the output);
3. measures, from ``--concurrency`` client threads:

   - **apply → decision**: ``POST /api/v1/applications/`` (an operating loan over 12 months for about one month
     of the merchant's sales) then ``POST /api/v1/applications/{id}/submit/``, which answers with the decided
     application; each request with a new ``Idempotency-Key``, as clients are told to. The pair's latency is
     the merchant's wait from pressing "apply" to reading the decision; submit's alone is printed too;
   - **baseline**: the same two-request shape on the bare DRF ping (``core.api.views.PingApi``: token
     authentication, then an answer): two POSTs, the first with the same JSON body, both with a key header;

   in alternating blocks (apply, ping, ping, apply, ...), so within a block only one kind of request is in
   flight and its latencies are its own, while a busy moment on a shared machine is spread over both;
4. prints p50 / p99 / mean of both, the ratios, the outcomes (approved / referred / declined), and whether the
   target was met (p99 of apply → decision at most 300 ms); stops gunicorn and drops the database.

Exit status 1 when the target is missed or a request failed.
"""

# ruff: noqa: T201 - a benchmark reports on standard output.

import argparse
import collections
import os
import sys
import time

from _server import (
    APPLY_PRODUCT,
    APPLY_TERM,
    RAISED_LIMITS,
    BenchServer,
    alternate_blocks,
    apply_task,
    describe_limits,
    new_key,
    run_tasks,
    seed_applicants,
    send,
    summary_ms,
)

P99_TARGET_MS = 300
WARM_UP = 20  # applications (and ping pairs) before the measured blocks, not counted
ROUNDS = 10
APPLY = "apply → decision (create + submit)"
SUBMIT = "  submit alone (the decision)"
PING_PAIR = "baseline: ping pair (2 bare POSTs)"
PING = "  one bare ping (the second POST)"


def ping_pair_task(port: int, applicant):
    """Two bare pings shaped like create + submit; returns (pair, second request) in seconds, or None on failure."""
    body = {"product": APPLY_PRODUCT, "amount": applicant.amount, "term": APPLY_TERM}

    def run():
        begun = time.perf_counter()
        first, _ = send(port, "POST", "/bench/ping/", body, {**applicant.auth, **new_key()})
        second_begun = time.perf_counter()
        second, _ = send(port, "POST", "/bench/ping/", None, {**applicant.auth, **new_key()})
        done = time.perf_counter()
        if first != 201 or second != 201:
            return None
        return done - begun, done - second_begun

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=500, help="measured applications (one merchant each)")
    parser.add_argument("--concurrency", type=int, default=10, help="client threads (merchants applying at once)")
    parser.add_argument("--time-cap", type=float, default=180.0, help="seconds the measured blocks may take, at most")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place afterwards")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lp_bench_apply")
    with BenchServer(database_url=url, env=RAISED_LIMITS, keep_db=args.keep_db) as bench:
        applicants = seed_applicants(bench, count=args.applications + WARM_UP)
        port = bench.start()
        print(bench.describe())
        print(describe_limits())
        print(
            f"{args.applications} applications, {args.concurrency} client threads (each application a different "
            f"merchant), in {ROUNDS} blocks alternating with as many ping pairs\n",
            flush=True,
        )
        warm_up, measured = applicants[:WARM_UP], applicants[WARM_UP:]
        # Warm both workers (imports, connections, the scorecard cache) on both paths; not counted.
        run_tasks(
            [apply_task(port, a) for a in warm_up] + [ping_pair_task(port, a) for a in warm_up],
            concurrency=args.concurrency,
            deadline=time.monotonic() + 60,
        )
        started = time.perf_counter()
        sides = alternate_blocks(
            {
                "apply": [apply_task(port, a) for a in measured],
                "ping": [ping_pair_task(port, a) for a in measured],
            },
            rounds=ROUNDS,
            concurrency=args.concurrency,
            deadline=time.monotonic() + args.time_cap,
        )
        took = time.perf_counter() - started
    return report(sides, took=took, wanted=args.applications)


def report(sides, *, took: float, wanted: int) -> int:
    applies = sides["apply"].results
    pings = sides["ping"].results
    done = [a for a in applies if a.ok]
    pings_ok = [p for p in pings if p is not None]
    outcomes = collections.Counter(a.outcome for a in applies)
    print(f"Measured blocks took {took:.1f} s: {len(applies)} of {wanted} applications, {len(pings)} ping pairs\n")
    if not done or not pings_ok:
        print("Nothing to compare: no application or no ping pair succeeded.", dict(outcomes))
        return 1

    rows = {
        APPLY: summary_ms([a.pair for a in done]),
        "  create alone": summary_ms([a.create for a in done]),
        SUBMIT: summary_ms([a.submit for a in done]),
        PING_PAIR: summary_ms([pair for pair, _second in pings_ok]),
        PING: summary_ms([second for _pair, second in pings_ok]),
    }
    print(f"{'':38} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for label, (p50, p99, mean) in rows.items():
        print(f"{label:38} {p50:8.1f} {p99:8.1f} {mean:8.1f}")

    def ratio(scenario: str, baseline: str) -> str:
        a, b = rows[scenario], rows[baseline]
        return f"p50 {a[0] / b[0]:5.1f}x   p99 {a[1] / b[1]:5.1f}x   mean {a[2] / b[2]:5.1f}x"

    print(
        "\nbaseline: a bare DRF ping pair on the same server (authentication, routing, JSON; no ORM work, no "
        "decision): what any request costs before the portal does anything"
    )
    print("Ratios (latency of the scenario / latency of its baseline, same server, same run):")
    print(f"  apply → decision vs ping pair:   {ratio(APPLY, PING_PAIR)}")
    print(f"  submit alone vs one bare ping:   {ratio(SUBMIT, PING)}")

    print("\nOutcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.most_common()))
    failures = len(applies) - len(done) + len(pings) - len(pings_ok)
    p99 = rows[APPLY][1]
    met = round(p99) <= P99_TARGET_MS
    print(f"Target p99 of apply → decision ≤ {P99_TARGET_MS} ms: {'met' if met else 'MISSED'} ({p99:.0f} ms)")
    if failures:
        print(f"{failures} requests failed (see the outcomes).")
    return 0 if met and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
