"""The back office's sign-in goes through allauth, so passkeys, second factors and throttling apply to staff too."""

from urllib.parse import urlencode

from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _


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
