"""A stress run over a small portfolio, checked by hand number by number; the run's chunks, its states and who may
start it.

The rule under test (stated in ``risk.selectors.stress`` and on the run's page): PD = the decision's PD (5 % when it
gave none) × a factor for today's days past due (current 1, 1-30 2, 31-60 4, 61-90 8; 90+ or defaulted: PD = 1),
then × (1 + sensitivity × sales fall) for the loans the sales shock hits, × the PD multiplier, never above 1.
EL = PD × LGD × EAD, EAD = outstanding principal.
"""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from core.models import AuditEvent
from lending.catalogue.tests.factories import LoanProductFactory
from lending.servicing.models import LoanState
from merchants.choices import Industry, Province
from partners.models import LoanShare
from partners.tests.factories import funding_partner
from partners.tests.factories_insurance import InsurerFactory, cover_make
from partners.tests.factories_insurance import agreement_make as insurance_agreement_make
from risk.models import LimitKind
from risk.models.stress import SalesShockScope, StressRun, StressRunChunk, StressRunStatus
from risk.selectors.limits import limits_utilisation
from risk.services.stress import (
    stress_chunk_record,
    stress_run_fail,
    stress_run_finish,
    stress_run_start,
    stress_scenario_save,
    stress_settings_check,
)
from risk.tests.factories import limit_in_force
from risk.tests.factories_stress import StressScenarioFactory, book_loan

GROCERY, RESTAURANT = Industry.GROCERY, Industry.RESTAURANT
GUANGDONG, ZHEJIANG = Province.GUANGDONG, Province.ZHEJIANG


@pytest.fixture
def run_now(django_capture_on_commit_callbacks):
    """Start a run and play what it queues on commit (Celery is eager in the tests): the chunks, then the sum-up."""

    def _run(scenario, by) -> StressRun:
        with django_capture_on_commit_callbacks(execute=True):
            run = stress_run_start(scenario=scenario, by=by)
        return StressRun.objects.get(pk=run.pk)

    return _run


@pytest.fixture
def portfolio(db):
    """Five loans on the book and one paid off (which a run leaves out)."""
    p1 = LoanProductFactory(code="p1")
    p2 = LoanProductFactory(code="p2")
    return {
        # Current, grocery: PD 2 %.
        "a": book_loan(
            product=p1, industry=GROCERY, province=GUANGDONG, grade="B", pd=Decimal("0.02"), outstanding=Decimal(10000)
        ),
        # 15 days past due (× 2), restaurant: PD 5 %; half of it repaid.
        "b": book_loan(
            product=p1,
            industry=RESTAURANT,
            province=ZHEJIANG,
            grade="C",
            pd=Decimal("0.05"),
            days_past_due=15,
            state=LoanState.OVERDUE,
            outstanding=Decimal(6000),
            paid=2,
        ),
        # 70 days past due (× 8), restaurant, a decision without a PD: 5 % is used.
        "c": book_loan(
            product=p2,
            industry=RESTAURANT,
            province=GUANGDONG,
            grade="D",
            pd=None,
            days_past_due=70,
            state=LoanState.OVERDUE,
            outstanding=Decimal(3000),
        ),
        # Defaulted: PD 1 whatever the decision said.
        "d": book_loan(
            product=p2,
            industry=GROCERY,
            province=ZHEJIANG,
            grade="D",
            pd=Decimal("0.30"),
            days_past_due=120,
            state=LoanState.DEFAULTED,
            outstanding=Decimal(2000),
        ),
        # 45 days past due (× 4) on a 40 % PD: 160 %, capped at 1.
        "e": book_loan(
            product=p1,
            industry=GROCERY,
            province=GUANGDONG,
            grade="C",
            pd=Decimal("0.40"),
            days_past_due=45,
            state=LoanState.OVERDUE,
            outstanding=Decimal(1000),
        ),
        "paid_off": book_loan(
            product=p1, industry=RESTAURANT, province=GUANGDONG, state=LoanState.PAID_OFF, outstanding=Decimal(5000)
        ),
    }


@pytest.fixture
def scenario(risk_manager):
    return StressScenarioFactory(
        name="Restaurants fall 20 %",
        sales_shock_percent=Decimal("20.00"),
        sales_shock_scope=SalesShockScope.INDUSTRY,
        sales_shock_industry=RESTAURANT,
        sales_pd_elasticity=Decimal("2.000"),
        pd_multiplier=Decimal("1.500"),
        lgd_percent=Decimal("40.00"),
        fallback_pd_percent=Decimal("5.00"),
        capital_ratio_percent=Decimal("10.00"),
        created_by=risk_manager,
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 5000])
def test_a_small_portfolio_checked_by_hand(portfolio, scenario, risk_manager, settings, chunk_size, run_now):
    settings.STRESS_CHUNK_SIZE = chunk_size
    run = run_now(scenario, risk_manager)
    assert run.status == StressRunStatus.FINISHED
    assert run.chunks_total == run.chunks_done == -(-5 // chunk_size)
    results = run.results

    # Per loan (PD before the scenario → under it; EL = PD × 40 % × EAD):
    #   a  0.02                      → 0.02 × 1.5             = 0.03   EAD 10,000  EL   80.00 →  120.00
    #   b  0.05 × 2 = 0.10           → 0.10 × 1.5 × 1.4       = 0.21   EAD  6,000  EL  240.00 →  504.00
    #   c  0.05 × 8 = 0.40           → 0.40 × 1.5 × 1.4       = 0.84   EAD  3,000  EL  480.00 → 1008.00
    #   d  defaulted: 1              → 1                              EAD  2,000  EL  800.00 →  800.00
    #   e  0.40 × 4 = 1.6, capped: 1 → 1                              EAD  1,000  EL  400.00 →  400.00
    # (sales factor for restaurants 1 + 2 × 0.20 = 1.4)
    assert results["loans"] == 5
    assert results["exposure"] == "22000.00"
    assert results["el_before_scenario"] == "2000.00"  # 80 + 240 + 480 + 800 + 400
    assert results["el_before_insurance"] == "2832.00"  # 120 + 504 + 1008 + 800 + 400
    assert results["insured_loss"] == "0.00"  # no insurer covers these loans
    assert results["el_after_insurance"] == "2832.00"
    assert results["funding_cost"] == "0.00"
    assert results["losses"] == {"platform": "2832.00"}  # the platform funds them all
    assert results["exposure_by_lender"] == {"platform": "22000.00"}
    # Capital: the loss plus 10 % of what stays lent: 2832 + 0.10 × (22000 − 2832) = 2832 + 1916.80.
    assert results["capital"] == {
        "platform_loss": "2832.00",
        "platform_exposure": "22000.00",
        "ratio": "0.10",
        "required": "4748.80",
    }
    # [key, loans, EAD, EL before the scenario, EL under it], the largest loss under the scenario first.
    assert results["by"]["industry"] == [
        [RESTAURANT, 2, "9000.00", "720.00", "1512.00"],  # b + c
        [GROCERY, 3, "13000.00", "1280.00", "1320.00"],  # a + d + e
    ]
    assert results["by"]["region"] == [
        [GUANGDONG, 3, "14000.00", "960.00", "1528.00"],  # a + c + e
        [ZHEJIANG, 2, "8000.00", "1040.00", "1304.00"],  # b + d
    ]
    assert results["by"]["product"] == [
        ["p2", 2, "5000.00", "1280.00", "1808.00"],  # c + d
        ["p1", 3, "17000.00", "720.00", "1024.00"],  # a + b + e
    ]
    assert results["by"]["grade"] == [
        ["D", 2, "5000.00", "1280.00", "1808.00"],  # c + d
        ["C", 2, "7000.00", "640.00", "904.00"],  # b + e
        ["B", 1, "10000.00", "80.00", "120.00"],  # a
    ]
    assert results["limit_breaches"] == []  # no limit is in force here


def test_a_share_limit_that_holds_today_is_breached_by_the_stressed_portfolio(
    portfolio, scenario, risk_manager, run_now
):
    # Restaurants (b + c) hold 9,000.00 of a 22,000.00 book: under a limit of 45 % of the portfolio (9,900.00) they
    # are near it today. The scenario's expected loss of 2,832.00 leaves a book of 19,168.00, whose 45 % is 8,625.60.
    limit_in_force(LimitKind.INDUSTRY, RESTAURANT, share_percent="45.00")
    limit_in_force(LimitKind.INDUSTRY, GROCERY, amount="20000.00")
    (today,) = [use for use in limits_utilisation() if use.key == RESTAURANT]
    assert (today.exposure, today.limit_amount, today.status) == (Decimal("9000.00"), Decimal("9900.00"), "near")

    run = run_now(scenario, risk_manager)

    assert [(breach["value"], breach["limit_amount"]) for breach in run.results["limit_breaches"]] == [
        ("9000.00", "8625.60")
    ]


@pytest.mark.parametrize(
    ("fields", "before", "under"),
    [
        # Sales −10 % everywhere (× 1.2), LGD 50 %: a 0.024 × 5,000 = 120; b 0.12 × 3,000 = 360;
        # c 0.48 × 1,500 = 720; d 1,000; e 500. Before: 100 + 300 + 600 + 1,000 + 500.
        (
            {"sales_shock_percent": Decimal(10), "sales_shock_scope": SalesShockScope.PORTFOLIO},
            "2500.00",
            "2700.00",
        ),
        # Sales −50 % in Zhejiang only (× 2), LGD 40 %: b 0.10 × 2 = 0.2 × 2,400 = 480; d stays 800;
        # a 80, c 480, e 400 as before.
        (
            {
                "sales_shock_percent": Decimal(50),
                "sales_shock_scope": SalesShockScope.REGION,
                "sales_shock_region": ZHEJIANG,
                "lgd_percent": Decimal(40),
            },
            "2000.00",
            "2240.00",
        ),
    ],
)
def test_a_sales_shock_on_the_portfolio_or_a_region(portfolio, risk_manager, run_now, fields, before, under):
    scenario = StressScenarioFactory(created_by=risk_manager, **{"lgd_percent": Decimal(50), **fields})
    results = run_now(scenario, risk_manager).results
    assert (results["el_before_scenario"], results["el_before_insurance"]) == (before, under)


def test_a_co_funded_loan_shares_its_loss_and_the_rate_shock_costs_the_platform(
    portfolio, scenario, risk_manager, settings, run_now, django_capture_on_commit_callbacks
):
    # Loan a (EAD 10,000, EL 120.00 under the scenario) is 70 % bank-a's; its maturity is 61 days after the run's
    # date, and partners' floating funding costs 200 bp more.
    bank = funding_partner("bank-a")
    loan = portfolio["a"]
    LoanShare.objects.create(loan=loan, partner=None, share=Decimal("0.3000"), principal=Decimal("3000.00"))
    LoanShare.objects.create(loan=loan, partner=bank, share=Decimal("0.7000"), principal=Decimal("7000.00"))
    scenario.funding_rate_shock_bp = 200
    stress_scenario_save(scenario=scenario, by=risk_manager)
    with django_capture_on_commit_callbacks(execute=True):
        run = stress_run_start(
            scenario=scenario, by=risk_manager, as_of=loan.maturity_date - datetime.timedelta(days=61)
        )
    results = StressRun.objects.get(pk=run.pk).results
    assert results["el_before_insurance"] == "2832.00"  # the same book, the same loss in all
    # bank-a: 120 × 0.7 = 84.00; the platform: 2,832 − 84 = 2,748 plus the funding cost
    # 10,000 × 0.7 × 0.02 × 61 / 365 = 23.3973 → 2,771.40.
    assert results["losses"] == {"platform": "2771.40", "bank-a": "84.00"}
    assert results["funding_cost"] == "23.40"
    assert results["exposure_by_lender"] == {"bank-a": "7000.00", "platform": "15000.00"}
    # Capital: 2,771.3973 + 0.10 × (15,000 − 2,748) = 2,771.3973 + 1,225.20.
    assert results["capital"]["required"] == "3996.60"


def test_a_run_records_its_inputs_version_and_time(portfolio, scenario, risk_manager, settings, run_now):
    settings.STRESS_CHUNK_SIZE = 2
    scenario.pd_multiplier = Decimal("2.000")
    stress_scenario_save(scenario=scenario, by=risk_manager)
    assert scenario.version == 2
    run = run_now(scenario, risk_manager)
    assert run.scenario_version == 2
    assert run.inputs["pd_multiplier"] == "2.000"
    assert run.inputs["lgd_percent"] == "40.00"
    assert run.inputs["chunk_size"] == 2
    assert run.inputs["delinquency_pd_factors"]["61-90"] == "× 8"
    assert run.inputs["delinquency_pd_factors"]["91+ or defaulted"] == "PD = 1"
    assert run.started_at <= run.finished_at
    assert list(
        AuditEvent.objects.filter(object_id=str(run.pk), action__startswith="stress_run")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == [
        "stress_run_started",
        "stress_run_finished",
    ]


def test_saving_a_scenario_unchanged_keeps_its_version(scenario, risk_manager):
    stress_scenario_save(scenario=scenario, by=risk_manager)
    scenario.description = "same numbers, new words"
    stress_scenario_save(scenario=scenario, by=risk_manager)
    assert scenario.version == 1


def test_a_chunk_computed_again_replaces_its_partial(
    portfolio, scenario, risk_manager, settings, django_capture_on_commit_callbacks
):
    settings.STRESS_CHUNK_SIZE = 2
    # Capture the queued tasks instead of running them, then play them by hand, one chunk twice.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = stress_run_start(scenario=scenario, by=risk_manager)
    assert len(queued) == 3
    assert stress_chunk_record(run_id=run.pk, index=0)
    assert stress_chunk_record(run_id=run.pk, index=0)
    run.refresh_from_db()
    assert run.chunks_done == 1
    assert StressRunChunk.objects.filter(run=run, index=0).count() == 1
    with django_capture_on_commit_callbacks(execute=False) as finish:
        stress_chunk_record(run_id=run.pk, index=1)
        stress_chunk_record(run_id=run.pk, index=2)
    assert len(finish) == 1  # the last chunk in queues the sum-up, once
    stress_run_finish(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == StressRunStatus.FINISHED
    assert run.results["el_before_insurance"] == "2832.00"  # not doubled by chunk 0 computed twice
    # A chunk redelivered after the run finished changes nothing.
    assert not stress_chunk_record(run_id=run.pk, index=0)
    finished_at = run.finished_at
    assert stress_run_finish(run_id=run.pk).finished_at == finished_at


def test_a_run_is_not_summed_up_before_every_chunk_is_in(portfolio, scenario, risk_manager, settings, run_now):
    settings.STRESS_CHUNK_SIZE = 2
    run = run_now(scenario, risk_manager)
    assert run.status == StressRunStatus.FINISHED
    StressRun.objects.filter(pk=run.pk).update(status=StressRunStatus.RUNNING, chunks_done=2, results={})
    assert stress_run_finish(run_id=run.pk).status == StressRunStatus.RUNNING


def test_a_failed_run_says_why_and_a_finished_one_cannot_fail(portfolio, scenario, risk_manager, settings, run_now):
    settings.STRESS_CHUNK_SIZE = 2
    run = run_now(scenario, risk_manager)
    assert stress_run_fail(run_id=run.pk, error="late").status == StressRunStatus.FINISHED
    StressRun.objects.filter(pk=run.pk).update(status=StressRunStatus.RUNNING)
    failed = stress_run_fail(run_id=run.pk, error="chunk 1: database went away")
    assert failed.status == StressRunStatus.FAILED
    assert failed.error == "chunk 1: database went away"
    assert AuditEvent.objects.filter(object_id=str(run.pk), action="stress_run_failed").count() == 1


def test_only_a_risk_manager_may_start_a_run(portfolio, scenario, loan_officer, senior_officer):
    for person in (loan_officer, senior_officer):
        with pytest.raises(PermissionDenied):
            stress_run_start(scenario=scenario, by=person)
    assert not StressRun.objects.exists()


def test_an_officer_may_not_change_a_scenario(scenario, loan_officer):
    scenario.lgd_percent = Decimal("99.00")
    with pytest.raises(PermissionDenied):
        stress_scenario_save(scenario=scenario, by=loan_officer)
    scenario.refresh_from_db()
    assert scenario.lgd_percent == Decimal("40.00")


def test_the_tasks_are_queued_on_commit(
    portfolio, scenario, risk_manager, settings, django_capture_on_commit_callbacks
):
    settings.STRESS_CHUNK_SIZE = 4
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = stress_run_start(scenario=scenario, by=risk_manager)
    assert [callback.__qualname__ for callback in queued] == ["risk.tasks.stress_chunk_task.delay"] * 2
    assert run.chunks_total == 2
    assert list(run.chunks.values_list("first_loan_id", "last_loan_id")) == [
        (portfolio["a"].pk, portfolio["d"].pk),
        (portfolio["e"].pk, portfolio["e"].pk),
    ]


def test_an_empty_book_finishes_with_zeros(scenario, risk_manager, run_now):
    run = run_now(scenario, risk_manager)
    assert run.status == StressRunStatus.FINISHED
    assert run.chunks_total == 0
    assert run.results["loans"] == 0
    assert run.results["el_before_insurance"] == "0.00"
    assert run.results["capital"]["required"] == "0.00"


@pytest.mark.parametrize("chunk_size", [1, 5000])
def test_a_shared_insured_loan_splits_its_loss_by_hand(
    portfolio, scenario, risk_manager, settings, chunk_size, run_now
):
    # Loan a: EAD 10,000, EL 120.00 under the scenario; an insurer covers half of its loss; the platform holds 30 %,
    # bank-a 70 %. Loan b (EL 504.00) is insured too, and the platform's alone.
    settings.STRESS_CHUNK_SIZE = chunk_size
    bank = funding_partner("bank-a")
    loan = portfolio["a"]
    LoanShare.objects.create(loan=loan, partner=None, share=Decimal("0.3000"), principal=Decimal("3000.00"))
    LoanShare.objects.create(loan=loan, partner=bank, share=Decimal("0.7000"), principal=Decimal("7000.00"))
    cover = insurance_agreement_make(
        InsurerFactory(code="ins"), [loan.product, portfolio["b"].product], by=risk_manager, cover_share="0.5000"
    )
    cover_make(loan, cover)
    cover_make(portfolio["b"], cover)
    results = run_now(scenario, risk_manager).results
    assert results["el_before_insurance"] == "2832.00"
    # The insurer: (120 + 504) × 0.5 = 312.00; bank-a: (120 − 60) × 0.7 = 42.00; the platform the rest:
    # 2,832 − 312 − 42 = 2,478.00.
    assert results["insured_loss"] == "312.00"
    assert results["insurers"] == {"ins": "312.00"}
    assert results["el_after_insurance"] == "2520.00"
    assert results["losses"] == {"platform": "2478.00", "bank-a": "42.00"}
    assert results["exposure_by_lender"] == {"bank-a": "7000.00", "platform": "15000.00"}
    assert results["funding_cost"] == "0.00"  # no rate shock in this scenario


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_recording_the_last_chunks_at_once_queue_one_sum_up(risk_manager, settings):
    settings.STRESS_CHUNK_SIZE = 1
    product = LoanProductFactory(code="p-concurrent")
    for outstanding in (Decimal(1000), Decimal(2000)):
        book_loan(product=product, industry=GROCERY, province=GUANGDONG, outstanding=outstanding)
    scenario = StressScenarioFactory(created_by=risk_manager)
    from django.test.utils import override_settings

    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        from unittest import mock

        with mock.patch("core.transactions.registered_task") as registered:
            run = stress_run_start(scenario=scenario, by=risk_manager)
            barrier = threading.Barrier(2)
            errors = []

            def record(index: int) -> None:
                try:
                    barrier.wait()
                    stress_chunk_record(run_id=run.pk, index=index)
                except Exception as exc:  # noqa: BLE001 - any error in a thread is reported below
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=record, args=(index,)) for index in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert not errors
    run.refresh_from_db()
    assert run.chunks_done == 2
    queued = [call.args[0] for call in registered.call_args_list]
    assert queued.count("risk.tasks.stress_run_finish_task") == 1


@pytest.mark.parametrize("value", [0, -5, "5000", None])
def test_a_missing_or_bad_chunk_size_is_an_error_at_start_up(settings, value):
    if value is None:
        del settings.STRESS_CHUNK_SIZE
    else:
        settings.STRESS_CHUNK_SIZE = value
    errors = stress_settings_check()
    assert [error.id for error in errors] == ["risk.E001"]
    assert errors[0].msg == "STRESS_CHUNK_SIZE must be a whole number of loans, at least 1."


def test_the_configured_chunk_size_passes_the_check(settings):
    settings.STRESS_CHUNK_SIZE = 25000
    assert stress_settings_check() == []
