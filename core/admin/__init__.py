"""Core's back office: the audit trail and the nightly runs, read-only."""

from core.admin import audit, jobs  # noqa: F401
