"""Due dates by calendar month: anchored on the start date, month ends clipped, leap years honoured."""

from datetime import date
from decimal import Decimal

import pytest

from lending.catalogue.money import QuoteTerms, RepaymentMethod, quote
from lending.catalogue.money.dates import add_months, months_and_days


def _due_dates(start: date, term: int, first_due_date: date | None = None) -> list[date]:
    terms = QuoteTerms(
        amount=Decimal("12000.00"),
        term=term,
        start_date=start,
        method=RepaymentMethod.EQUAL_INSTALMENT,
        annual_rate=Decimal("0.12"),
        first_due_date=first_due_date,
    )
    return [line.due_date for line in quote(terms).lines]


def test_loan_drawn_on_31_january_pays_on_each_months_last_day_then_back_on_the_31st():
    assert _due_dates(date(2025, 1, 31), 6) == [
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
        date(2025, 5, 31),
        date(2025, 6, 30),
        date(2025, 7, 31),
    ]


def test_leap_year_february_due_date_is_the_29th():
    assert _due_dates(date(2024, 1, 31), 3) == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_loan_drawn_on_29_february_pays_on_the_29th_and_on_28_february_in_a_common_year():
    due = _due_dates(date(2024, 2, 29), 12)
    assert due[0] == date(2024, 3, 29)
    assert due[11] == date(2025, 2, 28)


def test_due_dates_keep_the_chosen_first_due_day_of_month():
    assert _due_dates(date(2025, 1, 10), 4, first_due_date=date(2025, 2, 28)) == [
        date(2025, 2, 28),
        date(2025, 3, 28),
        date(2025, 4, 28),
        date(2025, 5, 28),
    ]


def test_year_boundary_is_crossed_by_month_arithmetic():
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 31), -1) == date(2025, 11, 30)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2025, 1, 31), date(2025, 2, 28), (1, 0)),
        (date(2025, 1, 31), date(2025, 3, 31), (2, 0)),
        (date(2025, 1, 31), date(2025, 3, 1), (1, 1)),
        (date(2025, 1, 10), date(2025, 2, 25), (1, 15)),
        (date(2025, 1, 10), date(2025, 1, 25), (0, 15)),
        (date(2024, 2, 29), date(2025, 2, 28), (12, 0)),
    ],
)
def test_whole_months_are_counted_from_the_start_like_due_dates(start, end, expected):
    assert months_and_days(start, end) == expected
