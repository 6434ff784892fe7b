"""What the API's list filters share: a refused value names the values allowed, as every other 400 does."""

import django_filters
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


def _invalid_choice(choices) -> dict:
    allowed = ", ".join(str(value) for value, _label in choices)
    # ``%(value)s`` is filled in by the form field; the allowed values are fixed here, once.
    return {
        "invalid_choice": format_lazy(_("“%(value)s” is not one of the allowed values: {allowed}."), allowed=allowed)
    }


def states_filter(choices, **kwargs) -> django_filters.MultipleChoiceFilter:
    """One or more of ``choices`` (``?state=a&state=b``); anything else is a 400 listing the allowed values."""
    return django_filters.MultipleChoiceFilter(
        choices=choices,
        error_messages=_invalid_choice(choices),
        help_text=kwargs.pop("help_text", "One or more states (repeat the parameter)."),
        **kwargs,
    )


def choice_filter(choices, **kwargs) -> django_filters.ChoiceFilter:
    """One of ``choices``; anything else is a 400 listing the allowed values."""
    return django_filters.ChoiceFilter(choices=choices, error_messages=_invalid_choice(choices), **kwargs)
