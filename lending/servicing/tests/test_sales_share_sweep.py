"""Sales-share sweeps: the daily deduction from yesterday's sales, the 60-day minimum, the projection."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from core.models import Notice
from core.money import to_fen
from lending.catalogue.money import sales_share_repayments
from lending.catalogue.tests.factories import SalesShareProductFactory
from lending.servicing.models import Instalment, Loan, Payment, SalesShareDeduction
from lending.servicing.selectors.daily import sales_share_breaches, sales_share_projection
from lending.servicing.services.daily import (
    sales_share_deductions_compute,
    sales_share_window,
    servicing_run_day,
    servicing_sales_share,
)
from lending.servicing.services.repayments import payment_record
from lending.servicing.services.sales_share_fees import sales_share_fee_book_loan, sales_share_fee_owed
from lending.servicing.tests.factories import database_snapshot, loan_events, make_loan
from merchants.models import SalesDay

pytestmark = pytest.mark.django_db

START = date(2027, 1, 1)


@pytest.fixture
def advance(merchant) -> Loan:
    """9,000 yuan at a fee factor of 1.08 (9,720.00 to repay, at least 540.00 per 60 days), 10 % of daily sales."""
    product = SalesShareProductFactory(code="servicing-sales-share")
    loan = make_loan(merchant, product, start=START, months=3, method="sales_share")
    for number in (1, 2, 3):
        Instalment.objects.filter(loan=loan, number=number).update(
            due_date=START + timedelta(days=60 * number),
            principal_due=Decimal("3000.00"),
            interest_due=Decimal("0.00"),
            fee_due=Decimal("240.00"),
        )
    return loan


def sales(merchant, day: date, gross: str) -> None:
    SalesDay.objects.update_or_create(
        merchant=merchant,
        date=day,
        defaults={
            "gross_sales": Decimal(gross),
            "refunds": Decimal("0.00"),
            "transaction_count": 10,
            "distinct_customers": 5,
        },
    )


def every_day(merchant, first: date, last: date, gross: str) -> None:
    day = first
    while day <= last:
        sales(merchant, day, gross)
        day += timedelta(days=1)


def sweep(first: date, last: date) -> None:
    day = first
    while day <= last:
        servicing_sales_share(on=day)
        day += timedelta(days=1)


def test_the_deduction_is_the_share_of_yesterdays_gross_sales_rounded_half_up(advance, merchant):
    sales(merchant, date(2027, 1, 10), "1234.55")  # 10 % = 123.455
    assert sales_share_deductions_compute(on=date(2027, 1, 11)) == 1
    deduction = SalesShareDeduction.objects.get()
    assert (deduction.sales_date, deduction.gross_sales, deduction.amount) == (
        date(2027, 1, 10),
        Decimal("1234.55"),
        Decimal("123.46"),
    )
    assert deduction.payment is None
    assert sales_share_deductions_compute(on=date(2027, 1, 11)) == 0


def test_a_day_without_sales_makes_a_zero_deduction_and_no_payment(advance, merchant):
    sales(merchant, date(2027, 1, 10), "0.00")
    servicing_sales_share(on=date(2027, 1, 11))
    servicing_sales_share(on=date(2027, 1, 12))  # no sales row at all for 11 Jan
    assert list(SalesShareDeduction.objects.values_list("sales_date", "amount", "payment")) == [
        (date(2027, 1, 10), Decimal("0.00"), None),
        (date(2027, 1, 11), Decimal("0.00"), None),
    ]
    assert not Payment.objects.exists()


def test_the_deduction_is_posted_as_a_sales_share_payment_once(advance, merchant):
    sales(merchant, date(2027, 1, 10), "800.00")
    counts = servicing_sales_share(on=date(2027, 1, 11))
    assert counts["deductions_posted"] == 1
    payment = Payment.objects.get()
    assert (payment.amount, payment.source, payment.received_on, payment.external_reference) == (
        Decimal("80.00"),
        "sales_share",
        date(2027, 1, 11),
        f"sales-share:{advance.pk}:2027-01-10",
    )
    assert SalesShareDeduction.objects.get().payment == payment
    assert Instalment.objects.get(loan=advance, number=1).fee_paid + Instalment.objects.get(
        loan=advance, number=1
    ).principal_paid == Decimal("80.00")
    before = database_snapshot()
    servicing_sales_share(on=date(2027, 1, 11))
    assert database_snapshot() == before


def test_the_deduction_never_takes_more_than_is_owed(advance, merchant):
    Instalment.objects.filter(loan=advance).update(principal_paid=Decimal("3000.00"), fee_paid=Decimal("240.00"))
    Instalment.objects.filter(loan=advance, number=3).update(principal_paid=Decimal("2990.00"))
    sales(merchant, date(2027, 1, 10), "5000.00")
    sales_share_deductions_compute(on=date(2027, 1, 11))
    assert SalesShareDeduction.objects.get().amount == Decimal("10.00")


def test_a_merchant_behind_the_minimum_is_warned_at_day_45_once_and_breaches_at_day_60(advance, merchant):
    # 50.00 of sales a day: 5.00 deducted, 300.00 in 60 days against a minimum of 540.00.
    every_day(merchant, START, START + timedelta(days=70), "50.00")
    sweep(START + timedelta(days=1), START + timedelta(days=44))
    assert not loan_events(advance, "sales_share.near_breach").exists()
    sweep(START + timedelta(days=45), START + timedelta(days=59))
    warning = loan_events(advance, "sales_share.near_breach").get()
    assert warning.data["window"] == 1
    assert (warning.data["minimum"], warning.data["paid"]) == ("540.00", "225.00")
    assert not sales_share_breaches(loan=advance).exists()
    sweep(START + timedelta(days=60), START + timedelta(days=62))
    breach = sales_share_breaches(loan=advance).get()
    assert breach.data["window"] == 1
    assert (breach.data["start_date"], breach.data["end_date"]) == ("2027-01-02", "2027-03-02")
    assert (breach.data["minimum"], breach.data["paid"]) == ("540.00", "300.00")
    titles = list(Notice.objects.filter(user=merchant.owner).values_list("title", flat=True))
    assert f"Advance #{advance.pk} is behind its 60-day minimum" in titles
    assert f"Advance #{advance.pk}: the 60-day minimum was not met" in titles
    assert sum(1 for title in titles if "60-day minimum" in title) == 2


def test_a_merchant_on_track_gets_no_warning_and_no_breach(advance, merchant):
    every_day(merchant, START, START + timedelta(days=61), "120.00")  # 12.00 a day: 720.00 in 60 days
    sweep(START + timedelta(days=1), START + timedelta(days=61))
    assert not loan_events(advance, "sales_share.near_breach").exists()
    assert not sales_share_breaches(loan=advance).exists()


def test_the_window_minimum_is_what_is_left_when_that_is_less():
    payments = [(date(2027, 1, 2), Decimal("9500.00"))]
    window = sales_share_window(start_date=START, total=Decimal("9720.00"), number=2, payments=payments)
    assert (window.start_date, window.end_date, window.minimum) == (
        date(2027, 3, 3),
        date(2027, 5, 1),
        Decimal("220.00"),
    )


def test_the_projection_uses_the_average_of_the_last_30_days(advance, merchant):
    every_day(merchant, date(2027, 1, 1), date(2027, 1, 30), "1000.00")
    outlook = sales_share_projection(loan=advance, on=date(2027, 1, 31))
    assert (outlook.average_daily_sales, outlook.daily_deduction, outlook.remaining) == (
        Decimal("1000.00"),
        Decimal("100.00"),
        Decimal("9720.00"),
    )
    assert outlook.payoff_date == date(2027, 1, 31) + timedelta(days=98)  # 9,720 / 100 = 97.2 days
    assert outlook.within_term_limit


def test_the_projection_has_no_payoff_date_without_sales(advance):
    outlook = sales_share_projection(loan=advance, on=date(2027, 1, 31))
    assert outlook.payoff_date is None
    assert not outlook.within_term_limit


def test_the_whole_day_run_twice_over_an_advance_changes_nothing(advance, merchant):
    every_day(merchant, START, START + timedelta(days=61), "50.00")
    for offset in range(1, 62):
        servicing_run_day(on=START + timedelta(days=offset))
    before = database_snapshot()
    servicing_run_day(on=START + timedelta(days=61))
    assert database_snapshot() == before


# The fee: accrued by the day on the principal outstanding, never the whole projected fee up front.

# Grade C of the factory: fee factor 1.08 spread over 240 days, 0.000333 a day; at most 720.00 on 9,000.00.
RATE = Decimal("0.000333")


def fees(loan: Loan) -> list[tuple[Decimal, Decimal]]:
    return list(Instalment.objects.filter(loan=loan).order_by("number").values_list("fee_due", "fee_paid"))


def test_the_first_sweep_books_the_projected_fee_down_to_what_has_accrued(advance):
    # No sales for ten days: 9,000.00 outstanding for 10 days x 0.000333 = 29.97, not the 720.00 projected.
    servicing_sales_share(on=START + timedelta(days=10))
    assert fees(advance) == [
        (Decimal("29.97"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("0.00")),
    ]
    servicing_sales_share(on=START + timedelta(days=10))
    assert fees(advance)[0] == (Decimal("29.97"), Decimal("0.00"))


def test_each_deduction_pays_the_fee_accrued_then_principal_exactly_as_the_rule_says(advance, merchant):
    gross = ["800.00", "0.00", "1234.55", "5000.00", "0.00", "300.00", "100000.00"]
    for offset, amount in enumerate(gross):
        sales(merchant, START + timedelta(days=offset), amount)
    sweep(START + timedelta(days=1), START + timedelta(days=len(gross) + 1))

    days = sales_share_repayments(
        amount=Decimal("9000.00"),
        start_date=START,
        fee_factor=Decimal("1.08"),
        daily_fee_rate=RATE,
        deductions=[to_fen(Decimal(amount) * Decimal("0.10")) for amount in gross],
    )
    assert days[-1].balance == 0  # the 10,000.00 of the last day repays everything
    paid = list(Payment.objects.filter(loan=advance).order_by("received_on").values_list("received_on", "amount"))
    assert paid == [(day.on, day.payment) for day in days if day.payment]
    lines = Instalment.objects.filter(loan=advance)
    assert sum(line.fee_paid for line in lines) == sum(day.fee for day in days) == Decimal("20.16")
    assert sum(line.principal_paid for line in lines) == Decimal("9000.00")
    advance.refresh_from_db()
    assert advance.state == "paid_off"
    # 9,020.16 in all: the principal and seven days of fee on what was outstanding, never the 720.00 maximum.
    assert sum(amount for _day, amount in paid) == Decimal("9020.16")


def test_a_deduction_never_takes_more_than_the_fee_accrued_and_the_principal(advance, merchant):
    sales(merchant, START, "500000.00")  # 10 % is 50,000.00
    servicing_sales_share(on=START + timedelta(days=1))
    # One day of fee on 9,000.00: 2.997 rounded down, 2.99.
    assert SalesShareDeduction.objects.get().amount == Decimal("9002.99")
    assert Payment.objects.get().amount == Decimal("9002.99")
    advance.refresh_from_db()
    assert (advance.state, advance.credit_balance) == ("paid_off", Decimal("0.00"))


def test_an_advance_signed_before_fees_were_spread_accrues_at_the_ceilings_daily_rate(merchant):
    product = SalesShareProductFactory(code="servicing-sales-share-old-terms")
    loan = make_loan(
        merchant,
        product,
        start=START,
        months=1,
        method="sales_share",
        terms={"sales_share": {"share_rate": "0.100000", "window_days": 60, "window_share": "1/18", "max_months": 18}},
    )
    Instalment.objects.filter(loan=loan).update(
        principal_due=Decimal("10000.00"), interest_due=Decimal("0.00"), fee_due=Decimal("800.00")
    )
    servicing_sales_share(on=START + timedelta(days=3))
    # 24 % / 365 = 0.000657 a day (rounded down): 10,000.00 x 3 days x 0.000657 = 19.71, never the fixed 800.00.
    assert fees(loan) == [(Decimal("19.71"), Decimal("0.00"))]


def test_a_payment_on_the_day_of_the_payout_owes_no_fee_and_the_next_day_one_days_fee(advance):
    # The lines still carry the quote's projected 720.00: the fee owed is the rule's, not theirs.
    lines = list(Instalment.objects.filter(loan=advance).order_by("number"))
    assert sales_share_fee_owed(loan=advance, instalments=lines, on=START) == Decimal("0.00")
    assert sales_share_fee_owed(loan=advance, instalments=lines, on=START + timedelta(days=1)) == Decimal("2.99")
    assert sales_share_fee_owed(loan=advance, instalments=lines, on=START + timedelta(days=10)) == Decimal("29.97")


def test_booking_one_advance_before_a_payment_collects_the_principal_and_the_fee_owed_only(advance):
    with transaction.atomic():
        lines = list(Instalment.objects.select_for_update().filter(loan=advance).order_by("number"))
        changed = sales_share_fee_book_loan(loan=advance, instalments=lines, on=START + timedelta(days=1))
    assert len(changed) == 3
    assert fees(advance) == [
        (Decimal("2.99"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("0.00")),
    ]

    payment_record(
        loan=advance,
        amount=Decimal("9002.99"),
        received_on=START + timedelta(days=1),
        source="officer",
        external_reference="bank-transfer-1",
    )

    advance.refresh_from_db()
    assert (advance.state, advance.credit_balance) == ("paid_off", Decimal("0.00"))
    assert sum(fee_paid for _due, fee_paid in fees(advance)) == Decimal("2.99")


def test_a_payment_the_day_after_payout_owes_that_days_fee_without_a_sweep(advance):
    """The lines still carry the projected fee; the payment books the rule's fee on its own day first."""
    payment_record(
        loan=advance,
        amount=Decimal("9002.99"),
        received_on=START + timedelta(days=1),
        source="officer",
        external_reference="bank-transfer-2",
    )

    advance.refresh_from_db()
    assert (advance.state, advance.credit_balance) == ("paid_off", Decimal("0.00"))
    assert sum(fee_paid for _due, fee_paid in fees(advance)) == Decimal("2.99")


def test_the_payoff_quote_of_an_advance_is_the_principal_and_the_fee_to_that_day(advance):
    from lending.servicing.services.repayments import loan_pay_off, payoff_quote

    quote = payoff_quote(loan=advance, on=START + timedelta(days=10))
    loan_pay_off(
        loan=advance,
        amount=quote.total,
        on=START + timedelta(days=10),
        external_reference="off",
        by=None,
        source="officer",
    )

    assert (quote.principal, quote.fees, quote.total) == (Decimal("9000.00"), Decimal("29.97"), Decimal("9029.97"))
    advance.refresh_from_db()
    assert (advance.state, advance.credit_balance) == ("paid_off", Decimal("0.00"))
