from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    """Co-lending partner banks and co-insurers: agreements, loan shares, distributions, settlements, claims.

    Above lending in the layers: it reads lending's facts and calls lending's services; lending never imports it.
    Where lending must ask (which lenders fund an accepted offer, who shares a payment), it asks through the hooks
    lending exposes, which this app registers when it is ready.
    """

    name = "partners"
    verbose_name = _("Partners and insurers")

    def ready(self) -> None:
        from lending.origination.services.scheduled import ScheduledJob, scheduled_job_register
        from lending.servicing.signals import allocations_booked, loan_activated
        from partners.services import insurance

        # Co-insurance: a loan paid out is covered; a recovery after a settled claim is shared with the insurer.
        loan_activated.connect(insurance.insurance_on_loan_activated, dispatch_uid="partners.insurance.cover")
        allocations_booked.connect(insurance.insurance_on_allocations_booked, dispatch_uid="partners.insurance.share")
        scheduled_job_register(
            ScheduledJob(
                "insurance-claims-open",
                _("opens insurance claims on covered loans that reached their agreement's days past due"),
                lambda on: {"claims_opened": insurance.insurance_claims_open(on=on)},
            )
        )
