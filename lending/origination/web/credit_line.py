"""The credit line on the application screens: the same figure as the dashboard's (``merchant_credit_line``), and
what happens to an amount above it, said on the amount screen before anything is submitted.

Above what is left of the pre-approved line an application is not approved automatically. What happens to it then
is the ``amount-within-line`` policy rule's outcome (a risk manager sets it): referred to an officer, who may offer
the line instead, or declined.
"""

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from core.formatting import money
from lending.servicing.selectors.overview import CreditLine
from underwriting.choices import Outcome, RuleKind
from underwriting.selectors.decisions import policy_rules_active


def _amount(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _declined_above_line() -> bool:
    return any(
        rule.kind == RuleKind.AMOUNT_WITHIN_LINE and rule.outcome == Outcome.DECLINE for rule in policy_rules_active()
    )


def above_line_message(*, line: CreditLine | None, amount: object) -> str:
    """What the amount screen says when ``amount`` is above what the merchant can borrow now; "" when it is not.

    ``amount`` is what was typed; the placeholder ``{amount}`` is kept as it is, for the page's script to fill in.
    """
    if line is None or line.available is None:
        return ""
    shown = "{amount}" if amount == "{amount}" else None
    if shown is None:
        value = _amount(amount)
        if value is None or value <= line.available:
            return ""
        shown = money(value)
    if line.available <= 0:
        return _(
            "Nothing is pre-approved for you now (your dashboard says why), so %(amount)s is not approved "
            "automatically: an officer reviews the application within one working day."
        ) % {"amount": shown}
    if _declined_above_line():
        return _(
            "%(amount)s is above the %(line)s you can borrow now: an application above it is declined. Ask for "
            "%(line)s or less."
        ) % {"amount": shown, "line": money(line.available)}
    return _(
        "%(amount)s is above the %(line)s you can borrow now. You can still apply: it is not approved automatically "
        "but reviewed by an officer within one working day, who may offer up to %(line)s instead."
    ) % {"amount": shown, "line": money(line.available)}


__all__ = ["above_line_message"]
