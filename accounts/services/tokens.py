"""API tokens: issued only to verified accounts, with a lifetime, and revoked with the password or the account."""

from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import User
from core.api.authentication import token_expires_at
from core.services.audit import audit_record


class EmailNotVerifiedError(PermissionDenied):
    """The account's sign-in address is not verified yet, so it gets no API token."""


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
