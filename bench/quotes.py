"""Benchmark: 10,000 loan quotes in-process, against the same schedule in plain float arithmetic.

The quote is 50,000.00 over 36 months at 12 % a year, equal instalments, with a 1 % deducted origination fee,
schedule and APR. The baselines compute the same 36 lines with floats (no fen rounding rule, no validation), and
then the same plus a float IRR: what the Decimal engine costs over the cheapest possible version.

Run from the repository root:  .venv/bin/python bench/quotes.py  [--quotes N]
Prints the median time per quote and the ratio to each baseline; the target is under 2 ms a quote.
"""

import argparse
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lending.catalogue.money import FeeTerms, QuoteTerms, RepaymentMethod, quote
from lending.catalogue.money.apr import _root_float  # the float IRR the engine itself starts from

AMOUNT, TERM, RATE, FEE_RATE = 50_000.00, 36, 0.12, 0.01
START = date(2025, 3, 10)


def decimal_quote() -> Decimal:
    terms = QuoteTerms(
        amount=Decimal("50000.00"),
        term=TERM,
        start_date=START,
        method=RepaymentMethod.EQUAL_INSTALMENT,
        annual_rate=Decimal("0.12"),
        fees=FeeTerms(origination_rate=Decimal("0.01")),
    )
    return quote(terms).apr


def float_schedule() -> list[tuple[int, float, float, float, float]]:
    monthly = RATE / 12
    payment = round(AMOUNT * monthly / (1 - (1 + monthly) ** -TERM), 2)
    balance = AMOUNT
    lines = []
    for number in range(1, TERM + 1):
        interest = round(balance * monthly, 2)
        principal = balance if number == TERM else payment - interest
        balance -= principal
        lines.append((number, principal, interest, principal + interest, balance))
    return lines


def float_schedule_and_irr() -> float:
    lines = float_schedule()
    advance = AMOUNT * (1 - FEE_RATE)
    return _root_float(advance, [(number, 0.0, paid) for number, _p, _i, paid, _b in lines]) * 1200


def median_seconds(function, count: int) -> float:
    for _ in range(min(count, 200)):  # warm up caches and the interpreter's specialisations
        function()
    timings = []
    clock = time.perf_counter_ns
    for _ in range(count):
        started = clock()
        function()
        timings.append(clock() - started)
    return statistics.median(timings) / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=10_000)
    count = parser.parse_args().quotes

    apr = decimal_quote()
    engine = median_seconds(decimal_quote, count)
    schedule_only = median_seconds(float_schedule, count)
    with_irr = median_seconds(float_schedule_and_irr, count)

    report = [
        f"quotes: {count} x 50,000.00 / 36 months / 12 % equal instalments, 1 % fee deducted (APR {apr} %)",
        f"decimal engine (schedule + APR):  {engine * 1e3:7.3f} ms median per quote  (target < 2 ms)",
        f"float baseline (schedule):        {schedule_only * 1e3:7.3f} ms median  ratio {engine / schedule_only:5.1f}x",
        f"float baseline (schedule + IRR):  {with_irr * 1e3:7.3f} ms median  ratio {engine / with_irr:5.1f}x",
        "baseline: the same schedule in plain float arithmetic (and with a float IRR): the work without Decimal, "
        "rounding to the fen or the APR's checks",
        f"target met: {'yes' if engine < 0.002 else 'NO'}",
    ]
    sys.stdout.write("\n".join(report) + "\n")
    return 0 if engine < 0.002 else 1


if __name__ == "__main__":
    sys.exit(main())
