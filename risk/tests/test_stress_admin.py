"""Stress tests in the back office: a risk manager saves a scenario (a bad one is refused on the field), runs it from
the list, opens the run with its figures and CSVs, and compares two runs; an officer may look but not run."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import AuditEvent
from lending.catalogue.tests.factories import LoanProductFactory
from merchants.choices import Industry, Province
from risk.models.stress import SalesShockScope, StressRun, StressRunStatus, StressScenario
from risk.tests.factories_stress import StressScenarioFactory, book_loan

SCENARIOS = reverse("admin:risk_stressscenario_changelist")
ADD = reverse("admin:risk_stressscenario_add")
RUNS = reverse("admin:risk_stressrun_changelist")


@pytest.fixture
def book(db):
    product = LoanProductFactory(code="p1")
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
    )


def scenario_form(**overrides) -> dict:
    return {
        "name": "Restaurants fall",
        "description": "",
        "sales_shock_percent": "20.00",
        "sales_shock_scope": SalesShockScope.INDUSTRY,
        "sales_shock_industry": Industry.RESTAURANT,
        "sales_shock_region": "",
        "sales_pd_elasticity": "2.000",
        "pd_multiplier": "1.500",
        "lgd_percent": "40.00",
        "fallback_pd_percent": "5.00",
        "funding_rate_shock_bp": "0",
        "capital_ratio_percent": "10.00",
        **overrides,
    }


def run_scenarios(client, scenarios, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            SCENARIOS,
            {"action": "run_scenarios", "_selected_action": [scenario.pk for scenario in scenarios]},
            follow=True,
        )


def test_a_risk_manager_saves_a_scenario_and_a_change_makes_a_new_version(client, risk_manager):
    client.force_login(risk_manager)
    response = client.post(ADD, scenario_form())
    assert response.status_code == 302
    scenario = StressScenario.objects.get(name="Restaurants fall")
    assert (scenario.version, scenario.created_by) == (1, risk_manager)
    change = reverse("admin:risk_stressscenario_change", args=[scenario.pk])
    client.post(change, scenario_form(lgd_percent="55.00"))
    scenario.refresh_from_db()
    assert (scenario.version, scenario.lgd_percent) == (2, Decimal("55.00"))
    assert list(
        AuditEvent.objects.filter(object_id=str(scenario.pk), action__startswith="stress_scenario")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["stress_scenario_created", "stress_scenario_changed"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"sales_shock_industry": ""}, "sales_shock_industry", "Choose the industry whose sales fall."),
        (
            {"sales_shock_scope": SalesShockScope.REGION, "sales_shock_industry": ""},
            "sales_shock_region",
            "Choose the region whose sales fall.",
        ),
        (
            {"sales_shock_scope": SalesShockScope.PORTFOLIO},
            "sales_shock_industry",
            "Name an industry only when the sales shock applies to one industry.",
        ),
        ({"lgd_percent": "120"}, "lgd_percent", "Ensure this value is less than or equal to 100."),
        ({"pd_multiplier": "-1"}, "pd_multiplier", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_a_bad_scenario_is_refused_on_the_field_and_nothing_is_saved(client, risk_manager, overrides, field, message):
    client.force_login(risk_manager)
    response = client.post(ADD, scenario_form(**overrides))
    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors[field]
    assert not StressScenario.objects.exists()


def test_running_a_scenario_from_the_list_shows_a_finished_run_with_its_figures(
    client, risk_manager, book, django_capture_on_commit_callbacks
):
    scenario = StressScenarioFactory(lgd_percent=Decimal("40.00"), pd_multiplier=Decimal("1.500"))
    client.force_login(risk_manager)
    response = run_scenarios(client, [scenario], django_capture_on_commit_callbacks)
    assert "1 run started; it is computed in the background: see Stress runs." in response.content.decode()
    run = StressRun.objects.get()
    assert run.status == StressRunStatus.FINISHED
    page = client.get(reverse("admin:risk_stressrun_change", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    # EL before insurance: 0.02 × 1.5 × 0.4 × 10,000 = 120 plus 0.05 × 1.5 × 0.4 × 6,000 = 180.
    assert '<td id="status">Finished</td>' in body
    assert "<td>expected loss before insurance</td><td>300.00</td>" in body
    assert "<td>exposure (outstanding principal)</td><td>16,000.00</td>" in body
    assert 'data-chart="chart-data-loss-industry"' in body
    assert "None: the stressed portfolio stays within every limit." in body
    assert "31-60 × 4" in body  # the delinquency rule is stated on the page

    download = client.get(reverse("admin:risk_stressrun_change", args=[run.pk]), {"csv": "loss-industry"})
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == [
        "code",
        "name",
        "loans",
        "exposure",
        "expected loss before the scenario",
        "expected loss under the scenario",
    ]
    assert rows[1:] == [
        [Industry.RESTAURANT, "Restaurants", "1", "6000.00", "120.00", "180.00"],
        [Industry.GROCERY, "Grocery and convenience stores", "1", "10000.00", "80.00", "120.00"],
    ]
    assert client.get(reverse("admin:risk_stressrun_change", args=[run.pk]), {"csv": "nope"}).status_code == 404


def test_two_runs_are_compared_side_by_side(client, risk_manager, book, django_capture_on_commit_callbacks):
    mild = StressScenarioFactory(name="mild", lgd_percent=Decimal("40.00"))
    harsh = StressScenarioFactory(name="harsh", lgd_percent=Decimal("80.00"))
    client.force_login(risk_manager)
    run_scenarios(client, [mild, harsh], django_capture_on_commit_callbacks)
    runs = list(StressRun.objects.order_by("pk"))
    response = client.post(RUNS, {"action": "compare_runs", "_selected_action": [run.pk for run in runs]})
    body = response.content.decode()
    # 0.02 × 10,000 + 0.05 × 6,000 = 500 of PD × EAD: × 80 % for harsh (run first: the list runs them by name),
    # × 40 % for mild.
    assert [run.scenario.name for run in runs] == ["harsh", "mild"]
    assert '<th scope="row">expected loss before insurance</th><td>400.00</td><td>200.00</td>' in body
    assert '<th scope="row">lgd_percent</th>' in body


def test_comparing_needs_two_finished_runs(client, risk_manager, book, django_capture_on_commit_callbacks):
    client.force_login(risk_manager)
    run_scenarios(client, [StressScenarioFactory()], django_capture_on_commit_callbacks)
    response = client.post(
        RUNS, {"action": "compare_runs", "_selected_action": [StressRun.objects.get().pk]}, follow=True
    )
    assert "Select at least two finished runs to compare." in response.content.decode()


def test_an_officer_sees_runs_but_cannot_run_or_change_a_scenario(
    client, loan_officer, book, django_capture_on_commit_callbacks
):
    scenario = StressScenarioFactory()
    client.force_login(loan_officer)
    assert client.get(SCENARIOS).status_code == 200
    response = run_scenarios(client, [scenario], django_capture_on_commit_callbacks)
    assert not StressRun.objects.exists()
    assert response.status_code == 200
    assert client.post(ADD, scenario_form()).status_code == 403
    assert client.get(RUNS).status_code == 200


def test_a_merchant_owner_cannot_open_the_runs(client, merchant_owner):
    client.force_login(merchant_owner)
    response = client.get(RUNS)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
