"""Token authentication that brings the user's merchant along.

Every merchant endpoint reads ``request.user.merchant`` (``IsMerchantOwner``, then the view): fetching it in the
token's own query, as a LEFT JOIN on the one-to-one, saves a query on each of those requests. A user without a
merchant (an officer, a partner) gets the relation cached as missing, so ``hasattr(user, "merchant")`` is False
without a second look.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, with ``user.merchant`` fetched in the same query."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user", "user__merchant").get(key=key)
        except model.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
