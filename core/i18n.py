"""Text stored in one language, shown in the reader's: notices are kept as they were written (a record of what the
merchant was told, in the language of the moment), and read in whichever language the reader has now.

``in_current_language(text)`` finds the catalogue message the text was made from, in English or in Chinese, takes
the values that were put into it, and writes the same message in the active language. The values are read the same
way, so a reason inside a message changes language too; an amount (``¥300,000.00`` or ``300,000.00 元``) is written
the way the reader's language writes amounts. Text made from no single message (or edited) is shown as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils import translation
from django.utils.translation import gettext_noop, trans_real

from core.formatting import money

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")
_AMOUNT = re.compile(r"^(?:¥\s?(?P<prefixed>[0-9][0-9,]*\.[0-9]{2})|(?P<suffixed>[0-9][0-9,]*\.[0-9]{2}) ?元)$")
# Index messages by the first characters of their text: only those few are tried against a stored text.
_KEY_LENGTH = 4
# A value inside a message may itself be a message (a reason inside a notice); no deeper than this.
_DEPTH = 2
# A message that fixes less text than this ("%(name)s, %(amount)s") would match almost anything: never guessed from.
_MIN_LITERAL = 5
# Messages the portal no longer writes but that rows stored by earlier versions hold (notices sent to merchants, a
# payout's failure, a training report's reasons): kept in the catalogue (``makemessages`` finds them here) so those
# rows still read in either language. Drop one only when no stored row can hold it.
RETIRED_MESSAGES = (
    gettext_noop(
        "%(amount)s yuan has been paid into your account %(account)s at %(bank)s. Your first repayment of "
        "%(payment)s yuan is due on %(due)s."
    ),
    gettext_noop(
        "%(amount)s yuan was due on %(due)s and is now more than %(days)s day(s) late. Late fees are charged by your "
        "contract's terms; please pay now from your loan page or contact us."
    ),
    gettext_noop("The offer cannot be priced from today: %(detail)s"),
    gettext_noop("the category %(category)s is longer than %(max)d characters, the most a bin holds"),
)


@dataclass(frozen=True, slots=True)
class _Message:
    pattern: re.Pattern
    literal_length: int  # how much of the text the message fixes: the longest match is the most specific
    english: str
    chinese: str


def _pattern(template: str) -> tuple[re.Pattern, int] | None:
    parts, names, literal, position = [], set(), 0, 0
    for match in _PLACEHOLDER.finditer(template):
        text = template[position : match.start()]
        parts.append(re.escape(text))
        literal += len(text)
        if match.group(0) == "%%":
            parts.append("%")
            literal += 1
        elif match.group(1) in names:
            parts.append(f"(?P={match.group(1)})")
        else:
            names.add(match.group(1))
            parts.append(f"(?P<{match.group(1)}>.+?)")
        position = match.end()
    rest = template[position:]
    parts.append(re.escape(rest))
    literal += len(rest)
    if literal < _MIN_LITERAL:
        return None
    return re.compile("".join(parts), flags=re.S), literal


def _key(text: str) -> str | None:
    match = _PLACEHOLDER.search(text)
    lead = text[: match.start()] if match else text
    return lead[:_KEY_LENGTH] if len(lead) >= _KEY_LENGTH else None


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, list[_Message]], list[_Message]]:
    """Every translated message of the catalogue, indexed by the start of its English and of its Chinese text."""
    catalogue = trans_real.translation("zh-hans")._catalog
    by_key: dict[str, list[_Message]] = {}
    unkeyed: list[_Message] = []
    for english, chinese in catalogue.items():
        if not isinstance(english, str) or not english or not chinese or english == chinese:
            continue
        for template in (english, chinese):
            built = _pattern(template)
            if built is None:
                continue
            message = _Message(pattern=built[0], literal_length=built[1], english=english, chinese=chinese)
            key = _key(template)
            if key is None:
                unkeyed.append(message)
            else:
                by_key.setdefault(key, []).append(message)
    return by_key, unkeyed


def _value(text: str, chinese: bool, depth: int) -> str:
    amount = _AMOUNT.match(text.strip())
    if amount:
        try:
            return money(Decimal((amount["prefixed"] or amount["suffixed"]).replace(",", "")))
        except InvalidOperation:
            return text
    return _translated(text, chinese, depth + 1) if depth < _DEPTH else text


def _translated(text: str, chinese: bool, depth: int = 0) -> str:
    by_key, unkeyed = _index()
    best: tuple[_Message, dict[str, str]] | None = None
    for message in [*by_key.get(text[:_KEY_LENGTH], ()), *unkeyed]:
        match = message.pattern.fullmatch(text)
        if match and (best is None or message.literal_length > best[0].literal_length):
            best = (message, match.groupdict())
    if best is None:
        return text
    message, values = best
    template = _PLACEHOLDER.sub(
        lambda found: "%%" if found.group(0) == "%%" else f"%({found.group(1)})s",
        message.chinese if chinese else message.english,
    )
    try:
        return template % {name: _value(value, chinese, depth) for name, value in values.items()}
    except (KeyError, TypeError, ValueError):
        return text


def in_current_language(text: str) -> str:
    """``text`` (written in English or Chinese from one catalogue message) in the active language."""
    if not text:
        return text
    return _translated(text, chinese=(translation.get_language() or "").startswith("zh"))


__all__ = ["in_current_language"]
