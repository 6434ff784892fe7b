"""Core's back office: the audit trail, read-only."""

from core.admin import audit  # noqa: F401
