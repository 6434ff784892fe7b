"""Calendar months for due dates.

A due date is always the anchor date plus n months, never the previous due date plus one month: a loan drawn on
31 January pays on 28 (or 29) February, 31 March, 30 April, 31 May..., because stepping from 28 February would
leave every later payment on the 28th.
"""

from datetime import date

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap_year(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by whole calendar months; a day that the month lacks becomes the month's last day."""
    year, month_index = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(anchor.day, days_in_month(year, month)))


def months_and_days(start: date, end: date) -> tuple[int, int]:
    """Whole months from ``start`` to ``end`` (counted from ``start`` like due dates are), then the days left over.

    ``months_and_days(date(2025, 1, 31), date(2025, 2, 28)) == (1, 0)``: the February due date of a loan drawn on
    31 January is exactly one month after the start, as the schedule says.
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    months = max(months, 0)
    return months, (end - add_months(start, months)).days
