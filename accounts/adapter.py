from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.roles import Role
from accounts.services.roles import user_grant_role


class AccountAdapter(DefaultAccountAdapter):
    """Everyone who signs up through the web is a merchant owner; officers are made by an administrator."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            # The new owner is the actor: nobody else was involved in opening the account.
            user_grant_role(user=user, role=Role.MERCHANT_OWNER, by=user, reason="signed up")
        return user

    def get_login_redirect_url(self, request):
        # Officers work in the back office; merchants on their dashboard. An explicit ?next= still wins.
        if request.user.is_staff:
            return reverse("admin:index")
        return super().get_login_redirect_url(request)

    def format_email_subject(self, subject: str) -> str:
        # Without a configured prefix allauth would use the request's host name; mail should name the
        # portal the way people know it.
        if account_settings.EMAIL_SUBJECT_PREFIX is not None:
            return super().format_email_subject(subject)
        return f"[{_('Merchant Loans')}] {subject}"
