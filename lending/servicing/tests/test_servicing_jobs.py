"""The daily servicing jobs: overdue and days past due, late fees, default, buckets; idempotence and time travel."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from core.models import AuditEvent, Notice
from lending.catalogue.money.dates import add_months
from lending.catalogue.services.products import product_terms_snapshot
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, Loan, LoanState, Payment, Reminder, SalesShareDeduction
from lending.servicing.selectors.daily import loans_by_dpd_bucket, loans_in_dpd_bucket
from lending.servicing.services.daily import (
    servicing_defaults,
    servicing_late_fees,
    servicing_overdue,
    servicing_run_day,
)
from lending.servicing.tasks import servicing_daily_task

pytestmark = pytest.mark.django_db

L = LoanState
I = Instalment.Status  # noqa: E741
START = date(2027, 1, 15)


# Hand-built loans.


def servicing_product_make():
    """An operating loan: late fees 0.05 % a day plus 20.00 once, 3 grace days, default at 90 days past due."""
    return LoanProductFactory(
        code="servicing-operating",
        late_fee_daily_rate=Decimal("0.000500"),
        late_fee_fixed=Decimal("20.00"),
        # Grade C at 13 % a year: penalty interest may be up to 1.5 x that (19.5 % a year), so 0.05 % a day stands.
        prices={"A": "0.080000", "B": "0.100000", "C": "0.130000", "D": "0.150000", "E": "0.170000"},
        grace_days=3,
        default_after_days_past_due=90,
    )


@pytest.fixture
def servicing_product(db):
    return servicing_product_make()


def make_loan(
    merchant,
    product,
    *,
    start: date = START,
    months: int = 12,
    principal_each: Decimal = Decimal("1000.00"),
    interest_each: Decimal = Decimal("100.00"),
    state: str = L.ACTIVE,
    terms: dict | None = None,
    method: str = "equal_principal",
) -> Loan:
    """An active loan with ``months`` monthly instalments from ``start``, built directly (no funding journey)."""
    snapshot = {**product_terms_snapshot(product=product, grade="C"), **(terms or {})}
    principal = principal_each * months
    application = LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=principal,
        term=months,
        repayment_method=method,
        state=ApplicationState.FUNDED,
    )
    loan = Loan.objects.create(
        application=application,
        merchant=merchant,
        product=product,
        principal=principal,
        term=months,
        term_unit="months",
        repayment_method=method,
        grade="C",
        price=Decimal("0.120000"),
        apr=Decimal("12.68"),
        net_disbursement=principal,
        terms=snapshot,
        start_date=start,
        maturity_date=add_months(start, months),
        state=state,
    )
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=number,
            due_date=add_months(start, number),
            principal_due=principal_each,
            interest_due=interest_each,
            fee_due=Decimal("0.00"),
        )
        for number in range(1, months + 1)
    )
    return loan


def instalment(loan: Loan, number: int) -> Instalment:
    return Instalment.objects.get(loan=loan, number=number)


def pay_in_full(row: Instalment, on: date) -> None:
    """Test set-up: an instalment paid (as the repayments service leaves it)."""
    Instalment.objects.filter(pk=row.pk).update(
        principal_paid=row.principal_due,
        interest_paid=row.interest_due,
        fee_paid=row.fee_due,
        penalty_paid=row.penalty_due,
        status=I.PAID,
        paid_on=on,
    )


def loan_events(loan: Loan, action: str):
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(Loan), object_id=str(loan.pk), action=action
    )


def database_snapshot() -> dict:
    """Everything the daily jobs write, as plain values, to compare two runs."""
    return {
        "loans": list(
            Loan.objects.order_by("pk").values_list(
                "pk", "state", "days_past_due", "serviced_on", "defaulted_at", "credit_balance"
            )
        ),
        "instalments": list(
            Instalment.objects.order_by("pk").values_list(
                "pk", "status", "penalty_due", "principal_paid", "interest_paid", "penalty_paid", "paid_on"
            )
        ),
        "reminders": list(Reminder.objects.order_by("pk").values_list("pk", "instalment_id", "kind", "sent_on")),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "user_id", "title")),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", "action", "object_id", "data")),
        "payments": list(Payment.objects.order_by("pk").values_list("pk", "loan_id", "amount", "received_on")),
        "deductions": list(
            SalesShareDeduction.objects.order_by("pk").values_list("pk", "loan_id", "sales_date", "amount")
        ),
    }


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
    loan = make_loan(merchant, servicing_product)
    for day in (date(2027, 2, 18), date(2027, 2, 19)):
        servicing_overdue(on=day)
        servicing_late_fees(on=day)
    # First day past grace: 1,100.00 x 0.0005 = 0.55, plus the fixed 20.00.
    assert instalment(loan, 1).penalty_due == Decimal("20.55")
    servicing_overdue(on=date(2027, 2, 20))
    servicing_late_fees(on=date(2027, 2, 20))
    assert instalment(loan, 1).penalty_due == Decimal("21.10")
    # Two days the job did not run are caught up on the third, once.
    servicing_overdue(on=date(2027, 2, 23))
    servicing_late_fees(on=date(2027, 2, 23))
    assert instalment(loan, 1).penalty_due == Decimal("22.75")
    assert instalment(loan, 2).penalty_due == Decimal("0.00")
    assert Loan.objects.get(pk=loan.pk).serviced_on == date(2027, 2, 23)


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
    loan = make_loan(merchant, servicing_product, terms={"late_fee": {"daily_rate": "0.010000", "fixed": "0.00"}})
    Instalment.objects.filter(loan=loan, number=1).update(
        interest_paid=Decimal("100.00"), principal_paid=Decimal("500.00")
    )
    servicing_overdue(on=date(2027, 2, 19))
    servicing_late_fees(on=date(2027, 2, 19))
    assert instalment(loan, 1).penalty_due == Decimal("5.00")  # 1% of the 500.00 unpaid
    servicing_overdue(on=date(2027, 2, 20))
    servicing_late_fees(on=date(2027, 2, 20))
    assert instalment(loan, 1).penalty_due == Decimal("10.00")


def test_late_fees_run_twice_on_a_day_charge_once(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    servicing_overdue(on=date(2027, 2, 25))
    first = servicing_late_fees(on=date(2027, 2, 25))
    second = servicing_late_fees(on=date(2027, 2, 25))
    assert first["loans_serviced"] == 1
    assert second == {"loans_serviced": 0, "instalments_charged": 0}
    # 7 days past grace (19-25 Feb) x 0.55 + 20.00.
    assert instalment(loan, 1).penalty_due == Decimal("23.85")


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
    # Instalment 1: 4 Mar - 5 Apr is 33 days x 0.55 + 20.00; instalment 2: 4 - 5 Apr, 2 days x 0.55 + 20.00.
    assert instalment(loan, 1).penalty_due == Decimal("38.15")
    assert instalment(loan, 2).penalty_due == Decimal("21.10")
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
    assert instalment(late, 1).penalty_due == instalment(daily, 1).penalty_due == Decimal("35.40")


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


def test_the_daily_task_is_acknowledged_late_and_runs_the_day(merchant, servicing_product):
    loan = make_loan(merchant, servicing_product)
    assert servicing_daily_task.acks_late
    assert servicing_daily_task.reject_on_worker_lost
    counts = servicing_daily_task.apply(args=["2027-02-19"]).get()
    assert counts["loans_overdue"] == 1
    assert Loan.objects.get(pk=loan.pk).state == L.OVERDUE
