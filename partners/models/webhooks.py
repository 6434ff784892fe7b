"""The webhooks outbox: one row per event for one partner, written in the transaction of the event itself.

A Celery task delivers each row, signed with the partner's secret, and retries with exponential backoff for at
least a day; every attempt is kept. An event's ``key`` makes recording it twice record it once.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.models.agreements import FundingPartner


class WebhookEventType(models.TextChoices):
    OFFER = "loan.offered", _("A loan is offered")
    FUNDING = "loan.funded", _("A loan is paid out")
    REPAYMENT = "loan.repayment", _("A repayment is distributed")
    OVERDUE = "loan.overdue", _("A loan is overdue")
    DEFAULT = "loan.defaulted", _("A loan defaulted")
    SETTLEMENT = "settlement.ready", _("A daily settlement is ready")


class WebhookEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be delivered")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Gave up; re-send from admin")

    partner = models.ForeignKey(FundingPartner, on_delete=models.PROTECT, related_name="webhook_events")
    event = models.CharField(_("event"), max_length=30, choices=WebhookEventType.choices)
    key = models.CharField(_("event key"), max_length=120, help_text=_("Unique per partner: the same event once."))
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # Failed attempts are retried with backoff until this moment (a day after the event, or after a re-send).
    retry_until = models.DateTimeField(_("retried until"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="one_webhook_event_per_key")]
        permissions = [("resend_webhook", "Can re-send a webhook event")]

    def __str__(self) -> str:
        return f"{self.partner.code} {self.event} {self.key}"


class WebhookDelivery(models.Model):
    """One attempt to deliver an event: what was sent, what came back, how long it took."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempted_at = models.DateTimeField(_("attempted at"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        verbose_name = _("webhook delivery attempt")
        verbose_name_plural = _("webhook delivery attempts")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.status_code or self.error}"


class PartnerCredentials(FundingPartner):
    """A partner seen for its credentials: its API token, its webhook URL and secret, and request signing.

    A back-office page of its own (``partners.admin.webhooks``), apart from the agreements, with the one
    permission that lets an officer rotate a partner's secrets.
    """

    class Meta:
        proxy = True
        verbose_name = _("partner credentials")
        verbose_name_plural = _("partner credentials")
        permissions = [("rotate_partner_credentials", "Can rotate a partner's API token and webhook secret")]
