"""The dashboard and a stress run in Debian's Chromium: every chart is drawn by the vendored Chart.js under the
Content-Security-Policy (no violation reported), its table beside it; screenshots go to ``test-artifacts/``.

Chromium is launched as ``tests/e2e/conftest.py`` launches it (same executable, same arguments).
"""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, make_user
from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import LoanState
from merchants.choices import Industry, Province
from risk.models.stress import SalesShockScope, StressRun, StressRunStatus
from risk.services.stress import stress_run_start
from risk.tests.factories_stress import StressScenarioFactory, book_loan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run `make system-packages`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    yield page
    context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"risk-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def portfolio(db):
    product = LoanProductFactory(code="browser-p1")
    book_loan(
        product=product,
        industry=Industry.GROCERY,
        province=Province.GUANGDONG,
        pd=Decimal("0.02"),
        outstanding=Decimal(10000),
    )
    book_loan(
        product=product,
        industry=Industry.RESTAURANT,
        province=Province.ZHEJIANG,
        pd=Decimal("0.05"),
        outstanding=Decimal(6000),
        days_past_due=40,
        state=LoanState.OVERDUE,
    )
    manager = make_user(Role.RISK_MANAGER, email="risk-browser@loanportal.example", staff=True)
    scenario = StressScenarioFactory(
        name="Restaurants fall 20 %",
        sales_shock_percent=Decimal(20),
        sales_shock_scope=SalesShockScope.INDUSTRY,
        sales_shock_industry=Industry.RESTAURANT,
        lgd_percent=Decimal(40),
        created_by=manager,
    )
    run = stress_run_start(scenario=scenario, by=manager)  # commits: the eager tasks run at once
    run = StressRun.objects.get(pk=run.pk)
    assert run.status == StressRunStatus.FINISHED
    return manager, run


def sign_in(page, live_server, email: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def test_the_dashboard_draws_every_chart_beside_its_table(page, live_server, portfolio):
    manager, _run = portfolio
    sign_in(page, live_server, manager.email, reverse("risk_dashboard"))
    page.wait_for_function(
        "document.querySelectorAll('canvas[data-chart]').length > 0 && "
        "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn === 'true')"
    )
    charts = page.locator("canvas[data-chart]").count()
    assert charts >= 9  # funnel, decisions, four dimensions, days past due, roll rates, vintages, stress run
    assert page.inner_text("#table-outstanding-industry tbody tr:first-child td:last-child") == "10,000.00"
    assert page.inner_text("#table-dpd tbody tr:nth-child(3) td:last-child") == "6,000.00"
    assert page.locator("#panel-stress").get_by_text("Open the run").count() == 1
    shot(page, "dashboard")
    assert page.evaluate("window.__cspViolations") == []


def test_a_stress_run_page_draws_its_charts(page, live_server, portfolio):
    manager, run = portfolio
    path = reverse("admin:risk_stressrun_change", args=[run.pk])
    sign_in(page, live_server, manager.email, path)
    page.wait_for_function(
        "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn === 'true')"
    )
    assert page.locator("canvas[data-chart]").count() == 6  # summary, parties, four dimensions
    # 0.02 × 0.4 × 10,000 = 80; 0.05 × 4 (31-60 days) × 1.4 (restaurants −20 %) × 0.4 × 6,000 = 672.
    summary = page.inner_text("#table-summary")
    assert "expected loss before insurance\t752.00" in summary
    shot(page, "stress-run")
    assert page.evaluate("window.__cspViolations") == []
