"""Paying a loan out: the bank-rail interface the funding service talks to, and the simulated rail it uses by default.

A rail is any object with ``send`` and ``query`` (``PayoutAdapter``). The service gives every payout one idempotency
key that never changes, so sending it again (after a timeout, a crash, a retry) can never pay twice: the rail keeps
one transfer per key and answers a repeated key with the first transfer.

- ``send(...)`` returns a ``PayoutResult`` or raises ``PayoutFailed`` (the rail refused: nothing was paid, e.g. the
  account is closed) or ``PayoutTimeout`` (no answer: the money may or may not have moved; ask ``query`` later).
- ``query(idempotency_key=...)`` returns what the rail did under that key, or None when it has no transfer for it.

The rail in use is ``settings.PAYOUT_ADAPTER`` (a dotted path; ``SimulatedBankRail`` by default).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Protocol
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from lending.servicing.models import SimulatedTransfer

DEFAULT_PAYOUT_ADAPTER = "lending.servicing.services.rails.SimulatedBankRail"


class PayoutStatus:
    SUCCEEDED = "succeeded"
    # Accepted by the rail but not settled yet; the reconcile job asks again later.
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    reference: str
    status: str = PayoutStatus.SUCCEEDED
    # Why the rail refused it, when ``status`` is failed (a query can find a failed transfer).
    error: str = ""


class PayoutError(Exception):
    """Base of the rail's errors."""


class PayoutFailed(PayoutError):  # noqa: N818 - named for the outcome the caller handles
    """The rail refused the payout for good (account closed, name mismatch): nothing was paid."""


class PayoutTimeout(PayoutError):  # noqa: N818 - named for the outcome, as PayoutFailed
    """The rail did not answer in time: the outcome is unknown until ``query`` says."""


class PayoutAdapter(Protocol):
    def send(
        self, *, idempotency_key: UUID, amount: Decimal, account_number: str, account_name: str, bank_name: str
    ) -> PayoutResult: ...

    def query(self, *, idempotency_key: UUID) -> PayoutResult | None: ...


def payout_adapter() -> PayoutAdapter:
    """The rail named by ``settings.PAYOUT_ADAPTER``, read on each call so tests and deployments can switch it."""
    return import_string(getattr(settings, "PAYOUT_ADAPTER", DEFAULT_PAYOUT_ADAPTER))()


class SimulatedBankRail:
    """A bank rail that pays into a table: one ``SimulatedTransfer`` per idempotency key, as a real rail keeps.

    What it does is set by ``settings.PAYOUT_SIMULATION``, or by the class attribute ``mode`` (which wins when set):

    - ``"ok"``: pays (once per key) and answers with the transfer's reference;
    - ``"fail"``: refuses with ``PayoutFailed`` and pays nothing;
    - ``"timeout"``: answers ``PayoutTimeout`` without paying;
    - ``"timeout_after_paying"``: pays, then answers ``PayoutTimeout`` — the case only ``query`` can resolve.
    """

    MODES = ("ok", "fail", "timeout", "timeout_after_paying")
    mode: ClassVar[str | None] = None

    def _mode(self) -> str:
        mode = type(self).mode or getattr(settings, "PAYOUT_SIMULATION", "ok")
        if mode not in self.MODES:
            raise ValueError(f"PAYOUT_SIMULATION must be one of {', '.join(self.MODES)}; it is {mode!r}.")
        return mode

    def send(
        self, *, idempotency_key: UUID, amount: Decimal, account_number: str, account_name: str, bank_name: str
    ) -> PayoutResult:
        mode = self._mode()
        if mode == "fail":
            raise PayoutFailed(f"The receiving bank ({bank_name}) refused the transfer: the account is closed.")
        if mode == "timeout":
            raise PayoutTimeout("The bank did not answer within the time limit.")
        # Its own transaction: a rail's ledger commits whatever becomes of the caller's (it never is inside one,
        # but a test's is). get_or_create on the unique key makes a second send with the same key pay nothing.
        with transaction.atomic():
            transfer, _created = SimulatedTransfer.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={
                    "reference": _new_reference(),
                    "amount": amount,
                    "account_number": account_number,
                    "account_name": account_name,
                },
            )
        if mode == "timeout_after_paying":
            raise PayoutTimeout("The bank paid but its answer was lost on the way back.")
        return PayoutResult(reference=transfer.reference, status=PayoutStatus.SUCCEEDED)

    def query(self, *, idempotency_key: UUID) -> PayoutResult | None:
        transfer = SimulatedTransfer.objects.filter(idempotency_key=idempotency_key).first()
        if transfer is None:
            return None
        return PayoutResult(reference=transfer.reference, status=PayoutStatus.SUCCEEDED)


def _new_reference() -> str:
    return f"SIM{timezone.now():%Y%m%d}{secrets.token_hex(8).upper()}"


__all__ = [
    "DEFAULT_PAYOUT_ADAPTER",
    "PayoutAdapter",
    "PayoutError",
    "PayoutFailed",
    "PayoutResult",
    "PayoutStatus",
    "PayoutTimeout",
    "SimulatedBankRail",
    "payout_adapter",
]
