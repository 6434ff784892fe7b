"""Writing the audit trail. Services call ``audit_record`` inside their transaction."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.middleware import current_request_id
from core.models import AuditEvent


def audit_record(
    *,
    subject: models.Model,
    action: str,
    by: Any = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Insert one audit row for a change to ``subject``; ``by`` is None when the system acted."""
    actor = by if getattr(by, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=False),
        object_id=str(subject.pk),
        request_id=current_request_id() or "",
        data=data or {},
    )
