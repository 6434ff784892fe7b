from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth.models import Group

from accounts.roles import Role


class AccountAdapter(DefaultAccountAdapter):
    """Everyone who signs up through the web is a merchant owner; officers are made by an administrator."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            group, _ = Group.objects.get_or_create(name=Role.MERCHANT_OWNER)
            user.groups.add(group)
        return user
