"""The second officer's queue of concessions: approve or reject one, whatever its kind.

Each kind is decided by its own service, which locks, checks that the checker is not the maker, applies and audits:
a counter-offer by ``lending.origination.services.applications``, a restructure by
``lending.servicing.services.restructure``, a write-off by ``lending.servicing.services.collections``. This module
only routes to them; it lives in origination because origination is the context that sees the other two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from lending.origination.services.applications import counter_offer_approve, counter_offer_reject
from lending.servicing.models import Concession
from lending.servicing.services.collections import loan_write_off_approve, loan_write_off_reject
from lending.servicing.services.restructure import restructure_approve, restructure_reject

if TYPE_CHECKING:
    from accounts.models import User

K = Concession.Kind


def concession_approve(*, concession: Concession, by: User, note: str = "") -> Concession:
    """Give the second approval: the concession takes effect (see the kind's service for what that means); the
    checker's ``note`` is kept on the concession."""
    approve = {
        K.COUNTER_OFFER: counter_offer_approve,
        K.RESTRUCTURE: restructure_approve,
        K.WRITE_OFF: loan_write_off_approve,
    }[concession.kind]
    with transaction.atomic():
        approve(concession=concession, by=by)
        concession.refresh_from_db()
        if note:
            concession.decision_note = note
            concession.save(update_fields=["decision_note"])
    return concession


def concession_reject(*, concession: Concession, by: User, reason: str) -> Concession:
    """Refuse it, saying why (``reason`` is required and the maker is told); nothing it would have changed changes."""
    reject = {
        K.COUNTER_OFFER: counter_offer_reject,
        K.RESTRUCTURE: restructure_reject,
        K.WRITE_OFF: loan_write_off_reject,
    }[concession.kind]
    reject(concession=concession, by=by, reason=reason)
    concession.refresh_from_db()
    return concession


__all__ = ["concession_approve", "concession_reject"]
