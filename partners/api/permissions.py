"""Who may call the partner API: a funding partner's own API account, and, where the partner asked for it, only
with each request signed.

A partner's token answers nowhere else (``accounts.roles.TOKEN_SCOPES``); here the account must also belong to a
funding partner (an insurer's or a bare partner account gets 403 saying so). Every view then starts from
``request.user.funding_partner``'s own rows, so another partner's object answers 404, the same as a missing one.

Request signing, for a partner with ``request_signing_required``: ``X-Partner-Timestamp`` (Unix seconds) and
``X-Partner-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`` under the partner's webhook secret (the
previous one too while it rotates), within five minutes of our clock. It is the scheme our webhooks use, with the
same secret, so a partner implements one function for both directions. (The rails' ``rail_signature_verify`` reads
the rail's own secrets from settings, so it does not fit a per-partner secret.)
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from core.api.permissions import IsPartner
from partners.models import FundingPartner
from partners.services.webhooks import partner_valid_secrets, webhook_signature_verify

REQUEST_TIMESTAMP_HEADER = "X-Partner-Timestamp"
REQUEST_SIGNATURE_HEADER = "X-Partner-Signature"
REQUEST_WINDOW_SECONDS = 300


class SignatureInvalid(exceptions.PermissionDenied):
    default_detail = _(
        "This partner's requests must be signed: send X-Partner-Timestamp (Unix seconds, within five minutes) and "
        "X-Partner-Signature (v1= and the hex HMAC-SHA256 of the timestamp, a dot and the raw body, with your "
        "webhook secret)."
    )
    default_code = "signature_invalid"


def request_partner(request) -> FundingPartner | None:
    """The funding partner whose API account made ``request`` (an active one), or None."""
    partner = getattr(request.user, "funding_partner", None)
    return partner if partner is not None and partner.is_active else None


class IsFundingPartner(BasePermission):
    """The caller is an active funding partner's API account, and signed the request if its partner must."""

    message = _("This API account does not belong to a funding partner: only a partner bank's account can do this.")

    def has_permission(self, request, view) -> bool:
        if not IsPartner().has_permission(request, view):
            return False
        partner = request_partner(request)
        if partner is None:
            return False
        if partner.request_signing_required and not webhook_signature_verify(
            request._request.body,
            request.headers.get(REQUEST_TIMESTAMP_HEADER, ""),
            request.headers.get(REQUEST_SIGNATURE_HEADER, ""),
            partner_valid_secrets(partner=partner),
            tolerance=REQUEST_WINDOW_SECONDS,
        ):
            raise SignatureInvalid
        return True
