"""Template filters for amounts, written as ``core.formatting`` writes them everywhere else.

``{{ value|money }}``: "¥50,000.00" in English, "50,000.00 元" in Chinese (an amount in a sentence or a card);
``{{ value|amount }}``: "50,000.00" (a table's column whose heading names the currency);
``{{ items|listing }}``: "a, b" in English, "a、b" in Chinese.
"""

from django import template

from core import formatting

register = template.Library()


@register.filter
def money(value) -> str:
    if value in (None, ""):
        return formatting.EMPTY
    return formatting.money(value)


@register.filter
def amount(value) -> str:
    if value in (None, ""):
        return formatting.EMPTY
    return formatting.amount(value)


@register.filter
def listing(items) -> str:
    return formatting.listing(items or [])
