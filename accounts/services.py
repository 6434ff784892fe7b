"""Writes to accounts: who holds which role, API tokens, staff enrolment links. Each change is audited, because
each is a permission."""

import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import StaffEnrolment, User
from accounts.roles import Role
from core.api.authentication import token_expires_at
from core.audit import audit_record


class EmailNotVerifiedError(PermissionDenied):
    """The account's sign-in address is not verified yet, so it gets no API token."""


def user_grant_role(*, user: User, role: Role, by: User | None, reason: str = "") -> bool:
    """Put ``user`` in ``role``'s group and write one audit row.

    Granting a role the user already holds changes nothing and writes no row, so callers such as the
    demo loader can run again safely. Returns whether the role was newly granted.
    """
    with transaction.atomic():
        # Lock the user so two grants at once cannot both pass the membership check.
        locked = User.objects.select_for_update().get(pk=user.pk)
        group, _created = Group.objects.get_or_create(name=role)
        if locked.groups.filter(pk=group.pk).exists():
            return False
        locked.groups.add(group)
        audit_record(subject=locked, action="role_granted", by=by, reason=reason, data={"role": str(role)})
    return True


def user_email_verified(*, user: User) -> bool:
    """Whether the address the user signs in with has been verified (the web asks for the same)."""
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def api_token_issue(*, user: User) -> Token:
    """The user's API token, made now if it has none or its lifetime has run out.

    Only an active user with a verified sign-in address gets one; ``TokenAuthentication`` checks the same
    again on every request, so a token made any other way does not work either.
    """
    if not user.is_active:
        raise PermissionDenied(_("This account is not active."))
    if not user_email_verified(user=user):
        raise EmailNotVerifiedError(
            _("Verify your email address first: sign in on the website and enter the code we email you.")
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        token = Token.objects.filter(user=locked).first()
        if token is not None and token_expires_at(token) <= timezone.now():
            token.delete()
            token = None
        if token is None:
            token = Token.objects.create(user=locked)
    return token


def api_tokens_revoke(*, user: User, by: User | None, reason: str) -> int:
    """Delete every API token of ``user``; one audit row when there was any. Returns how many went."""
    with transaction.atomic():
        deleted, _per_model = Token.objects.filter(user=user).delete()
        if deleted:
            audit_record(subject=user, action="api_token.revoked", by=by, reason=reason, data={"count": deleted})
    return deleted


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
