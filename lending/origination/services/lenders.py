"""Who lends: the platform alone, or the platform with partner banks that co-fund the loan.

Lending does not know the partners (they are a higher layer): it asks through one hook, ``CoLending``, which the
partners app registers when it is ready. With no hook registered every loan is the platform's alone, as before.

The hook is asked twice:

* when the merchant accepts an offer (inside that transaction): ``offer`` opens the partners' offers and answers
  True when the lenders must now be awaited. The contract is then made only once the partners have answered and
  the hook calls ``application_lenders_settle`` with every lender and its share, so the contract names them all
  and the merchant never signs twice because a partner changed its mind;
* when the loan is booked at payout (inside that transaction): ``loan_booked`` records the loan's shares and
  returns each partner's funding leg, the amount debited from its funding account for the payout.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from core.transactions import task_on_commit
from lending.origination.models import ApplicationState, LoanApplication

if TYPE_CHECKING:
    from lending.servicing.models import Loan

PLATFORM = "platform"
SHARE_PLACES = Decimal("0.0001")


class LendersError(ValidationError):
    """The lenders handed in break a rule every co-funded loan keeps; the message says which."""


class LendersConflict(StateConflict):
    """The application is not waiting for its lenders (it moved on, or they were settled already)."""


@dataclass(frozen=True, slots=True)
class Lender:
    """One lender of a loan and its share of the principal (a fraction, 0.7000 is 70 %)."""

    code: str
    legal_name_zh: str
    legal_name_en: str
    share: Decimal

    def as_terms(self) -> dict[str, str]:
        return {
            "code": self.code,
            "legal_name_zh": self.legal_name_zh,
            "legal_name_en": self.legal_name_en,
            "share": f"{self.share:.4f}",
            "share_percent": f"{self.share * 100:.2f}",
        }


@dataclass(frozen=True, slots=True)
class FundingLeg:
    """What one partner puts into a payout: debited from its funding account at the rail."""

    lender: str
    amount: Decimal
    account_number: str
    account_name: str
    bank_name: str

    def as_dict(self) -> dict[str, str]:
        return {
            "lender": self.lender,
            "amount": f"{self.amount:.2f}",
            "account_number": self.account_number,
            "account_name": self.account_name,
            "bank_name": self.bank_name,
        }


class CoLending(Protocol):
    def offer(self, *, application: LoanApplication) -> bool:
        """Open partner offers for an application just accepted; True when its lenders must now be awaited."""

    def loan_booked(self, *, loan: Loan, application: LoanApplication) -> list[FundingLeg]:
        """Record the shares of a loan just booked; each partner's part of the payout."""


_hook: CoLending | None = None


def co_lending_register(hook: CoLending | None) -> None:
    """Install the co-lending hook (the partners app does, when it is ready); None removes it."""
    global _hook
    _hook = hook


def co_lending() -> CoLending | None:
    return _hook


def lenders_open(*, application: LoanApplication) -> bool:
    """At acceptance, inside its transaction: True when partners were offered the loan and must answer first.

    Otherwise the platform lends alone and the lenders are settled at once.
    """
    if _hook is not None and _hook.offer(application=application):
        return True
    # Part of the acceptance, whose audit row already records the change: no second row for the same step.
    _settle(application, [], by=None, reason="", audit=False)
    return False


def application_lenders_settle(
    *, application: LoanApplication, partners: list[Lender], by: Any = None, reason: str = ""
) -> LoanApplication:
    """Settle who lends an accepted application, then ask for its contract (the partners app calls this).

    ``partners`` are the partner banks that accepted, with their shares; the platform takes the rest. Invariants:
    only an accepted application whose lenders are not yet settled; every share positive, the platform's share
    positive and the shares summing to exactly 1 (the partners app enforces its agreements' stricter rules).
    """
    with transaction.atomic():
        locked = LoanApplication.objects.select_for_update(of=("self",)).get(pk=application.pk)
        if locked.state != ApplicationState.ACCEPTED or locked.lenders_settled_at is not None:
            raise LendersConflict(
                _("The lenders of an accepted offer are settled once; this application is %(state)s.")
                % {"state": locked.get_state_display()},
                code="lenders_settled",
            )
        _settle(locked, partners, by=by, reason=reason)
        task_on_commit("lending.origination.tasks.contract_prepare_task", locked.pk)
    return locked


def _settle(application: LoanApplication, partners: list[Lender], *, by: Any, reason: str, audit: bool = True) -> None:
    codes = [lender.code for lender in partners]
    if PLATFORM in codes or len(set(codes)) != len(codes):
        raise LendersError(_("Each partner lends once, and the platform's share is what the partners leave."))
    if any(lender.share <= 0 or lender.share != lender.share.quantize(SHARE_PLACES) for lender in partners):
        raise LendersError(_("A partner's share must be a positive fraction with at most four decimal places."))
    platform_share = Decimal(1) - sum((lender.share for lender in partners), Decimal(0))
    if platform_share <= 0:
        raise LendersError(_("The partners' shares leave nothing to the platform; the platform always lends."))
    lenders = [
        Lender(
            code=PLATFORM,
            legal_name_zh=str(settings.PLATFORM_LEGAL_NAME),
            legal_name_en=str(settings.PLATFORM_LEGAL_NAME),
            share=platform_share,
        ),
        *partners,
    ]
    application.lenders = [lender.as_terms() for lender in lenders]
    application.lenders_settled_at = timezone.now()
    application.save(update_fields=["lenders", "lenders_settled_at", "updated_at"])
    if not audit:
        return
    audit_record(
        subject=application,
        action="application.lenders_settle",
        by=by,
        from_state=application.state,
        to_state=application.state,
        reason=reason,
        data={"lenders": application.lenders},
    )


def funding_legs(*, loan: Loan, application: LoanApplication) -> list[FundingLeg]:
    """At booking, inside its transaction: each partner's part of the payout (none when the platform lends alone).

    Invariant (fails closed): the partners' legs are positive and leave the platform a positive part of the payout.
    """
    if _hook is None or len(application.lenders) <= 1:
        return []
    legs = _hook.loan_booked(loan=loan, application=application)
    total = sum((leg.amount for leg in legs), Decimal(0))
    if any(leg.amount <= 0 for leg in legs) or total >= loan.net_disbursement:
        raise LendersError(
            _("The partners' parts of the payout (%(total)s) must be positive and less than the payout.")
            % {"total": f"{total:.2f}"}
        )
    return legs
