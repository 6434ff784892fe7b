from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    """The risk firewall: exposure limits, stress tests, the portfolio dashboard, fraud after payout, model drift.

    The top business layer: it reads lending's and partners' facts through their selectors and never writes them;
    its checks reach lending through the hooks lending exposes, registered when this app is ready.
    """

    name = "risk"
    verbose_name = _("Risk firewall")

    def ready(self) -> None:
        from risk.services import watch_hooks

        watch_hooks.watch_hooks_register()
