from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = _("Lending")

    def ready(self) -> None:
        from lending.origination import checks  # noqa: F401 - registers the checks of the four-eyes control
        from lending.origination import jobs as origination_jobs
        from lending.servicing import checks as rail_checks  # noqa: F401 - and of the rails
        from lending.servicing import jobs as servicing_jobs

        # The nightly runs core cuts into chunks: servicing's day by loan, the pre-approved limits by merchant.
        servicing_jobs.register()
        origination_jobs.register()
