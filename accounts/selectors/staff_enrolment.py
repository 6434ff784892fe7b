"""Reads for accounts."""

from django.utils import timezone

from accounts.models import StaffEnrolment, User


def staff_enrolment_usable(*, user: User, token: str) -> bool:
    """Whether ``token`` is an unused, unexpired enrolment link issued for ``user``."""
    return StaffEnrolment.objects.filter(
        token_hash=StaffEnrolment.hash_token(token), user=user, used_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()
