from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.roles import sync_role_groups
        from accounts.signals import user_saved_revoke_tokens

        post_migrate.connect(sync_role_groups, sender=self)
        post_save.connect(user_saved_revoke_tokens, sender=self.get_model("User"), dispatch_uid="user-revoke-tokens")
