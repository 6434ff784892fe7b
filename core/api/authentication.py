"""Token authentication that brings the user's merchant along, and refuses tokens that should no longer work.

Every merchant endpoint reads ``request.user.merchant`` (``IsMerchantOwner``, then the view): fetching it in the
token's own query, as a LEFT JOIN on the one-to-one, saves a query on each of those requests. A user without a
merchant (an officer, a partner) gets the relation cached as missing, so ``hasattr(user, "merchant")`` is False
without a second look.

A token answers only while it is younger than ``API_TOKEN_LIFETIME`` and while its user's sign-in email is
verified; both are judged in that same query (the verification as an ``EXISTS`` subquery), so a token made by
any path (the admin, a script) for an unverified account never authenticates.

A token of a system role (the platform's settlement feed, a partner's API account) answers only on the operations
``accounts.roles.TOKEN_SCOPES`` names for it; anywhere else it gets 403, so a leaked feed credential cannot
read a merchant, and a partner's token reaches nothing but the partner API. The role is read in the token's own
query too.
"""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from accounts.roles import TOKEN_SCOPE_REFUSALS, TOKEN_SCOPES, token_scope_allows


def token_expires_at(token):
    """When ``token`` stops answering: its creation plus ``API_TOKEN_LIFETIME``."""
    return token.created + settings.API_TOKEN_LIFETIME


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, with ``user.merchant`` fetched in the same query."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        verified = EmailAddress.objects.filter(
            user_id=OuterRef("user_id"), email__iexact=OuterRef("user__email"), verified=True
        )
        try:
            token = (
                model.objects.select_related("user", "user__merchant")
                .annotate(email_verified=Exists(verified), scoped_role=Subquery(_scoped_role()))
                .get(key=key)
            )
        except model.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token_expires_at(token) <= timezone.now():
            # An expired token is gone for good: deleting it keeps the owner's security page truthful.
            token.delete()
            raise exceptions.AuthenticationFailed(_("This token has expired. Obtain a new one."))
        if not token.email_verified:
            raise exceptions.AuthenticationFailed(_("Verify your email address before using the API."))
        return (token.user, token)

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None and getattr(authenticated[1], "scoped_role", None):
            role = authenticated[1].scoped_role
            match = getattr(request, "resolver_match", None)
            if match is None or not token_scope_allows(role, match.view_name):
                raise exceptions.PermissionDenied(TOKEN_SCOPE_REFUSALS[role])
        return authenticated


def _scoped_role():
    """The first scoped role the token's user holds (a subquery on the user-groups table), or NULL."""
    memberships = get_user_model().groups.through.objects
    return memberships.filter(user_id=OuterRef("user_id"), group__name__in=list(TOKEN_SCOPES)).values("group__name")[:1]
