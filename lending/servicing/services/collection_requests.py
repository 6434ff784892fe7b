"""The merchant's "pay now": money asked of the collection rail, booked only when the rail confirms it.

Flow: ``collection_request`` checks the amount against what is owed (nothing is asked that would not be booked),
records the request and queues ``collection_send``, which asks the rail outside any transaction (no lock is held
while a bank answers) with the request's idempotency key, so asking again never takes twice. The rail answers
later: a signed callback (``collection_callback_receive``) or the reconciliation job (``collections_reconcile``)
settles the request, and only ``confirmed`` books a payment, in the same transaction that marks it confirmed.

Invariants:

- One payment per confirmed collection, however often or concurrently the rail confirms (the request's row lock
  and its one-to-one link to the payment; the payment's reference ``collection-<key>`` is the backstop).
- One open collection per loan (a partial unique constraint), so two requests cannot both take the whole payoff.
- A payer's reference is unique on its loan: the same reference with the same purpose and amount answers with the
  first request (a replay); with anything else it is refused. Nothing about another loan is ever looked at.
- Money the rail confirms is always booked: a payoff or prepayment that no longer fits on the day it settles (a
  day's more interest, another payment meanwhile) is booked as an ordinary payment and the merchant is told.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.services.audit import audit_record
from core.services.notices import notify
from core.transactions import task_on_commit
from lending.servicing.models import CollectionRequest, Loan, Payment, PaymentSource
from lending.servicing.services.rails import (
    CollectionAnswer,
    CollectionStatus,
    RailNoAnswer,
    RailRefused,
    collection_adapter,
    collection_answer_from,
    rail_signature_verify,
)
from lending.servicing.services.repayments import (
    KEEP_INSTALMENT,
    KEEP_TERM,
    PAY_OFF,
    PAY_PREPAY,
    RepaymentConflict,
    collectable_amount,
    loan_pay_off,
    loan_prepay_partial,
    payment_record,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

S = CollectionRequest.Status
REFERENCE_MAX_LENGTH = CollectionRequest._meta.get_field("reference").max_length


class CollectionConflict(StateConflict):
    """The request cannot be made or settled in the collection's or the loan's state (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Requested:
    collection: CollectionRequest
    # False when the payer's reference named a request already made: nothing new was asked.
    created: bool


def _checked_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip() or len(reference.strip()) > REFERENCE_MAX_LENGTH:
        raise ValidationError(
            {
                "reference": [
                    _("Give this payment a reference of 1 to %(max)d characters.") % {"max": REFERENCE_MAX_LENGTH}
                ]
            }
        )
    return reference.strip()


def _checked_keep(purpose: str, keep: object) -> str:
    if purpose != PAY_PREPAY:
        return ""
    if keep not in (KEEP_TERM, KEEP_INSTALMENT):
        raise ValidationError(
            {"keep": [_("Choose what to keep: “term” (lower instalment) or “instalment” (shorter term).")]}
        )
    return str(keep)


def _loan_url(loan_id: int) -> str:
    return reverse("lending:repayment-history", args=[loan_id])


def collection_request(
    *,
    loan: Loan,
    purpose: str,
    amount: object,
    reference: str,
    by: User,
    keep: object = KEEP_TERM,
    on: date | None = None,
) -> Requested:
    """Ask the rail to collect for ``loan`` from its merchant's settlement account; the owner only.

    Checks before asking: the loan takes payments, the amount fits ``purpose`` (``collectable_amount``), and no
    other collection of the loan is open. Idempotent by ``reference`` on the loan.
    """
    on = on or timezone.localdate()
    reference = _checked_reference(reference)
    loan = Loan.objects.select_related("merchant").get(pk=loan.pk)
    if loan.merchant.owner_id != by.pk:
        raise PermissionDenied(_("Only the merchant's owner can pay this loan."))
    replay = _replay(loan=loan, reference=reference, purpose=purpose, amount=amount, keep=keep)
    if replay is not None:
        return Requested(replay, created=False)
    keep = _checked_keep(purpose, keep)
    value = collectable_amount(loan=loan, purpose=purpose, amount=amount, on=on)
    try:
        with transaction.atomic():
            collection = CollectionRequest.objects.create(
                loan=loan,
                purpose=purpose,
                keep=keep,
                amount=value,
                reference=reference,
                requested_by=by,
                requested_on=on,
            )
            audit_record(
                subject=collection,
                action="collection.request",
                by=by,
                to_state=collection.status,
                data={
                    "loan_id": loan.pk,
                    "purpose": purpose,
                    "amount": f"{value:.2f}",
                    "keep": keep,
                    "idempotency_key": str(collection.idempotency_key),
                },
            )
            task_on_commit("lending.servicing.tasks.collection_send_task", collection.pk)
    except IntegrityError:
        # A concurrent request won: the same reference (a double submit) is its replay; another is refused.
        replay = _replay(loan=loan, reference=reference, purpose=purpose, amount=value, keep=keep)
        if replay is not None:
            return Requested(replay, created=False)
        raise _open_conflict(loan) from None
    return Requested(collection, created=True)


def _replay(*, loan: Loan, reference: str, purpose: str, amount: object, keep: object) -> CollectionRequest | None:
    existing = CollectionRequest.objects.filter(loan=loan, reference=reference).first()
    if existing is None:
        open_one = CollectionRequest.objects.filter(loan=loan, status__in=CollectionRequest.OPEN).first()
        if open_one is not None:
            raise _open_conflict(loan, open_one)
        return None
    same_amount = amount is None or _same_amount(existing.amount, amount)
    same_keep = purpose != PAY_PREPAY or existing.keep == keep
    if existing.purpose == purpose and same_amount and same_keep:
        return existing
    raise CollectionConflict(
        _("The reference %(reference)s was already used for another payment of this loan; use a new one.")
        % {"reference": reference},
        code="reference_reused",
    )


def _same_amount(recorded: Decimal, amount: object) -> bool:
    try:
        return recorded == Decimal(str(amount))
    except ArithmeticError:
        return False


def _open_conflict(loan: Loan, open_one: CollectionRequest | None = None) -> CollectionConflict:
    open_one = open_one or CollectionRequest.objects.filter(loan=loan, status__in=CollectionRequest.OPEN).first()
    if open_one is None:
        return CollectionConflict(_("Another payment was requested at the same moment; reload the page."))
    return CollectionConflict(
        _(
            "A payment of %(amount)s yuan asked on %(date)s is still pending; wait until it is confirmed or fails "
            "before asking for another."
        )
        % {"amount": open_one.amount, "date": open_one.requested_on.isoformat()},
        code="collection_pending",
    )


# Asking the rail.


def collection_send(*, collection_id: int) -> CollectionRequest:
    """Ask the rail for a requested collection (again, with the same key, when an earlier ask had no answer)."""
    with transaction.atomic():
        collection = (
            CollectionRequest.objects.select_for_update().select_related("loan__merchant").get(pk=collection_id)
        )
        if collection.status != S.REQUESTED:
            return collection
        collection.attempts += 1
        collection.last_attempt_at = timezone.now()
        collection.save(update_fields=["attempts", "last_attempt_at"])
    merchant = collection.loan.merchant
    try:
        answer = collection_adapter().request(
            idempotency_key=collection.idempotency_key,
            amount=collection.amount,
            account_number=merchant.settlement_account_number,
            account_name=merchant.settlement_account_name,
            bank_name=merchant.settlement_bank_name,
        )
    except RailRefused as exc:
        return collection_settle(
            idempotency_key=collection.idempotency_key,
            answer=CollectionAnswer(reference="", status=CollectionStatus.FAILED, error=str(exc)),
            via="request",
        )
    except RailNoAnswer:
        logger.warning("Collection %s: the rail did not answer; the reconciliation job asks again", collection_id)
        return collection
    return collection_settle(idempotency_key=collection.idempotency_key, answer=answer, via="request")


# What the rail says.


def collection_settle(*, idempotency_key, answer: CollectionAnswer, via: str) -> CollectionRequest:
    """Apply the rail's word on one collection: pending, confirmed (book the payment) or failed. Idempotent.

    ``via`` says who told us (``request``, ``callback``, ``reconcile``) for the audit row. A confirmation for another
    amount than was asked is refused and logged: the rail and we disagree, and an officer must look.
    """
    with transaction.atomic():
        try:
            collection = (
                CollectionRequest.objects.select_for_update()
                .select_related("loan__merchant")
                .get(idempotency_key=idempotency_key)
            )
        except (CollectionRequest.DoesNotExist, ValidationError):
            raise CollectionRequest.DoesNotExist(f"No collection has the key {idempotency_key}.") from None
        if collection.status in (S.CONFIRMED, S.FAILED):
            if answer.status not in (collection.status, CollectionStatus.PENDING):
                logger.error(
                    "Collection %s is %s but the rail now says %s", collection.pk, collection.status, answer.status
                )
            return collection
        if answer.status == CollectionStatus.PENDING:
            if collection.status == S.REQUESTED:
                collection.accept()
                collection.rail_reference = answer.reference[:64]
                collection.save(update_fields=["status", "rail_reference"])
                audit_record(
                    subject=collection,
                    action="collection.accept",
                    from_state=S.REQUESTED,
                    to_state=collection.status,
                    data={"rail_reference": collection.rail_reference, "via": via},
                )
            return collection
        if answer.status == CollectionStatus.FAILED:
            return _fail(collection, reason=answer.error or _("The rail refused the collection."), via=via)
        if answer.amount is not None and answer.amount != collection.amount:
            raise CollectionConflict(
                f"The rail confirmed {answer.amount} for collection {collection.pk}, which asked {collection.amount}.",
                code="amount_mismatch",
            )
        return _confirm(collection, answer=answer, via=via)


def _fail(collection: CollectionRequest, *, reason: str, via: str) -> CollectionRequest:
    from_state = collection.status
    collection.fail()
    collection.failure_reason = reason[:200]
    collection.save(update_fields=["status", "failure_reason", "settled_at"])
    audit_record(
        subject=collection,
        action="collection.fail",
        from_state=from_state,
        to_state=collection.status,
        reason=collection.failure_reason,
        data={"via": via},
    )
    notify(
        user_id=collection.loan.merchant.owner_id,
        title=_("Your payment of %(amount)s yuan could not be collected") % {"amount": collection.amount},
        body=_(
            "We asked for %(amount)s yuan for loan #%(id)s from your settlement account and it failed: %(reason)s "
            "Nothing was taken. Please pay again from the loan's page once the account can cover it."
        )
        % {"amount": collection.amount, "id": collection.loan_id, "reason": collection.failure_reason},
        url=_loan_url(collection.loan_id),
    )
    return collection


def _confirm(collection: CollectionRequest, *, answer: CollectionAnswer, via: str) -> CollectionRequest:
    loan = collection.loan
    today = timezone.localdate()
    # The rail's settlement day, never in the future, and never before the loan's last serviced day.
    received_on = min(answer.settled_on or today, today)
    received_on = max(filter(None, [received_on, loan.serviced_on, loan.start_date]))
    from_state = collection.status
    collection.confirm()
    if answer.reference:
        collection.rail_reference = answer.reference[:64]
    collection.payment = _book(collection, received_on=received_on)
    collection.save(update_fields=["status", "rail_reference", "settled_at", "payment"])
    audit_record(
        subject=collection,
        action="collection.confirm",
        from_state=from_state,
        to_state=collection.status,
        data={
            "via": via,
            "payment_id": collection.payment_id,
            "received_on": received_on.isoformat(),
            "rail_reference": collection.rail_reference,
        },
    )
    return collection


def _book(collection: CollectionRequest, *, received_on: date) -> Payment:
    """The payment for confirmed money: as asked when it still fits, as an ordinary payment when not."""
    common = {
        "loan": collection.loan,
        "amount": collection.amount,
        "external_reference": f"collection-{collection.idempotency_key}",
        "by": None,
        "source": PaymentSource.COLLECTION,
    }
    try:
        with transaction.atomic():
            if collection.purpose == PAY_OFF:
                return loan_pay_off(on=received_on, **common)
            if collection.purpose == PAY_PREPAY:
                return loan_prepay_partial(on=received_on, keep=collection.keep or KEEP_TERM, **common)
    except (ValidationError, RepaymentConflict) as exc:
        detail = " ".join(exc.messages) if isinstance(exc, ValidationError) else exc.message
        logger.info("Collection %s booked as an ordinary payment: %s", collection.pk, detail)
        notify(
            user_id=collection.loan.merchant.owner_id,
            title=_("Your payment was booked as an ordinary repayment"),
            body=_(
                "We received %(amount)s yuan for loan #%(id)s on %(date)s, but it could no longer be applied as you "
                "asked (%(detail)s). It has paid what is owed in the usual order; the loan's page shows what remains."
            )
            % {
                "amount": collection.amount,
                "id": collection.loan_id,
                "date": received_on.isoformat(),
                "detail": detail,
            },
            url=_loan_url(collection.loan_id),
        )
    return payment_record(received_on=received_on, **common)


def collection_callback_receive(*, body: bytes, timestamp: str | None, signature: str | None) -> CollectionRequest:
    """The rail's signed callback about one collection. Raises ``RailSignatureInvalid`` (nothing is read before the
    signature holds), ``ValidationError`` for a malformed body, ``CollectionRequest.DoesNotExist`` for an unknown key.
    """
    rail_signature_verify(timestamp=timestamp, signature=signature, body=body)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError({"body": [_("The callback's body is not JSON.")]}) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("idempotency_key"), str):
        raise ValidationError({"idempotency_key": [_("Name the collection by its idempotency key.")]})
    try:
        answer = collection_answer_from(payload)
    except RailNoAnswer as exc:
        raise ValidationError({"status": [str(exc)]}) from None
    if answer.status == CollectionStatus.CONFIRMED and answer.amount is None:
        raise ValidationError({"amount": [_("A confirmation states the amount collected.")]})
    return collection_settle(idempotency_key=payload["idempotency_key"], answer=answer, via="callback")


# The reconciliation job.


def collections_reconcile(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Ask again what was never asked (``requested``), and ask the rail about what is still ``pending``.

    Only requests older than ``older_than`` (``COLLECTION_RECONCILE_AFTER_MINUTES``) are touched, so a request in
    flight is left to its own task.
    """
    if older_than is None:
        older_than = timedelta(minutes=settings.COLLECTION_RECONCILE_AFTER_MINUTES)
    before = timezone.now() - older_than
    counts = {"resent": 0, "settled": 0, "still_pending": 0, "errors": 0}
    for pk in CollectionRequest.objects.filter(status=S.REQUESTED, created_at__lt=before).values_list("pk", flat=True):
        collection_send(collection_id=pk)
        counts["resent"] += 1
    pending = CollectionRequest.objects.filter(status=S.PENDING, created_at__lt=before)
    for pk, key in pending.values_list("pk", "idempotency_key"):
        try:
            answer = collection_adapter().query(idempotency_key=key)
        except (RailNoAnswer, RailRefused):
            logger.warning("Collection %s: the rail did not answer the reconciliation query", pk)
            counts["errors"] += 1
            continue
        if answer is None or answer.status == CollectionStatus.PENDING:
            counts["still_pending"] += 1
            continue
        try:
            collection_settle(idempotency_key=key, answer=answer, via="reconcile")
            counts["settled"] += 1
        except CollectionConflict:
            logger.exception("Collection %s could not be settled from the rail's answer", pk)
            counts["errors"] += 1
    return counts


__all__ = [
    "CollectionConflict",
    "Requested",
    "collection_callback_receive",
    "collection_request",
    "collection_send",
    "collection_settle",
    "collections_reconcile",
]
