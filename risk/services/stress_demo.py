"""The demo's stress tests: two scenarios a risk manager would keep, each run once a day over the demo portfolio.

Called by ``manage.py load_demo`` (the sandbox app) once the portfolio is loaded; ``make run`` (Celery eager) then
shows two finished runs to open and compare, and the dashboard shows the latest. Loading the demo again the same
day changes nothing: the scenarios are found by name, and a scenario already run that day is not run again.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from risk.models.stress import SalesShockScope, StressRun, StressScenario
from risk.services.stress import stress_run_start, stress_scenario_save

RISK_MANAGER_EMAIL = "risk@demo.example"
DEMO_SCENARIOS = (
    {
        "name": "Base case",
        "description": "The book as it stands: decision PDs adjusted for arrears, LGD 45 %.",
        "lgd_percent": Decimal("45.00"),
    },
    {
        "name": "Recession",
        "description": "Sales fall 30 % everywhere, PDs × 1.5, LGD 60 %, partners' floating funding +200 bp.",
        "sales_shock_percent": Decimal("30.00"),
        "sales_shock_scope": SalesShockScope.PORTFOLIO,
        "pd_multiplier": Decimal("1.500"),
        "lgd_percent": Decimal("60.00"),
        "funding_rate_shock_bp": 200,
    },
)


def stress_demo_scenarios(*, by) -> list[StressScenario]:
    """The demo's scenarios, created the first time (through the same service as the back office)."""
    scenarios = []
    for fields in DEMO_SCENARIOS:
        scenario = StressScenario.objects.filter(name=fields["name"]).first()
        if scenario is None:
            scenario = stress_scenario_save(scenario=StressScenario(**fields), by=by)
        scenarios.append(scenario)
    return scenarios


def stress_demo_run(*, today: datetime.date, users: dict) -> list[StressRun]:
    """Run each demo scenario over the portfolio unless it already ran today; returns the runs started."""
    by = users[RISK_MANAGER_EMAIL]
    started = []
    for scenario in stress_demo_scenarios(by=by):
        if not StressRun.objects.filter(scenario=scenario, as_of=today).exists():
            started.append(stress_run_start(scenario=scenario, by=by, as_of=today))
    return started
