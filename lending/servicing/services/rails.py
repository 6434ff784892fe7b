"""The rails money moves on: payouts to the merchant, and collections from the merchant's settlements.

A rail is chosen by settings, a dotted path each: ``PAYOUT_ADAPTER`` (``send`` and ``query``, a ``PayoutAdapter``)
and ``COLLECTION_ADAPTER`` (``request`` and ``query``, a ``CollectionAdapter``). Production uses the payment
platform's own rails (``PlatformPayoutRail``, ``PlatformWithholdingRail``: a collection is withheld from the
merchant's next settlements, the way a payment platform collects); the demo and the tests use the sandbox app's,
which ``check --deploy`` refuses.

Every transfer carries one idempotency key of ours that never changes, so asking again (after a timeout, a crash, a
retry) can never move money twice: the rail keeps one transfer per key and answers a repeated key with the first.

- A payout settles in the answer, or the answer is lost (``PayoutTimeout``) and ``query`` says later.
- A collection is only *requested* by ``request``: the money arrives when the merchant's next settlement runs, and
  the rail says so by calling back (``POST /api/v1/rails/collections/callback/``, signed: see ``rail_signature``)
  or when the reconciliation job asks ``query``. Nothing is a payment until the rail says it is confirmed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import requests
from django.conf import settings
from django.utils.module_loading import import_string

# Errors.


class RailError(Exception):
    """Base of the rails' errors."""


class RailRefused(RailError):  # noqa: N818 - named for the outcome the caller handles
    """The rail refused for good (account closed, name mismatch, no settlements to withhold from): nothing moved."""


class RailNoAnswer(RailError):  # noqa: N818 - named for the outcome, as RailRefused
    """The rail did not answer in time: the outcome is unknown until ``query`` says."""


class PayoutFailed(RailRefused):
    """The bank refused the payout: nothing was paid."""


class PayoutTimeout(RailNoAnswer):
    """The bank did not answer the payout in time."""


# Payouts.


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


class PayoutAdapter(Protocol):
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
        """Pay ``amount`` to the account; a co-funded loan's ``funding_legs`` are debited from each partner's
        funding account for its part (``{"lender", "amount", "account_number", "account_name", "bank_name"}``),
        the platform's own account for the rest."""

    def query(self, *, idempotency_key: UUID) -> PayoutResult | None: ...


def payout_adapter() -> PayoutAdapter:
    """The rail named by ``settings.PAYOUT_ADAPTER``, read on each call so tests and deployments can switch it."""
    return import_string(settings.PAYOUT_ADAPTER)()


# Collections.


class CollectionStatus:
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    ALL = (PENDING, CONFIRMED, FAILED)


@dataclass(frozen=True, slots=True)
class CollectionAnswer:
    """What the rail says of a collection: pending, confirmed (the money is ours, on ``settled_on``) or failed."""

    reference: str
    status: str
    amount: Decimal | None = None
    settled_on: date | None = None
    error: str = ""


class CollectionAdapter(Protocol):
    def request(
        self, *, idempotency_key: UUID, amount: Decimal, account_number: str, account_name: str, bank_name: str
    ) -> CollectionAnswer: ...

    def query(self, *, idempotency_key: UUID) -> CollectionAnswer | None: ...


def collection_adapter() -> CollectionAdapter:
    """The rail named by ``settings.COLLECTION_ADAPTER``, read on each call."""
    return import_string(settings.COLLECTION_ADAPTER)()


# Signatures: the rail signs its callbacks, and we sign our requests to it, the same way.

TIMESTAMP_HEADER = "X-Rail-Timestamp"
SIGNATURE_HEADER = "X-Rail-Signature"


class RailSignatureInvalid(RailError):  # noqa: N818 - named for the outcome
    """A callback that is unsigned, signed with another secret, altered, or outside the replay window."""


def rail_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def rail_signed_headers(*, body: bytes, secret: str | None = None, now: float | None = None) -> dict[str, str]:
    """The two headers that sign ``body`` now (the current callback secret unless one is given)."""
    timestamp = str(int(time.time() if now is None else now))
    secret = settings.RAIL_CALLBACK_SECRET if secret is None else secret
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: rail_signature(secret=secret, timestamp=timestamp, body=body),
    }


def rail_signature_verify(
    *, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> None:
    """Accept a callback signed with the current (or, while rotating, the previous) secret within the window.

    Raises ``RailSignatureInvalid``. The window (``RAIL_CALLBACK_WINDOW_SECONDS``, both ways, for clock skew) bounds
    replays of a captured callback; within it a replay finds the collection already settled and changes nothing.
    """
    if not timestamp or not signature or not timestamp.isdigit():
        raise RailSignatureInvalid("The callback is not signed.")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > settings.RAIL_CALLBACK_WINDOW_SECONDS:
        raise RailSignatureInvalid("The callback's timestamp is outside the replay window.")
    secrets = [settings.RAIL_CALLBACK_SECRET, getattr(settings, "RAIL_CALLBACK_PREVIOUS_SECRET", "")]
    for secret in filter(None, secrets):
        expected = rail_signature(secret=secret, timestamp=timestamp, body=body)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise RailSignatureInvalid("The callback's signature does not match.")


# The payment platform's own rails, over its HTTPS API.


class _PlatformClient:
    """Signed JSON requests to the platform (``PLATFORM_RAIL_URL``), with one timeout; errors become rail errors."""

    def __init__(self) -> None:
        self.base_url = settings.PLATFORM_RAIL_URL.rstrip("/")
        self.secret = settings.PLATFORM_RAIL_SECRET
        self.timeout = settings.PLATFORM_RAIL_TIMEOUT_SECONDS

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
        body = json.dumps(payload, sort_keys=True).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json", **rail_signed_headers(body=body, secret=self.secret)}
        try:
            response = requests.request(
                method, f"{self.base_url}{path}", data=body or None, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RailNoAnswer(f"The platform did not answer: {exc.__class__.__name__}.") from exc
        if response.status_code == 404 and method == "GET":
            return None
        if 400 <= response.status_code < 500:
            raise RailRefused(_error_text(response))
        if response.status_code >= 500:
            raise RailNoAnswer(f"The platform answered {response.status_code}.")
        try:
            return response.json()
        except ValueError as exc:
            raise RailNoAnswer("The platform's answer was not JSON.") from exc


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error") or response.reason)
    except (ValueError, AttributeError):
        return response.reason or f"HTTP {response.status_code}"


class PlatformPayoutRail:
    """Payouts through the platform: ``POST /payouts/`` and ``GET /payouts/<key>/``."""

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
        payload = {
            "idempotency_key": str(idempotency_key),
            "amount": f"{amount:.2f}",
            "account_number": account_number,
            "account_name": account_name,
            "bank_name": bank_name,
            "funding_legs": list(funding_legs),
        }
        try:
            answer = _PlatformClient().call("POST", "/payouts/", payload)
        except RailRefused as exc:
            raise PayoutFailed(str(exc)) from exc
        except RailNoAnswer as exc:
            raise PayoutTimeout(str(exc)) from exc
        return _payout_result(answer)

    def query(self, *, idempotency_key: UUID) -> PayoutResult | None:
        try:
            answer = _PlatformClient().call("GET", f"/payouts/{idempotency_key}/")
        except RailNoAnswer as exc:
            raise PayoutTimeout(str(exc)) from exc
        return _payout_result(answer) if answer is not None else None


def _payout_result(answer: dict[str, Any] | None) -> PayoutResult:
    answer = answer or {}
    status = answer.get("status")
    if status not in (PayoutStatus.SUCCEEDED, PayoutStatus.PENDING, PayoutStatus.FAILED) or not answer.get("reference"):
        raise PayoutTimeout("The platform's answer names no reference or status.")
    return PayoutResult(reference=str(answer["reference"]), status=status, error=str(answer.get("error") or ""))


class PlatformWithholdingRail:
    """Collections withheld from the merchant's next settlements: ``POST /withholdings/``, ``GET /withholdings/<key>/``.

    The platform confirms or fails each withholding by calling back the signed endpoint once the settlement runs.
    """

    def request(
        self, *, idempotency_key: UUID, amount: Decimal, account_number: str, account_name: str, bank_name: str
    ) -> CollectionAnswer:
        payload = {
            "idempotency_key": str(idempotency_key),
            "amount": f"{amount:.2f}",
            "account_number": account_number,
            "account_name": account_name,
            "bank_name": bank_name,
        }
        return collection_answer_from(_PlatformClient().call("POST", "/withholdings/", payload))

    def query(self, *, idempotency_key: UUID) -> CollectionAnswer | None:
        answer = _PlatformClient().call("GET", f"/withholdings/{idempotency_key}/")
        return collection_answer_from(answer) if answer is not None else None


def collection_answer_from(answer: dict[str, Any] | None) -> CollectionAnswer:
    """A rail's JSON answer (or callback) about one collection, checked; a malformed one is no answer."""
    answer = answer or {}
    status = answer.get("status")
    reference = answer.get("reference")
    if status not in CollectionStatus.ALL or not isinstance(reference, str) or not reference:
        raise RailNoAnswer("The rail's answer names no reference or status.")
    amount = settled_on = None
    try:
        if answer.get("amount") is not None:
            amount = Decimal(str(answer["amount"]))
        if answer.get("settled_on"):
            settled_on = date.fromisoformat(str(answer["settled_on"]))
    except (ArithmeticError, ValueError) as exc:
        raise RailNoAnswer("The rail's answer has a malformed amount or date.") from exc
    return CollectionAnswer(
        reference=reference, status=status, amount=amount, settled_on=settled_on, error=str(answer.get("error") or "")
    )


__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CollectionAdapter",
    "CollectionAnswer",
    "CollectionStatus",
    "PayoutAdapter",
    "PayoutFailed",
    "PayoutResult",
    "PayoutStatus",
    "PayoutTimeout",
    "PlatformPayoutRail",
    "PlatformWithholdingRail",
    "RailError",
    "RailNoAnswer",
    "RailRefused",
    "RailSignatureInvalid",
    "collection_adapter",
    "collection_answer_from",
    "payout_adapter",
    "rail_signature",
    "rail_signature_verify",
    "rail_signed_headers",
]
