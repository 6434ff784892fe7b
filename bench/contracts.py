"""Benchmark: rendering a loan contract to PDF, against a bare WeasyPrint render of the same HTML.

(a) Our pipeline — build the context from the contract's terms, render ``templates/lending/contract.html``,
    WeasyPrint with the process's shared FontConfiguration, SHA-256 of the bytes, store through Django's storage —
    against ``weasyprint.HTML(string=html).write_pdf()`` of the very same HTML (the HTML is made once, untimed).
    Target: at most 1.2x.
(b) The same pipeline on a 20-page contract against a 10-page one (schedules long enough to reach those page
    counts; the actual counts are printed). Target: at most 2.3x, i.e. the cost grows with the pages, no faster.

No database: the contract is an unsaved model instance whose terms come from the real services
(``contract_terms_for`` on an in-memory application priced by the real quote engine); files go to a temporary
folder. Runs alternate pipeline and baselines (each goes first in turn, garbage collected before each timing) so
that a busy machine slows all alike; medians are printed.

Run from the repository root:  .venv/bin/python bench/contracts.py  [--runs N]
Exits 1 if a target is missed.
"""

import argparse
import datetime
import gc
import hashlib
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from core.pdf import font_configuration, html_to_pdf  # noqa: E402
from lending.catalogue.models import LoanProduct, RepaymentMethodChoice  # noqa: E402
from lending.catalogue.services.products import product_terms_snapshot, quote_for_snapshot  # noqa: E402
from lending.origination.models import Contract, LoanApplication  # noqa: E402
from lending.origination.services.contract_pdf import contract_html  # noqa: E402
from lending.origination.services.contracts import contract_terms_for  # noqa: E402
from merchants.models import Merchant  # noqa: E402
from merchants.tests.factories import valid_credit_code, valid_resident_id  # noqa: E402

PIPELINE_TARGET = 1.2
PAGES_TARGET = 2.3
SHORT_PAGES, LONG_PAGES = 10, 20
# Schedule lengths that fill exactly 10 and 20 pages with the current template (``--calibrate`` finds them again):
# the most lines that still fit, so both documents end on a full page and the comparison is page for page.
SCHEDULE_LINES = {SHORT_PAGES: 334, LONG_PAGES: 774}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def bench_application() -> LoanApplication:
    """An accepted 50,000-yuan operating loan over 12 months, priced by the real engine, never saved."""
    product = LoanProduct(
        code="operating-loan",
        name_zh="经营贷",
        name_en="Operating loan",
        kind="operating_loan",
        amount_min=Decimal("10000.00"),
        amount_max=Decimal("500000.00"),
        allowed_terms=list(range(3, 25)),
        repayment_methods=[RepaymentMethodChoice.EQUAL_INSTALMENT],
        prices={"A": "0.072000", "B": "0.096000", "C": "0.120000", "D": "0.144000", "E": "0.180000"},
        origination_fee_rate=Decimal("0.010000"),
    )
    merchant = Merchant(
        legal_name="杭州甲商贸有限公司",
        credit_code=valid_credit_code(1),
        province="330000",
        city="杭州",
        legal_rep_name="张三",
        legal_rep_id_number=valid_resident_id(1),
        settlement_bank_name="招商银行杭州分行",
        settlement_account_name="杭州甲商贸有限公司",
        settlement_account_number="6225880012340042",
    )
    snapshot = product_terms_snapshot(product=product, grade="B")
    priced = quote_for_snapshot(snapshot=snapshot, amount="50000.00", term=12, repayment_method="equal_instalment")
    return LoanApplication(
        merchant=merchant,
        product=product,
        amount=priced.amount,
        term=12,
        repayment_method="equal_instalment",
        offer_amount=priced.amount,
        offer_term=12,
        offer_repayment_method="equal_instalment",
        offer_grade="B",
        offer_price=Decimal(snapshot["price"]),
        offer_apr=priced.apr,
        offer_terms=snapshot,
        offer_quote=priced.as_dict(),
        accepted_at=timezone.now(),
    )


def contract_with_lines(application: LoanApplication, lines: int) -> Contract:
    """The application's contract with its schedule stretched to ``lines`` monthly lines (to reach a page count)."""
    terms = contract_terms_for(application=application)
    if lines != len(terms["schedule"]):
        principal = (Decimal(terms["amount"]) / lines).quantize(Decimal("0.01"))
        start = datetime.date(2026, 1, 15)
        balance = Decimal(terms["amount"])
        schedule = []
        for number in range(1, lines + 1):
            paid = balance if number == lines else principal
            balance -= paid
            schedule.append(
                {
                    "number": number,
                    "due_date": (start + datetime.timedelta(days=30 * number)).isoformat(),
                    "principal": f"{paid:.2f}",
                    "interest": "12.34",
                    "fee": "0.00",
                    "payment": f"{paid + Decimal('12.34'):.2f}",
                    "balance": f"{balance:.2f}",
                }
            )
        terms["schedule"] = schedule
    return Contract(application=application, version=1, terms=terms, consent_text_version="bench")


def pipeline(contract: Contract) -> int:
    """What ``contract_render`` does to a contract, minus the row lock and the audit row."""
    rendered = html_to_pdf(contract_html(contract=contract))
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    name = default_storage.save(f"contracts/bench/contract-{contract.document_id}.pdf", ContentFile(rendered.pdf))
    assert len(digest) == 64
    assert name
    return rendered.page_count


def bare_weasyprint(html: str) -> bytes:
    """WeasyPrint as its documentation shows it: a new font configuration for every document."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def bare_weasyprint_shared_fonts(html: str) -> bytes:
    """WeasyPrint alone, with the same shared font configuration as the pipeline."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf(font_config=font_configuration())


def timed(function, *args) -> float:
    # Collect the previous render's garbage first, so that no run pays for another's.
    gc.collect()
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def page_count(application: LoanApplication, lines: int) -> int:
    from weasyprint import HTML

    html = contract_html(contract=contract_with_lines(application, lines))
    return len(HTML(string=html).render(font_config=font_configuration()).pages)


def fullest_lines(application: LoanApplication, pages: int) -> int:
    """The most schedule lines that still make a contract of ``pages`` pages (bisection on page counts)."""
    low, high = 1, 60 * (pages + 1)
    while low < high:  # the fewest lines that make pages + 1 pages
        middle = (low + high) // 2
        if page_count(application, middle) <= pages:
            low = middle + 1
        else:
            high = middle
    return low - 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each side (after one warm-up)")
    parser.add_argument(
        "--calibrate", action="store_true", help="find the schedule lengths for 10 and 20 pages again (slow)"
    )
    options = parser.parse_args()
    runs = options.runs

    application = bench_application()
    if options.calibrate:
        for pages in SCHEDULE_LINES:
            SCHEDULE_LINES[pages] = fullest_lines(application, pages)
        say(f"calibrated schedule lines by pages: {SCHEDULE_LINES}")
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        # (a) The real 12-month contract: pipeline against bare WeasyPrint, alternating.
        contract = contract_with_lines(application, 12)
        html = contract_html(contract=contract)
        pages = pipeline(contract)
        bare_weasyprint(html)
        bare_weasyprint_shared_fonts(html)
        ours, bare, bare_shared = [], [], []
        sides = [
            (ours, pipeline, contract),
            (bare, bare_weasyprint, html),
            (bare_shared, bare_weasyprint_shared_fonts, html),
        ]
        for run in range(runs):
            # Each side goes first in turn, so that none always runs on a warmer (or busier) machine.
            for timings, function, argument in sides[run % 3 :] + sides[: run % 3]:
                timings.append(timed(function, argument))
        ours_median, bare_median, shared_median = (statistics.median(t) for t in (ours, bare, bare_shared))
        pipeline_ratio = ours_median / bare_median
        say(f"(a) 12-month contract, {pages} pages, median of {runs} runs")
        say(f"    pipeline (context, template, WeasyPrint, SHA-256, storage): {ours_median * 1000:8.1f} ms")
        say(f"    bare WeasyPrint HTML(string=...).write_pdf():               {bare_median * 1000:8.1f} ms")
        say(f"    bare WeasyPrint with the shared FontConfiguration:          {shared_median * 1000:8.1f} ms")
        say(f"    ratio pipeline / bare: {pipeline_ratio:.2f}x (target <= {PIPELINE_TARGET}x)")
        say(f"    ratio pipeline / bare with shared fonts: {ours_median / shared_median:.2f}x")

        # (b) Page scaling, on schedules that fill 10 and 20 pages.
        short_contract = contract_with_lines(application, SCHEDULE_LINES[SHORT_PAGES])
        long_contract = contract_with_lines(application, SCHEDULE_LINES[LONG_PAGES])
        short_pages, long_pages = pipeline(short_contract), pipeline(long_contract)
        short_times, long_times = [], []
        for run in range(runs):
            pair = [(short_times, short_contract), (long_times, long_contract)]
            for timings, document in pair if run % 2 == 0 else reversed(pair):
                timings.append(timed(pipeline, document))
        short_median, long_median = statistics.median(short_times), statistics.median(long_times)
        pages_ratio = long_median / short_median
        say(f"(b) page scaling, pipeline, median of {runs} runs")
        for count, lines, median in (
            (short_pages, SCHEDULE_LINES[SHORT_PAGES], short_median),
            (long_pages, SCHEDULE_LINES[LONG_PAGES], long_median),
        ):
            per_page = median / count * 1000
            say(f"    {count:2d} pages ({lines} schedule lines): {median * 1000:8.1f} ms ({per_page:.0f} ms a page)")
        say(f"    ratio {long_pages} / {short_pages} pages: {pages_ratio:.2f}x (target <= {PAGES_TARGET}x)")
        if (short_pages, long_pages) != (SHORT_PAGES, LONG_PAGES):
            say("    the template changed the page counts: run with --calibrate and update SCHEDULE_LINES")

    missed = pipeline_ratio > PIPELINE_TARGET or pages_ratio > PAGES_TARGET
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
