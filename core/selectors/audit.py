"""Reading the audit trail."""

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditEvent


def audit_trail(subject: models.Model):
    """The audit rows of one object, oldest first."""
    return (
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(subject, for_concrete_model=False),
            object_id=str(subject.pk),
        )
        .select_related("actor")
        .order_by("at", "id")
    )
