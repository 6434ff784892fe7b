"""Exposure limits for the demo, sized on the book the demo's history left, so the back office shows them at work.

Set once (a database that has limits already keeps them), through the same maker-checker services a risk manager
uses: the demo's risk manager proposes each, the administrator activates it. Every limit leaves room (at most 60 %
used), except one industry's, set at 93 % of what is committed there: the one near breach the dashboard shows.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from risk.models import ExposureLimit, LimitKind
from risk.selectors.limits import PLATFORM, LimitUse, committed_by, limits_utilisation, partner_exposure
from risk.services.limits import limit_propose, limit_version_activate

K = LimitKind
ROOMY = Decimal("0.60")
NEAR = Decimal("0.93")


def _up(amount: Decimal, *, step: int) -> Decimal:
    """``amount`` up to a whole ``step`` yuan: what a risk manager would write."""
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def _largest(totals: dict[str, Decimal], *, besides: str = "") -> tuple[str, Decimal] | None:
    candidates = [(key, value) for key, value in totals.items() if key and key != besides and value > 0]
    return max(candidates, key=lambda item: (item[1], item[0])) if candidates else None


def limits_demo_seed(*, proposer: Any, checker: Any, spared_industry: str = "") -> list[LimitUse] | None:
    """Put the demo's limits in force; None when limits exist already or there is no book to size them on.

    ``spared_industry`` (the signed-in demo merchant's) is not the one near its limit, so trying the merchant's
    journey is not referred by it.
    """
    if ExposureLimit.objects.exists():
        return None
    portfolio = committed_by(K.PORTFOLIO)[""]
    if portfolio <= 0:
        return None
    plans: list[tuple[str, str, Decimal | None, Decimal | None, str]] = [
        (K.PORTFOLIO, "", _up(portfolio / ROOMY, step=100_000), None, "The board's appetite for the whole book.")
    ]
    industry = _largest(committed_by(K.INDUSTRY), besides=spared_industry)
    if industry is not None:
        key, committed = industry
        plans.append(
            (K.INDUSTRY, key, _up(committed / NEAR, step=1), None, "Concentration in our largest trade, held level.")
        )
    if (province := _largest(committed_by(K.PROVINCE))) is not None:
        plans.append((K.PROVINCE, province[0], _up(province[1] / ROOMY, step=100_000), None, "Regional concentration."))
    if (city := _largest(committed_by(K.CITY))) is not None:
        # A share of the portfolio: the city's share today, with room to grow to about twice it (at most all).
        share = min(_up(city[1] * 100 / portfolio / ROOMY, step=1), Decimal(100))
        plans.append((K.CITY, city[0], None, share, "No city may carry too large a share of the book."))
    for code, committed in committed_by(K.PRODUCT).items():
        if committed > 0:
            plans.append((K.PRODUCT, code, _up(committed / ROOMY, step=100_000), None, "Product appetite."))
    for code, committed in partner_exposure(K.LENDER, stage="approval").items():
        if committed > 0:
            reason = "The platform's own balance sheet." if code == PLATFORM else "The partner's co-lending line."
            plans.append((K.LENDER, code, _up(committed / ROOMY, step=100_000), None, reason))
    for kind, key, amount, share, reason in plans:
        version = limit_propose(kind=kind, key=key, amount=amount, share_percent=share, reason=reason, by=proposer)
        limit_version_activate(version=version, by=checker, note="Demo data: reviewed and activated.")
    return limits_utilisation()


__all__ = ["limits_demo_seed"]
