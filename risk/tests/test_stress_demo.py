"""The demo's stress runs: loading the demo runs each demo scenario once a day, and the dashboard shows the latest."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from lending.catalogue.tests.factories import LoanProductFactory
from merchants.choices import Industry, Province
from risk.models.stress import StressRun, StressRunStatus, StressScenario
from risk.selectors.portfolio import portfolio_latest_stress_run
from risk.services.stress_demo import RISK_MANAGER_EMAIL, stress_demo_run
from risk.tests.factories_stress import book_loan


@pytest.mark.django_db(transaction=True)
def test_the_demo_runs_each_scenario_once_a_day(risk_manager):
    book_loan(
        product=LoanProductFactory(code="demo-p1"),
        industry=Industry.GROCERY,
        province=Province.GUANGDONG,
        pd=Decimal("0.02"),
        outstanding=Decimal(10000),
    )
    today = datetime.date(2026, 12, 3)
    users = {RISK_MANAGER_EMAIL: risk_manager}
    stress_demo_run(today=today, users=users)
    runs = list(StressRun.objects.select_related("scenario").order_by("pk"))
    assert [(run.scenario.name, run.status) for run in runs] == [
        ("Base case", StressRunStatus.FINISHED),
        ("Recession", StressRunStatus.FINISHED),
    ]
    # Base case: 0.02 × 45 % × 10,000 = 90.00. Recession: sales −30 % everywhere (× 1.6), PD × 1.5, LGD 60 %:
    # 0.02 × 1.6 × 1.5 × 0.6 × 10,000 = 288.00.
    assert [run.results["el_before_insurance"] for run in runs] == ["90.00", "288.00"]
    assert portfolio_latest_stress_run() == runs[1]

    stress_demo_run(today=today, users=users)
    assert StressRun.objects.count() == 2
    assert StressScenario.objects.count() == 2
