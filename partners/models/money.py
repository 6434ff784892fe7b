"""Money between lenders: each allocation of a co-funded loan's payments shared among its lenders, and each day's
settlement with a partner bank.

A ``Distribution`` is one lender's part of one allocation (a component of one payment), signed as the allocation is
(interest credited back is negative). For every co-funded loan the distributions sum to its allocations, which sum
to its payments (``partners.services.distributions``). A ``PartnerSettlement`` adds up one partner's distributions
of a business day, less the platform's service fee, into what the platform owes it (``partners.services.settlements``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.money import MoneyField
from lending.servicing.models import Allocation
from partners.models.agreements import FundingPartner, LoanShare


class SettlementStatus(models.TextChoices):
    READY = "ready", _("Ready to pay")
    PAID = "paid", _("Paid")


class PartnerSettlement(ConcurrentTransitionMixin, models.Model):
    """What the platform owes one partner for one business day's collections, less its service fee.

    ready -> paid (an officer records the transfer to the partner's funding account; the figures never change).

    ``net_payable`` = ``collected`` − ``service_fee``; ``collected`` is the sum of the linked distributions
    (principal + interest + fees + late fees). Negative when the fee is more than the day's collections: the
    partner then owes the platform that amount. Made once per partner and day; never changed by a re-run.
    """

    partner = models.ForeignKey(FundingPartner, on_delete=models.PROTECT, related_name="settlements")
    business_date = models.DateField(_("business date"))
    principal = MoneyField(_("principal"), default=0)
    interest = MoneyField(_("interest"), default=0)
    fees = MoneyField(_("fees"), default=0)
    penalties = MoneyField(_("late fees"), default=0)
    collected = MoneyField(_("collected for the partner"), default=0)
    distribution_count = models.PositiveIntegerField(_("distributions"), default=0)
    # The partner's principal outstanding at the end of the day, on which the day's service fee is charged.
    outstanding_principal = MoneyField(_("outstanding principal at day end"), default=0)
    service_fee = MoneyField(_("platform service fee"), default=0)
    net_payable = MoneyField(_("net payable to the partner"), default=0)
    status = FSMField(_("status"), default=SettlementStatus.READY, choices=SettlementStatus.choices, protected=True)
    created_at = models.DateTimeField(_("made at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("partner settlement")
        verbose_name_plural = _("partner settlements")
        ordering = ["-business_date", "partner__priority", "partner__code"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "business_date"], name="one_settlement_per_partner_and_day")
        ]
        permissions = [("pay_settlement", "Can record that a partner's settlement was paid")]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.business_date} {self.net_payable}"

    @transition(field=status, source=SettlementStatus.READY, target=SettlementStatus.PAID)
    def pay(self, *, by) -> None:
        self.paid_at = timezone.now()
        self.paid_by = by


class Distribution(models.Model):
    """One lender's part of one allocation of a co-funded loan's payment (negative when interest is credited back).

    ``value_date`` is the day the allocation was booked (interest accrues to the lenders up to it);
    ``business_date`` the day the distribution was made, which decides the settlement it belongs to.
    """

    allocation = models.ForeignKey("lending.Allocation", on_delete=models.PROTECT, related_name="distributions")
    share = models.ForeignKey(LoanShare, on_delete=models.PROTECT, related_name="distributions")
    # Copied from the allocation and the share, so a lender's or a loan's distributions are read without joins.
    loan = models.ForeignKey("lending.Loan", on_delete=models.PROTECT, related_name="distributions")
    payment = models.ForeignKey("lending.Payment", on_delete=models.PROTECT, related_name="distributions")
    partner = models.ForeignKey(
        FundingPartner, null=True, blank=True, on_delete=models.PROTECT, related_name="distributions"
    )
    component = models.CharField(_("component"), max_length=10, choices=Allocation.Component.choices)
    amount = MoneyField(_("amount"))
    value_date = models.DateField(_("value date"))
    business_date = models.DateField(_("business date"), db_index=True)
    settlement = models.ForeignKey(
        PartnerSettlement, null=True, blank=True, on_delete=models.PROTECT, related_name="distributions"
    )
    created_at = models.DateTimeField(_("distributed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("distribution")
        verbose_name_plural = _("distributions")
        ordering = ["loan_id", "allocation_id", "id"]
        indexes = [models.Index(fields=["partner", "business_date"]), models.Index(fields=["loan", "component"])]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "share"], name="one_distribution_per_allocation_and_share")
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.share.lender_code} {self.component} {self.amount}"

    @property
    def lender_code(self) -> str:
        return self.partner.code if self.partner_id else "platform"
