"""API tokens die with the password that earned them, and with the account.

Connected in ``AccountsConfig.ready``. ``User.set_password`` marks the instance, so the tokens go whichever
way the password changed: allauth's change and reset forms, the admin's form or ``manage.py changepassword``.
Django already ends the user's other web sessions on a password change; this does the same for the API.
"""

from accounts.services.tokens import api_tokens_revoke


def user_saved_revoke_tokens(sender, instance, created, **kwargs) -> None:
    if created:
        return
    if getattr(instance, "password_changed_unsaved", False):
        instance.password_changed_unsaved = False
        api_tokens_revoke(user=instance, by=None, reason="password changed")
    elif not instance.is_active:
        api_tokens_revoke(user=instance, by=None, reason="account deactivated")
