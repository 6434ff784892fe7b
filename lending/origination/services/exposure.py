"""The seam through which a higher layer (the risk firewall) keeps lending inside its exposure limits.

Lending cannot import the apps above it, so it exposes this registry and the firewall registers itself in its
``AppConfig.ready()``. Lending asks at three moments, always inside its own transaction with the application row
locked:

- before the engine decides, for the headroom under each limit (``exposure_headroom``), which caps the credit line;
- at approval, automated or by an officer (``exposure_approval_hits``): a limit hit turns an automated approval into
  a referral, and refuses an officer's approval, each with a reason naming the limit;
- at payout (``exposure_payout_hits``): a hit holds the payout (``exposure_payout_hold``) until room returns; a
  payout that passes releases any hold (``exposure_payout_clear``).

A checker locks the limits it reads and counts the candidate in, so two approvals or payouts racing for the room
of one cannot both pass. With no checker registered (the firewall is not installed) nothing is limited and lending
proceeds as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from underwriting.engine.decision import Exposures

if TYPE_CHECKING:
    from lending.origination.models import LoanApplication


@dataclass(frozen=True, slots=True)
class LimitHit:
    """One limit the candidate would exceed, said in both languages so that either reader gets it verbatim."""

    code: str  # e.g. "limit.industry.H6210": stable, for the audit trail and tests
    kind: str
    limit: Decimal
    exposure: Decimal  # with the candidate counted in
    message_en: str
    message_zh: str

    def as_reason(self) -> dict:
        """In the shape of the decision's reasons, for the audit trail and the officer's pages."""
        return {
            "code": self.code,
            "kind": "limit",
            "feature": "",
            "points_lost": None,
            "message_en": self.message_en,
            "message_zh": self.message_zh,
        }


class ExposureChecker(Protocol):
    def headroom(self, *, application: LoanApplication) -> Exposures: ...

    def approval_hits(self, *, application: LoanApplication, amount: Decimal) -> list[LimitHit]: ...

    def payout_hits(self, *, application: LoanApplication, amount: Decimal) -> list[LimitHit]: ...

    def payout_hold(self, *, application: LoanApplication, hits: list[LimitHit], by: Any) -> None: ...

    def payout_clear(self, *, application: LoanApplication, by: Any) -> None: ...


_checkers: list[ExposureChecker] = []


def exposure_checker_register(checker: ExposureChecker) -> None:
    """Register a checker once (a second registration of the same one is ignored: ``ready()`` may run twice)."""
    if checker not in _checkers:
        _checkers.append(checker)


def exposure_checkers() -> tuple[ExposureChecker, ...]:
    return tuple(_checkers)


def exposure_headroom(*, application: LoanApplication) -> Exposures:
    """The least headroom any checker gives under each name; None where no checker limits it."""
    lowest: dict[str, Decimal] = {}
    for checker in _checkers:
        for name, value in checker.headroom(application=application).caps().items():
            lowest[name] = min(value, lowest.get(name, value))
    return Exposures(**lowest)


def exposure_approval_hits(*, application: LoanApplication, amount: Decimal) -> list[LimitHit]:
    return [hit for checker in _checkers for hit in checker.approval_hits(application=application, amount=amount)]


def exposure_payout_hits(*, application: LoanApplication, amount: Decimal) -> list[LimitHit]:
    return [hit for checker in _checkers for hit in checker.payout_hits(application=application, amount=amount)]


def exposure_payout_hold(*, application: LoanApplication, hits: list[LimitHit], by: Any) -> None:
    for checker in _checkers:
        checker.payout_hold(application=application, hits=hits, by=by)


def exposure_payout_clear(*, application: LoanApplication, by: Any) -> None:
    for checker in _checkers:
        checker.payout_clear(application=application, by=by)


def hits_summary(hits: list[LimitHit], *, language: str = "en") -> str:
    """The hits as one line, in English (the audit trail's language) or Chinese."""
    return "; ".join(hit.message_zh if language.startswith("zh") else hit.message_en for hit in hits)


__all__ = [
    "ExposureChecker",
    "LimitHit",
    "exposure_approval_hits",
    "exposure_checker_register",
    "exposure_checkers",
    "exposure_headroom",
    "exposure_payout_clear",
    "exposure_payout_hits",
    "exposure_payout_hold",
    "hits_summary",
]
