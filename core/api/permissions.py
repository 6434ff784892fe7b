"""Who may call an endpoint, and how a view keeps each client to its own objects.

Two layers, used together:

* role checks (``IsMerchantOwner``, ``IsPartner``, ``IsOfficer``) answer 403 — they reveal nothing, since
  everyone knows the endpoint exists;
* ownership is never a 403: a view starts every lookup from the requester's own rows
  (``OwnedQuerysetMixin``, ``get_owned_object_or_404``), so someone else's object and a missing one both
  answer the same 404 and ids cannot be probed.
"""

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from accounts.roles import OFFICER_ROLES, Role


def _authenticated(request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class IsMerchantOwner(BasePermission):
    """The user owns a merchant (the ``Merchant.owner`` one-to-one, reached as ``user.merchant``)."""

    message = _("Only a merchant's owner can do this.")

    def has_permission(self, request, view) -> bool:
        # hasattr is False when the reverse one-to-one is missing; the merchant is then cached on the user.
        return _authenticated(request) and hasattr(request.user, "merchant")


class HasRole(BasePermission):
    """The user is in one of ``roles`` (Django groups kept by ``accounts.roles``)."""

    roles: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        return _authenticated(request) and request.user.groups.filter(name__in=self.roles).exists()


class IsPartner(HasRole):
    message = _("Only a partner bank or insurer can do this.")
    roles = (Role.PARTNER,)


class IsPlatformFeed(HasRole):
    message = _("Only the payment platform's settlement feed can do this.")
    roles = (Role.PLATFORM_FEED,)


class IsOfficer(HasRole):
    message = _("Only a loan officer, senior officer or risk manager can do this.")
    roles = OFFICER_ROLES


def scope_to_owner(queryset: QuerySet, *, user, owner_lookup: str = "merchant__owner") -> QuerySet:
    """``queryset`` narrowed to the rows ``user`` owns (nothing for an anonymous user)."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(**{owner_lookup: user})


def get_owned_object_or_404(queryset: QuerySet, *, user, owner_lookup: str = "merchant__owner", **lookup) -> Model:
    """For ``APIView``s: the object matching ``lookup`` among the user's own, or 404 — never 403."""
    return get_object_or_404(scope_to_owner(queryset, user=user, owner_lookup=owner_lookup), **lookup)


class OwnedQuerysetMixin:
    """For ``GenericAPIView``s and viewsets: lists and ``get_object`` only ever see the requester's rows.

    ``owner_lookup`` is the ORM path from the model to the owning user; override ``scope_queryset`` where
    ownership is more than one path (a partner sees the loans it co-funds).
    """

    owner_lookup = "merchant__owner"

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return scope_to_owner(queryset, user=self.request.user, owner_lookup=self.owner_lookup)

    def get_queryset(self) -> QuerySet:
        return self.scope_queryset(super().get_queryset())


def _owner_of(obj: Model, owner_lookup: str):
    owner = obj
    for name in owner_lookup.split("__"):
        owner = getattr(owner, name, None)
        if owner is None:
            return None
    return owner


class IsObjectOwnerOr404(BasePermission):
    """Object-level backstop for views whose queryset cannot be scoped: not yours answers 404, like missing.

    Reads the view's ``owner_lookup`` (default ``merchant__owner``).
    """

    def has_object_permission(self, request, view, obj) -> bool:
        owner = _owner_of(obj, getattr(view, "owner_lookup", "merchant__owner"))
        if owner is None or not _authenticated(request) or owner.pk != request.user.pk:
            raise exceptions.NotFound()
        return True
