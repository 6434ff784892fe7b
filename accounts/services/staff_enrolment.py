"""Staff second factors are provisioned: an administrator issues a one-time enrolment link; the staff member
redeems it."""

import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import StaffEnrolment, User
from core.services.audit import audit_record


def staff_enrolment_issue(*, user: User, by: User | None) -> str:
    """Issue a one-time second-factor enrolment link for a staff member; returns its secret part.

    Staff cannot enrol a factor on their own (a stolen password would be enough to do it): they need this link
    and their password. A new link replaces any unused one for the same person; it expires after
    ``STAFF_ENROLMENT_LINK_LIFETIME``. Only the hash is stored, and the issue is audited.
    """
    if not user.is_staff or not user.is_active:
        raise PermissionDenied(_("Enrolment links are only for active staff accounts."))
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        StaffEnrolment.objects.filter(user=locked, used_at__isnull=True).delete()
        StaffEnrolment.objects.create(
            user=locked,
            token_hash=StaffEnrolment.hash_token(token),
            issued_by=by,
            expires_at=timezone.now() + settings.STAFF_ENROLMENT_LINK_LIFETIME,
        )
        audit_record(subject=locked, action="staff_enrolment.issued", by=by)
    return token


def staff_enrolment_redeem(*, user: User, token: str) -> bool:
    """Spend ``user``'s enrolment link; False when it is unknown, someone else's, used or expired.

    The row is locked, so two requests with the same link cannot both spend it.
    """
    with transaction.atomic():
        enrolment = (
            StaffEnrolment.objects.select_for_update()
            .filter(
                token_hash=StaffEnrolment.hash_token(token),
                user=user,
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .first()
        )
        if enrolment is None:
            return False
        enrolment.used_at = timezone.now()
        enrolment.save(update_fields=["used_at"])
        audit_record(subject=user, action="staff_enrolment.used", by=user)
    return True
