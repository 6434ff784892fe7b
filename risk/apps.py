from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    """The risk firewall: exposure limits, stress tests, the portfolio dashboard, fraud after payout, model drift.

    The top business layer: it reads lending's and partners' facts through their selectors and never writes them;
    its checks reach lending through the hooks lending exposes, registered when this app is ready.
    """

    name = "risk"
    verbose_name = _("Risk firewall")

    def ready(self) -> None:
        from lending.origination.services.exposure import exposure_checker_register
        from risk.services import watch_hooks
        from risk.services.limits import LIMIT_FIREWALL
        from risk.services.stress import stress_settings_check

        watch_hooks.watch_hooks_register()
        exposure_checker_register(LIMIT_FIREWALL)
        checks.register(stress_settings_check)
