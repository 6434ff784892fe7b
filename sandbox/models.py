"""What the sandbox rails did: one row per idempotency key, the ledger a real bank or platform keeps on its side."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import MoneyField


class SandboxTransfer(models.Model):
    """A payout the sandbox bank made, or a collection the sandbox platform withholds from settlements."""

    class Kind(models.TextChoices):
        PAYOUT = "payout", _("Payout to the merchant")
        COLLECTION = "collection", _("Collection from the merchant's settlements")
        FUNDING = "funding", _("Debit from a lender's funding account")

    class Status(models.TextChoices):
        # A collection waits for the platform's next settlement; a payout settles at once.
        PENDING = "pending", _("Pending")
        SETTLED = "settled", _("Settled")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    idempotency_key = models.UUIDField(_("idempotency key"), unique=True, default=uuid.uuid4)
    reference = models.CharField(_("rail reference"), max_length=64, unique=True)
    amount = MoneyField(_("amount"))
    account_number = models.CharField(_("account number"), max_length=34)
    account_name = models.CharField(_("account name"), max_length=200)
    # A co-funded payout's funding legs: the lender debited ("platform" or a partner's code) and the payout's key.
    lender = models.CharField(_("lender"), max_length=30, blank=True)
    payout_key = models.UUIDField(_("payout's idempotency key"), null=True, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(_("why it failed"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox transfer")
        verbose_name_plural = _("sandbox transfers")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="sandbox_amount_positive")]

    def __str__(self) -> str:
        return self.reference
