from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    """Co-lending partner banks and co-insurers: agreements, loan shares, distributions, settlements, claims.

    Above lending in the layers: it reads lending's facts and calls lending's services; lending never imports it.
    Where lending must ask (which lenders fund an accepted offer, who shares a payment), it asks through the hooks
    and signals lending exposes, which this app registers here.
    """

    name = "partners"
    verbose_name = _("Partners and insurers")

    def ready(self) -> None:
        from lending.origination.services.lenders import co_lending_register
        from lending.origination.services.scheduled import ScheduledJob, scheduled_job_register
        from lending.servicing.signals import allocations_booked, loan_activated, loans_transitioned
        from partners import checks  # noqa: F401 - registers the checks of the webhook settings
        from partners.services import insurance
        from partners.services.co_lending import PartnersCoLending
        from partners.services.distributions import on_allocations_booked, on_loan_activated
        from partners.services.offers import partner_offers_lapse
        from partners.services.settlements import partners_settle_previous_day
        from partners.services.webhooks import on_loans_transitioned, webhooks_due_queue

        co_lending_register(PartnersCoLending())
        # Every confirmed payment is shared among a co-funded loan's lenders in the payment's own transaction.
        allocations_booked.connect(on_allocations_booked, dispatch_uid="partners.distributions")
        loan_activated.connect(on_loan_activated, dispatch_uid="partners.loan_funded")
        # Partner banks hear of their loans turning overdue or defaulting, in the daily job's own transaction.
        loans_transitioned.connect(on_loans_transitioned, dispatch_uid="partners.loans_moved")
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
        scheduled_job_register(
            ScheduledJob(
                "partner-offers-lapse",
                _("lapses partner offers not answered in time and offers the loans on"),
                lambda on: {"partner_offers_lapsed": partner_offers_lapse()},
            )
        )
        scheduled_job_register(
            ScheduledJob(
                "partners-settle-day",
                _("settles the day before with each partner bank"),
                partners_settle_previous_day,
            )
        )
        scheduled_job_register(
            ScheduledJob(
                "partner-webhooks-due",
                _("sends partners' webhooks whose next attempt is due"),
                lambda on: {"partner_webhooks_queued": webhooks_due_queue()},
            )
        )
