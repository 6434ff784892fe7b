"""The payment platform's feed account: a system credential that can do exactly one thing, send sales.

The feed is a user in the ``platform feed`` role with no password (it never signs in on the website or the
back office) and an API token that ``core.api.authentication`` accepts only on the feed's own endpoint
(``accounts.roles.TOKEN_SCOPES``). Operators create it and rotate its token with ``manage.py
platform_feed_token``; the demo loader does the same and prints the token.
"""

from allauth.account.models import EmailAddress
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.roles import Role
from accounts.services.roles import user_grant_role
from accounts.services.tokens import api_token_issue, api_tokens_revoke

DEFAULT_FEED_EMAIL = "settlement-feed@platform.invalid"


def platform_feed_user_ensure(*, email: str = DEFAULT_FEED_EMAIL, by: User | None) -> User:
    """The feed's account, created on first use: active, not staff, no usable password, in the feed role only.

    Its address is recorded as verified because nobody reads that mailbox: the account exists for its token.
    Running it again changes nothing; an account with that address that is a person's (staff, or holding any
    other role) is refused, so a person's login can never become a system credential by mistake.
    """
    with transaction.atomic():
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            user = User.objects.create_user(email, None, first_name="Platform", last_name="settlement feed")
        elif user.is_staff or user.groups.exclude(name=Role.PLATFORM_FEED).exists():
            raise ValueError(f"{email} is a person's account, not the platform feed's.")
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
        user_grant_role(user=user, role=Role.PLATFORM_FEED, by=by, reason="platform settlement feed")
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    return user


def platform_feed_token(*, user: User, rotate: bool = False, by: User | None = None) -> Token:
    """The feed's API token (a fresh one when ``rotate`` or when the old one has expired)."""
    if not user.has_role(Role.PLATFORM_FEED):
        raise ValueError(f"{user.email} is not the platform feed.")
    if rotate:
        api_tokens_revoke(user=user, by=by, reason="platform feed token rotated")
    return api_token_issue(user=user)
