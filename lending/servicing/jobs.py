"""Servicing's nightly run in chunks: the day (sales-share sweep, credit held, arrears, late fees, defaults,
reminders) for one slice of the book by loan id, registered with core's chunked runs (``core.services.jobs``)."""

from __future__ import annotations

from datetime import date

from core.services.jobs import chunked_job_register
from lending.servicing.services.daily import servicing_day_loans, servicing_run_day

SERVICING_DAY_JOB = "lending-servicing-daily"


def _servicing_chunk(on: date, first_id: int | None, last_id: int | None) -> dict[str, int]:
    return servicing_run_day(on=on, loans=(first_id, last_id))


def register() -> None:
    chunked_job_register(name=SERVICING_DAY_JOB, keys=servicing_day_loans, run_chunk=_servicing_chunk)
