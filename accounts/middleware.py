"""Staff must sign in with a second factor before they reach the back office (production settings)."""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

# Recovery codes only back up another factor, so on their own they do not count as one.
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


class StaffSecondFactorMiddleware:
    """Send a staff user without a passkey or authenticator app from /admin/ to the set-up page.

    Read per request (not at start-up) so tests and the demo can relax ``STAFF_MFA_REQUIRED``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.STAFF_MFA_REQUIRED and self._must_enrol(request):
            messages.warning(
                request,
                _(
                    "Staff accounts need a second factor before they can open the back office. "
                    "Add a passkey or activate an authenticator app."
                ),
            )
            return redirect("mfa_index")
        return self.get_response(request)

    @staticmethod
    def _must_enrol(request) -> bool:
        user = getattr(request, "user", None)
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if not request.path.startswith(reverse("admin:index")):
            return False
        return not is_mfa_enabled(user, types=SECOND_FACTOR_TYPES)
