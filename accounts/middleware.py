"""Staff need a second factor before they reach the back office, and cannot give themselves their first one.

With ``STAFF_MFA_REQUIRED`` (production), a staff account without a passkey or authenticator app gets a 403 on
every back-office page and on the pages that add a factor. A password alone therefore opens nothing: whoever
holds a staff password cannot enrol their own factor and walk in. The first factor is added through a one-time
link an administrator issues (``accounts.services.staff_enrolment_issue``); redeeming it while signed in opens
the set-up pages for ``STAFF_ENROLMENT_WINDOW``. Once the account has a factor, signing in asks for it.
"""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse

# Recovery codes only back up another factor, so on their own they do not count as one.
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
# The pages that add a factor; a staff member without one reaches them only through an enrolment link.
ENROL_URL_NAMES = ("mfa_activate_totp", "mfa_add_webauthn", "mfa_generate_recovery_codes")
ENROLMENT_SESSION_KEY = "accounts.staff_enrolment_until"


def staff_enrolment_open(request, *, seconds: float) -> None:
    """Let this session use the set-up pages for ``seconds`` (after an enrolment link was redeemed)."""
    request.session[ENROLMENT_SESSION_KEY] = time.time() + seconds


class StaffSecondFactorMiddleware:
    """Refuse the back office, and self-enrolment, to staff without a passkey or authenticator app.

    Read per request (not at start-up) so tests and the demo can relax ``STAFF_MFA_REQUIRED``.
    """

    template_name = "accounts/staff_factor_required.html"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.STAFF_MFA_REQUIRED and self._refused(request):
            return render(request, self.template_name, status=403)
        return self.get_response(request)

    @staticmethod
    def _refused(request) -> bool:
        user = getattr(request, "user", None)
        if not (user and user.is_authenticated and user.is_staff):
            return False
        path = request.path
        in_back_office = path.startswith(reverse("admin:index"))
        enrolling = any(path == reverse(name) for name in ENROL_URL_NAMES)
        if not (in_back_office or enrolling):
            return False
        if is_mfa_enabled(user, types=SECOND_FACTOR_TYPES):
            return False
        if enrolling:
            return request.session.get(ENROLMENT_SESSION_KEY, 0) < time.time()
        return True
