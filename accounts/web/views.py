"""The back office's sign-in (through allauth, so passkeys, second factors and throttling apply to staff too) and
the owner's security page."""

from urllib.parse import urlencode

from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from rest_framework.authtoken.models import Token

from accounts.middleware import staff_enrolment_open
from accounts.selectors.staff_enrolment import staff_enrolment_usable
from accounts.services.staff_enrolment import staff_enrolment_redeem
from accounts.services.tokens import api_tokens_revoke
from core.api.authentication import token_expires_at


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponseRedirect:
    """Stand in for ``admin.site.login``: Django's password-only form would skip the second factor.

    Visitors go to the portal's sign-in and come back to where they were going (only if that is on this
    site, as allauth judges it); signed-in staff go straight there. ``extra_context`` is accepted because
    the admin passes it.
    """
    next_url = get_next_redirect_url(request) or reverse("admin:index")
    user = request.user
    if not user.is_authenticated:
        login_url = resolve_url(settings.LOGIN_URL)
        return HttpResponseRedirect(f"{login_url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
    if user.is_staff and user.is_active:
        return HttpResponseRedirect(next_url)
    # Sending a signed-in merchant to the sign-in page would bounce them straight back here, so say why instead.
    messages.error(request, _("Your account has no access to the back office."))
    return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))


class SecurityView(LoginRequiredMixin, View):
    """The owner's security page: their API token (when, until when) with a button to revoke it, and the
    link to their second factors."""

    template_name = "accounts/security.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        tokens = [
            {"prefix": token.key[:6], "created": token.created, "expires": token_expires_at(token)}
            for token in Token.objects.filter(user=request.user)
        ]
        return render(request, self.template_name, {"tokens": tokens})

    def post(self, request: HttpRequest) -> HttpResponse:
        if api_tokens_revoke(user=request.user, by=request.user, reason="revoked on the security page"):
            messages.success(request, _("Your API token is revoked: programs using it are signed out."))
        return redirect("accounts:security")


class StaffEnrolView(LoginRequiredMixin, View):
    """Redeem an administrator's one-time link: the signed-in staff member may then add a second factor.

    Opening the link changes nothing (mail scanners and link previews open links); the button spends it.
    """

    template_name = "accounts/staff_enrol.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return render(request, self.template_name, {"valid": staff_enrolment_usable(user=request.user, token=token)})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        if not staff_enrolment_redeem(user=request.user, token=token):
            return render(request, self.template_name, {"valid": False}, status=404)
        staff_enrolment_open(request, seconds=settings.STAFF_ENROLMENT_WINDOW.total_seconds())
        return redirect("mfa_activate_totp")
