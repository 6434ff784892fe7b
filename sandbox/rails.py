"""The sandbox's bank and settlement platform, behind the same interfaces as the real ones.

Payouts (``SandboxPayoutRail``): what happens is set by ``settings.PAYOUT_SIMULATION`` or the class attribute
``mode`` (which wins when set): ``ok`` pays once per key; ``fail`` refuses; ``timeout`` answers nothing and pays
nothing; ``timeout_after_paying`` pays and loses the answer, the case only ``query`` resolves. A co-funded payout
also debits each lender's funding account (one ``funding`` transfer per lender, the platform's being the payout less
the partners' legs), each keyed by ``funding_leg_key`` so a payout sent again debits nobody twice.

Collections (``SandboxCollectionRail``): a request is recorded as pending, like a withholding waiting for the next
settlement. It is settled by the platform's callback, signed as the real platform signs it, delivered through the
same verification as the HTTP endpoint (``sandbox.services.sandbox_collection_settle``): by an officer in the back
office (*Sandbox transfers*, actions "money arrives" and "refused"), or at once after the request commits when
``settings.SANDBOX_COLLECTION_OUTCOME`` is ``confirm`` or ``fail`` (``manual``, the default, waits for the officer).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.transactions import task_on_commit
from lending.servicing.services.rails import (
    CollectionAnswer,
    CollectionStatus,
    PayoutFailed,
    PayoutResult,
    PayoutStatus,
    PayoutTimeout,
    RailRefused,
)
from sandbox.models import SandboxTransfer

OUTCOMES = ("manual", "confirm", "fail")
# The sandbox bank's name for the platform's own lending account, debited for the platform's part of a payout.
PLATFORM_FUNDING_ACCOUNT = "PLATFORM-OWN-FUNDS"


class SandboxPayoutRail:
    MODES = ("ok", "fail", "timeout", "timeout_after_paying")
    mode: ClassVar[str | None] = None

    def _mode(self) -> str:
        mode = type(self).mode or getattr(settings, "PAYOUT_SIMULATION", "ok")
        if mode not in self.MODES:
            raise ValueError(f"PAYOUT_SIMULATION must be one of {', '.join(self.MODES)}; it is {mode!r}.")
        return mode

    def send(
        self,
        *,
        idempotency_key: UUID,
        amount: Decimal,
        account_number: str,
        account_name: str,
        bank_name: str,
        funding_legs: Sequence[dict[str, str]] = (),
    ) -> PayoutResult:
        mode = self._mode()
        if mode == "fail":
            raise PayoutFailed(f"The receiving bank ({bank_name}) refused the transfer: the account is closed.")
        if mode == "timeout":
            raise PayoutTimeout("The bank did not answer within the time limit.")
        # Its own transaction: a rail's ledger commits whatever becomes of the caller's (it never is inside one,
        # but a test's is). get_or_create on the unique key makes a second send with the same key pay nothing.
        with transaction.atomic():
            transfer, _created = SandboxTransfer.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={
                    "kind": SandboxTransfer.Kind.PAYOUT,
                    "reference": _new_reference("SIM"),
                    "amount": amount,
                    "account_number": account_number,
                    "account_name": account_name,
                    "status": SandboxTransfer.Status.SETTLED,
                    "settled_at": timezone.now(),
                },
            )
            if funding_legs:
                _debit_funding_accounts(idempotency_key=idempotency_key, amount=amount, funding_legs=funding_legs)
        if mode == "timeout_after_paying":
            raise PayoutTimeout("The bank paid but its answer was lost on the way back.")
        return PayoutResult(reference=transfer.reference, status=PayoutStatus.SUCCEEDED)

    def query(self, *, idempotency_key: UUID) -> PayoutResult | None:
        transfer = SandboxTransfer.objects.filter(
            idempotency_key=idempotency_key, kind=SandboxTransfer.Kind.PAYOUT
        ).first()
        if transfer is None:
            return None
        return PayoutResult(reference=transfer.reference, status=PayoutStatus.SUCCEEDED)


class SandboxCollectionRail:
    outcome: ClassVar[str | None] = None

    def _outcome(self) -> str:
        outcome = type(self).outcome or getattr(settings, "SANDBOX_COLLECTION_OUTCOME", "manual")
        if outcome not in OUTCOMES:
            raise ValueError(f"SANDBOX_COLLECTION_OUTCOME must be one of {', '.join(OUTCOMES)}; it is {outcome!r}.")
        return outcome

    def request(
        self, *, idempotency_key: UUID, amount: Decimal, account_number: str, account_name: str, bank_name: str
    ) -> CollectionAnswer:
        outcome = self._outcome()
        if not account_number.strip():
            raise RailRefused("The merchant has no settlement account to withhold from.")
        with transaction.atomic():
            transfer, created = SandboxTransfer.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={
                    "kind": SandboxTransfer.Kind.COLLECTION,
                    "reference": _new_reference("COL"),
                    "amount": amount,
                    "account_number": account_number,
                    "account_name": account_name,
                },
            )
            if created and outcome != "manual":
                task_on_commit("sandbox.tasks.sandbox_collection_settle_task", transfer.pk, outcome == "confirm")
        if transfer.amount != amount:
            raise RailRefused("This idempotency key was used for another amount.")
        return _answer(transfer)

    def query(self, *, idempotency_key: UUID) -> CollectionAnswer | None:
        transfer = SandboxTransfer.objects.filter(
            idempotency_key=idempotency_key, kind=SandboxTransfer.Kind.COLLECTION
        ).first()
        return _answer(transfer) if transfer is not None else None


def _answer(transfer: SandboxTransfer) -> CollectionAnswer:
    status = {
        SandboxTransfer.Status.PENDING: CollectionStatus.PENDING,
        SandboxTransfer.Status.SETTLED: CollectionStatus.CONFIRMED,
        SandboxTransfer.Status.FAILED: CollectionStatus.FAILED,
    }[transfer.status]
    return CollectionAnswer(
        reference=transfer.reference,
        status=status,
        amount=transfer.amount,
        settled_on=timezone.localdate(transfer.settled_at) if transfer.settled_at else None,
        error=transfer.failure_reason,
    )


def funding_leg_key(*, payout_key: UUID, lender: str) -> UUID:
    """A funding leg's own idempotency key: the same payout and lender always give the same key."""
    return uuid.uuid5(payout_key, f"funding:{lender}")


def _debit_funding_accounts(*, idempotency_key: UUID, amount: Decimal, funding_legs: Sequence[dict[str, str]]) -> None:
    """Debit each lender's funding account for a co-funded payout: each partner's leg, and the platform's own part
    (the payout less the partners' legs). Keyed per payout and lender, so a payout sent again debits nothing twice."""
    partners = sum((Decimal(leg["amount"]) for leg in funding_legs), Decimal("0.00"))
    legs = [
        {
            "lender": "platform",
            "amount": amount - partners,
            "account_number": PLATFORM_FUNDING_ACCOUNT,
            "account_name": str(settings.PLATFORM_LEGAL_NAME),
        },
        *({**leg, "amount": Decimal(leg["amount"])} for leg in funding_legs),
    ]
    for leg in legs:
        SandboxTransfer.objects.get_or_create(
            idempotency_key=funding_leg_key(payout_key=idempotency_key, lender=leg["lender"]),
            defaults={
                "kind": SandboxTransfer.Kind.FUNDING,
                "reference": _new_reference("FND"),
                "amount": leg["amount"],
                "account_number": leg["account_number"],
                "account_name": leg["account_name"],
                "lender": leg["lender"],
                "payout_key": idempotency_key,
                "status": SandboxTransfer.Status.SETTLED,
                "settled_at": timezone.now(),
            },
        )


def _new_reference(prefix: str) -> str:
    return f"{prefix}{timezone.now():%Y%m%d}{secrets.token_hex(8).upper()}"


__all__ = ["OUTCOMES", "SandboxCollectionRail", "SandboxPayoutRail", "funding_leg_key"]
