from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxConfig(AppConfig):
    """The sandbox rails: the bank and the settlement platform, played by tables, for the demo and the tests.

    Not installed in production (``config.settings.production`` removes it, and ``check --deploy`` fails when a
    sandbox adapter is configured), so neither its tables nor its admin exist there.
    """

    name = "sandbox"
    verbose_name = _("Sandbox rails (demo and tests only)")
