"""The daily servicing jobs: overdue and days past due, late fees, default, buckets; idempotence and time travel."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.models import JobRun
from lending.servicing.models import Instalment, Loan, LoanState, Reminder
from lending.servicing.selectors.daily import loans_by_dpd_bucket, loans_in_dpd_bucket
from lending.servicing.services.daily import (
    servicing_defaults,
    servicing_late_fees,
    servicing_overdue,
    servicing_run_day,
)
from lending.servicing.tasks import servicing_daily_task
from lending.servicing.tests.factories import (
    database_snapshot,
    instalment,
    loan_events,
    make_loan,
    pay_in_full,
    servicing_product_make,
)

pytestmark = pytest.mark.django_db

L = LoanState
I = Instalment.Status  # noqa: E741


# Hand-built loans.


@pytest.fixture
def servicing_product(db):
    return servicing_product_make()


# Overdue and days past due.


def test_instalment_is_not_overdue_within_its_grace_days(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    counts = servicing_overdue(on=date(2027, 2, 18))  # due 15 Feb + 3 grace days
    loan.refresh_from_db()
    assert counts["instalments_overdue"] == 0
    assert instalment(loan, 1).status == I.DUE
    assert (loan.state, loan.days_past_due) == (L.ACTIVE, 0)


def test_instalment_past_grace_is_overdue_and_the_loan_moves_to_overdue_with_one_audit_row(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    counts = servicing_overdue(on=date(2027, 2, 19))
    loan.refresh_from_db()
    assert counts["instalments_overdue"] == 1
    assert counts["loans_overdue"] == 1
    assert instalment(loan, 1).status == I.OVERDUE
    assert instalment(loan, 2).status == I.DUE
    assert (loan.state, loan.days_past_due) == (L.OVERDUE, 4)
    event = loan_events(loan, "loan.mark_overdue").get()
    assert (event.actor, event.from_state, event.to_state) == (None, L.ACTIVE, L.OVERDUE)
    assert event.reason == "daily servicing 2027-02-19"


def test_days_past_due_count_from_the_oldest_overdue_instalment(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    servicing_overdue(on=date(2027, 3, 20))
    loan.refresh_from_db()
    assert [instalment(loan, n).status for n in (1, 2, 3)] == [I.OVERDUE, I.OVERDUE, I.DUE]
    assert loan.days_past_due == (date(2027, 3, 20) - date(2027, 2, 15)).days == 33


def test_an_overdue_loan_paid_up_is_cured_back_to_active_with_an_audit_row(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    servicing_overdue(on=date(2027, 2, 19))
    pay_in_full(instalment(loan, 1), date(2027, 2, 20))
    counts = servicing_overdue(on=date(2027, 2, 21))
    loan.refresh_from_db()
    assert counts["loans_cured"] == 1
    assert (loan.state, loan.days_past_due) == (L.ACTIVE, 0)
    event = loan_events(loan, "loan.cure").get()
    assert (event.from_state, event.to_state) == (L.OVERDUE, L.ACTIVE)


def test_a_paid_off_loan_is_left_alone(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product, state=L.PAID_OFF)
    servicing_overdue(on=date(2027, 6, 1))
    assert instalment(loan, 1).status == I.DUE
    assert Loan.objects.get(pk=loan.pk).state == L.PAID_OFF


# Late fees.


def test_late_fee_charges_the_fixed_fee_once_and_the_daily_rate_for_each_day_past_grace(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product, terms={"late_fee": {"daily_rate": "0.000500", "fixed": "1.00"}})
    for day in (date(2027, 2, 18), date(2027, 2, 19)):
        servicing_overdue(on=day)
        servicing_late_fees(on=day)
    # First day past grace: 1,100.00 x 0.0005 = 0.55, plus the fixed 1.00 (under the cap of 2.89, see below).
    assert instalment(loan, 1).penalty_due == Decimal("1.55")
    servicing_overdue(on=date(2027, 2, 20))
    servicing_late_fees(on=date(2027, 2, 20))
    assert instalment(loan, 1).penalty_due == Decimal("2.10")
    # Two days the job did not run are caught up on the third, once.
    servicing_overdue(on=date(2027, 2, 23))
    servicing_late_fees(on=date(2027, 2, 23))
    assert instalment(loan, 1).penalty_due == Decimal("3.75")
    assert instalment(loan, 2).penalty_due == Decimal("0.00")
    assert Loan.objects.get(pk=loan.pk).serviced_on == date(2027, 2, 23)


def test_a_fixed_late_fee_never_costs_more_than_the_ceiling_a_year_on_the_overdue_amount(merchant, servicing_product):
    # The case: a 20.00 fixed fee on a 342.33 instalment paid 10 days late was about 226 % a year.
    loan = make_loan(merchant, servicing_product, principal_each=Decimal("330.00"), interest_each=Decimal("12.33"))
    assert loan.terms["late_fee"]["cost_cap"] == "0.240000"
    assert loan.terms["grace_days"] == 3
    charged = {}
    for offset in range(1, 11):
        day = date(2027, 2, 15) + timedelta(days=offset)
        servicing_overdue(on=day)
        servicing_late_fees(on=day)
        charged[offset] = instalment(loan, 1).penalty_due
    # Nothing within the grace days; from day 4 on, 24 % a year of 342.33 for the days since the due date
    # (grace days included), rounded down: 342.33 x 0.24 x 4 / 365 = 0.9003 -> 0.90.
    assert [charged[offset] for offset in (1, 2, 3)] == [Decimal("0.00")] * 3
    assert charged[4] == Decimal("0.90")
    # Then 0.05 % a day (0.17): what the cap held back of the fixed fee is never charged later.
    assert charged[10] == Decimal("1.92")
    for offset, penalty in charged.items():
        assert penalty / Decimal("342.33") * 365 / offset <= Decimal("0.24")


def test_the_late_fee_cap_follows_the_ceiling_for_loans_whose_terms_carry_none(merchant, servicing_product, settings):
    settings.ANNUAL_COST_CEILING = Decimal("12.00")
    loan = make_loan(merchant, servicing_product, terms={"late_fee": {"daily_rate": "0.000500", "fixed": "20.00"}})
    servicing_overdue(on=date(2027, 2, 25))
    servicing_late_fees(on=date(2027, 2, 25))
    # 1,100.00 x 0.12 x 10 / 365 = 3.616 -> 3.61, where the terms alone would give 20.00 + 7 x 0.55 = 23.85.
    assert instalment(loan, 1).penalty_due == Decimal("3.61")


def test_late_fee_rounds_half_up_to_the_fen(merchant, servicing_product):
    # 1,010.00 x 0.0005 = 0.505: half-up gives 0.51 (half-even would give 0.50).
    loan = make_loan(
        merchant,
        servicing_product,
        principal_each=Decimal("1000.00"),
        interest_each=Decimal("10.00"),
        terms={"late_fee": {"daily_rate": "0.000500", "fixed": "0.00"}},
    )
    servicing_overdue(on=date(2027, 2, 19))
    servicing_late_fees(on=date(2027, 2, 19))
    assert instalment(loan, 1).penalty_due == Decimal("0.51")


def test_late_fee_is_charged_on_what_is_still_unpaid_and_not_on_late_fees(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product, terms={"late_fee": {"daily_rate": "0.000500", "fixed": "0.00"}})
    Instalment.objects.filter(loan=loan, number=1).update(
        interest_paid=Decimal("100.00"), principal_paid=Decimal("500.00")
    )
    servicing_overdue(on=date(2027, 2, 19))
    servicing_late_fees(on=date(2027, 2, 19))
    assert instalment(loan, 1).penalty_due == Decimal("0.25")  # 0.05 % of the 500.00 unpaid
    servicing_overdue(on=date(2027, 2, 20))
    servicing_late_fees(on=date(2027, 2, 20))
    assert instalment(loan, 1).penalty_due == Decimal("0.50")


def test_late_fees_run_twice_on_a_day_charge_once(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    servicing_overdue(on=date(2027, 2, 25))
    first = servicing_late_fees(on=date(2027, 2, 25))
    second = servicing_late_fees(on=date(2027, 2, 25))
    assert first["loans_serviced"] == 1
    assert second == {"loans_serviced": 0, "instalments_charged": 0}
    # On 19 Feb, 20.00 + 0.55 held to the cap (1,100.00 x 24 % x 4 / 365 = 2.89), then 6 days x 0.55.
    assert instalment(loan, 1).penalty_due == Decimal("6.19")


def test_a_defaulted_loan_accrues_no_more_late_fees(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product, state=L.DEFAULTED)
    servicing_overdue(on=date(2027, 3, 1))
    servicing_late_fees(on=date(2027, 3, 1))
    loan.refresh_from_db()
    assert instalment(loan, 1).penalty_due == Decimal("0.00")
    assert loan.days_past_due == 14  # still counted, for collections


# Default.


def test_an_overdue_loan_defaults_at_the_threshold_of_its_terms_with_an_audit_row(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    day_89 = date(2027, 2, 15) + timedelta(days=89)
    servicing_overdue(on=day_89)
    assert servicing_defaults(on=day_89) == {"loans_defaulted": 0}
    servicing_overdue(on=day_89 + timedelta(days=1))
    assert servicing_defaults(on=day_89 + timedelta(days=1)) == {"loans_defaulted": 1}
    loan.refresh_from_db()
    assert (loan.state, loan.days_past_due) == (L.DEFAULTED, 90)
    assert loan.defaulted_at is not None
    event = loan_events(loan, "loan.default").get()
    assert (event.from_state, event.to_state, event.data["days_past_due"]) == (L.OVERDUE, L.DEFAULTED, 90)


def test_a_loan_whose_terms_name_a_lower_threshold_defaults_sooner(merchant, servicing_product):
    early = make_loan(merchant, servicing_product, terms={"default_after_days_past_due": 30})
    usual = make_loan(merchant, servicing_product)
    servicing_overdue(on=date(2027, 3, 20))  # 33 days past due
    servicing_defaults(on=date(2027, 3, 20))
    assert Loan.objects.get(pk=early.pk).state == L.DEFAULTED
    assert Loan.objects.get(pk=usual.pk).state == L.OVERDUE


# The whole day: idempotence, time travel.


def test_running_the_day_twice_leaves_the_database_identical(merchant, servicing_product):
    make_loan(merchant, servicing_product)
    make_loan(merchant, servicing_product, start=date(2026, 10, 31))
    make_loan(merchant, servicing_product, start=date(2027, 2, 22))  # due soon: a reminder
    on = date(2027, 3, 19)
    servicing_run_day(on=on)
    before = database_snapshot()
    assert before["reminders"]
    assert before["notices"]
    assert before["audit"]
    counts = servicing_run_day(on=on)
    assert database_snapshot() == before
    assert not any(counts.values()), counts


def test_time_travel_across_a_leap_day_and_month_ends(merchant, servicing_product):
    """A loan from 31 Jan 2028 falls due on 29 Feb, 31 Mar and 30 Apr; nothing is paid; the job runs daily."""
    loan = make_loan(merchant, servicing_product, start=date(2028, 1, 31), months=3)
    assert [instalment(loan, n).due_date for n in (1, 2, 3)] == [
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]
    day, states = date(2028, 2, 25), {}
    while day <= date(2028, 4, 5):
        servicing_run_day(on=day)
        loan.refresh_from_db()
        states[day] = (loan.state, loan.days_past_due)
        day += timedelta(days=1)
    assert states[date(2028, 3, 3)] == (L.ACTIVE, 0)  # 29 Feb + 3 grace days
    assert states[date(2028, 3, 4)] == (L.OVERDUE, 4)
    assert states[date(2028, 4, 5)] == (L.OVERDUE, 36)
    # Each instalment: 20.00 + 0.55 held to the cap on its first day past grace (1,100.00 x 24 % x 4 / 365 =
    # 2.89), then 0.55 a day: instalment 1, 4 Mar - 5 Apr, 2.89 + 32 x 0.55; instalment 2, 4 - 5 Apr, 2.89 + 0.55.
    assert instalment(loan, 1).penalty_due == Decimal("20.49")
    assert instalment(loan, 2).penalty_due == Decimal("3.44")
    kinds = set(Reminder.objects.filter(instalment__loan=loan).values_list("instalment__number", "kind", "sent_on"))
    assert {
        (1, "due_soon", date(2028, 2, 26)),
        (1, "due_today", date(2028, 2, 29)),
        (1, "overdue_1", date(2028, 3, 1)),
        (1, "overdue_7", date(2028, 3, 7)),
        (1, "overdue_30", date(2028, 3, 30)),
        (2, "due_soon", date(2028, 3, 28)),
        (2, "due_today", date(2028, 3, 31)),
        (2, "overdue_1", date(2028, 4, 1)),
    } == kinds
    assert loan_events(loan, "loan.mark_overdue").count() == 1


def test_one_late_run_charges_what_daily_runs_would_have(merchant, servicing_product):
    daily = make_loan(merchant, servicing_product, start=date(2028, 1, 31), months=3)
    day = date(2028, 3, 1)
    while day <= date(2028, 3, 31):
        servicing_overdue(on=day)
        servicing_late_fees(on=day)
        day += timedelta(days=1)
    late = make_loan(merchant, servicing_product, start=date(2028, 1, 31), months=3)
    servicing_overdue(on=date(2028, 3, 31))
    servicing_late_fees(on=date(2028, 3, 31))
    assert instalment(late, 1).penalty_due == instalment(daily, 1).penalty_due == Decimal("17.74")


# Buckets.


def test_loans_by_dpd_bucket_counts_loans_and_principal_still_owed(merchant, servicing_product):
    for start in (date(2027, 1, 10), date(2026, 12, 10), date(2026, 11, 10), date(2026, 9, 1)):
        make_loan(merchant, servicing_product, start=start)
    make_loan(merchant, servicing_product, start=date(2027, 3, 1))  # current: in no bucket
    servicing_overdue(on=date(2027, 3, 1))
    buckets = loans_by_dpd_bucket()
    assert {key: value["count"] for key, value in buckets.items()} == {"1-30": 1, "31-60": 1, "61-90": 1, "90+": 1}
    assert buckets["1-30"]["balance"] == Decimal("12000.00")
    days_past_due = (date(2027, 3, 1) - date(2026, 10, 1)).days
    assert [loan.days_past_due for loan in loans_in_dpd_bucket(bucket="90+")] == [days_past_due]


def test_loans_by_dpd_bucket_takes_payments_into_account(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product, start=date(2027, 1, 10))
    servicing_overdue(on=date(2027, 3, 1))
    Instalment.objects.filter(loan=loan, number=1).update(principal_paid=Decimal("400.00"))
    assert loans_by_dpd_bucket()["1-30"]["balance"] == Decimal("11600.00")


# The task.


def test_the_daily_task_is_acknowledged_late_and_runs_the_day_in_chunks(
    merchant, servicing_product, django_capture_on_commit_callbacks, settings
):
    settings.JOBS_CHUNK_SIZE = 1
    loans = [make_loan(merchant, servicing_product) for _ in range(3)]
    assert servicing_daily_task.acks_late
    assert servicing_daily_task.reject_on_worker_lost
    with django_capture_on_commit_callbacks(execute=True):
        started = servicing_daily_task.apply(args=["2027-02-19"]).get()
    assert started["chunks"] == 3
    run = JobRun.objects.get(pk=started["run"])
    assert (run.job, run.business_date, run.status) == ("lending-servicing-daily", date(2027, 2, 19), "done")
    assert run.counts["loans_overdue"] == 3
    assert [chunk.counts["loans_overdue"] for chunk in run.chunks.order_by("number")] == [1, 1, 1]
    assert {Loan.objects.get(pk=loan.pk).state for loan in loans} == {L.OVERDUE}
