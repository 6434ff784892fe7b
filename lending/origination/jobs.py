"""The nightly pre-approved limits in chunks of merchants by id, registered with core's chunked runs.

Underwriting computes the limits; lending tells it which merchants have a loan in default. Every merchant is in
some chunk (not only the verified ones), so a chunk also removes the limits of its merchants no longer verified.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from core.services.jobs import chunked_job_register
from lending.servicing.selectors.loans import merchants_in_default
from merchants.models import Merchant
from underwriting.services.decisions import preapproved_limits_refresh

PREAPPROVED_LIMITS_JOB = "underwriting-preapproved-limits"


def _merchants(on: date) -> QuerySet:
    return Merchant.objects.all()


def _limits_chunk(on: date, first_id: int | None, last_id: int | None) -> dict[str, int]:
    refreshed = preapproved_limits_refresh(
        merchants_in_default=merchants_in_default, as_of=on, first_id=first_id, last_id=last_id
    )
    return {"limits_refreshed": refreshed}


def register() -> None:
    chunked_job_register(name=PREAPPROVED_LIMITS_JOB, keys=_merchants, run_chunk=_limits_chunk)
