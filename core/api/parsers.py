"""The API's JSON parser: DRF's, plus limits on what a body may be before any view sees it.

Python's JSON decoder recurses once per nesting level, so a body nested a few thousand levels deep raises
``RecursionError`` (a 500 from DRF's parser), and a shallower one still costs every serializer a deep walk. No
operation takes more than a few levels, so anything deeper than ``MAX_DEPTH`` is refused as a parse error. A NUL
character in any string or key is refused here too, naming the top-level field it sits in: PostgreSQL cannot
store one, and a lookup with one raises instead of finding nothing.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

MAX_DEPTH = 32
NUL_MESSAGE = _("Null characters are not allowed.")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_too_deep()) from exc
        _check(data)
        return data


def _too_deep() -> str:
    return str(_("The JSON is nested too deeply (more than %(depth)d levels).") % {"depth": MAX_DEPTH})


def _has_nul(value) -> bool:
    """Whether ``value`` or anything inside it (keys included) holds a NUL; raises ParseError when too deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(_too_deep())
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return True
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return False


def _check(data) -> None:
    if isinstance(data, dict):
        # Depth first for the whole body, so a deep body is always a parse error whatever else it holds.
        _has_nul(list(data.values()))
        bad = [key for key, value in data.items() if "\x00" in key or _has_nul(value)]
        if bad:
            raise ValidationError({key: [NUL_MESSAGE] for key in bad})
    elif _has_nul(data):
        raise ValidationError({"non_field_errors": [NUL_MESSAGE]})
