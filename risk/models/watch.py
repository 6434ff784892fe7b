"""What the risk firewall watches after the money is out: funded merchants whose behaviour turns (fraud after payout),
and the scorecard's population drifting (model governance).

WatchAlert: open -> dismissed | fraud. The daily job raises one per loan, kind and day at most (a re-run of the same
day adds nothing), and never a second one while one of the kind is open for the loan. Officers dismiss it with a
reason, freeze the merchant's further borrowing, or confirm it as fraud (the loan is marked as fraud).

StabilityReading: the population stability index of the active scorecard's score and of each feature, computed
daily. DriftAlert: open -> acknowledged, raised when a reading is above ``RISK_DRIFT_PSI_THRESHOLD``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition


class WatchAlertKind(models.TextChoices):
    LOAN_AND_RUN = "loan_and_run", _("Sales collapsed after payout (loan-and-run)")
    SETTLEMENT_ACCOUNT_CHANGED = "settlement_account", _("Settlement account changed after payout")
    REFUND_SPIKE = "refund_spike", _("Refunds spiking after payout")
    DORMANT = "dormant", _("Dormant since payout")


class WatchAlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DISMISSED = "dismissed", _("Dismissed")
    FRAUD = "fraud", _("Confirmed fraud")


class WatchAlert(FSMModelMixin, models.Model):
    """A funded merchant whose behaviour turned after the payout, with the evidence the job found."""

    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    loan = models.ForeignKey("lending.Loan", verbose_name=_("loan"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("what turned"), max_length=20, choices=WatchAlertKind.choices)
    raised_on = models.DateField(_("raised for the day"), db_index=True)
    # The figures compared, the dates and the thresholds in force (amounts as strings, dates ISO).
    evidence = models.JSONField(_("evidence"), default=dict)
    status = FSMField(
        _("status"), max_length=10, choices=WatchAlertStatus.choices, default=WatchAlertStatus.OPEN, protected=True
    )
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolution_note = models.TextField(_("why"), blank=True)

    class Meta:
        verbose_name = _("fraud alert after payout")
        verbose_name_plural = _("fraud alerts after payout")
        ordering = ["-raised_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "kind", "raised_on"], name="one_watch_alert_per_loan_kind_day"),
            models.UniqueConstraint(
                fields=["loan", "kind"],
                condition=models.Q(status="open"),
                name="one_open_watch_alert_per_loan_kind",
            ),
        ]
        indexes = [models.Index(fields=["status", "raised_on"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} · {self.merchant} · {_('loan')} #{self.loan_id}"

    @transition(field=status, source=WatchAlertStatus.OPEN, target=WatchAlertStatus.DISMISSED)
    def dismiss(self, *, by, note: str) -> None:
        self.resolved_at = timezone.now()
        self.resolved_by = by
        self.resolution_note = note

    @transition(field=status, source=WatchAlertStatus.OPEN, target=WatchAlertStatus.FRAUD)
    def confirm_fraud(self, *, by, note: str) -> None:
        self.resolved_at = timezone.now()
        self.resolved_by = by
        self.resolution_note = note


SCORE_SUBJECT = "score"


class StabilityReading(models.Model):
    """One day's population stability index of a scorecard's score, or of one of its features."""

    scorecard = models.ForeignKey(
        "underwriting.Scorecard", verbose_name=_("scorecard"), on_delete=models.PROTECT, related_name="+"
    )
    computed_on = models.DateField(_("day"), db_index=True)
    # "score", or the feature's code.
    subject = models.CharField(_("score or feature"), max_length=200)
    psi = models.DecimalField(_("PSI"), max_digits=10, decimal_places=4, null=True, blank=True)
    decisions = models.PositiveIntegerField(_("decisions compared"), default=0)
    baseline = models.CharField(_("compared with"), max_length=20)
    window_days = models.PositiveSmallIntegerField(_("window (days)"))
    threshold = models.DecimalField(_("alert above"), max_digits=6, decimal_places=4)
    computed_at = models.DateTimeField(_("computed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("population stability reading")
        verbose_name_plural = _("population stability readings")
        ordering = ["-computed_on", "scorecard", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "computed_on", "subject"], name="one_stability_reading_per_scorecard_day_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.computed_on} v{self.scorecard_id} {self.subject}: {self.psi}"


class DriftAlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


class DriftAlert(FSMModelMixin, models.Model):
    """A scorecard's score or feature whose population drifted beyond the threshold, for the risk managers."""

    scorecard = models.ForeignKey(
        "underwriting.Scorecard", verbose_name=_("scorecard"), on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(_("score or feature"), max_length=200)
    raised_on = models.DateField(_("raised for the day"), db_index=True)
    reading = models.ForeignKey(StabilityReading, verbose_name=_("reading"), on_delete=models.PROTECT, related_name="+")
    psi = models.DecimalField(_("PSI"), max_digits=10, decimal_places=4)
    threshold = models.DecimalField(_("alert above"), max_digits=6, decimal_places=4)
    status = FSMField(
        _("status"), max_length=12, choices=DriftAlertStatus.choices, default=DriftAlertStatus.OPEN, protected=True
    )
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledgement_note = models.TextField(_("what is being done"), blank=True)

    class Meta:
        verbose_name = _("model drift alert")
        verbose_name_plural = _("model drift alerts")
        ordering = ["-raised_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "subject", "raised_on"], name="one_drift_alert_per_scorecard_subject_day"
            ),
            models.UniqueConstraint(
                fields=["scorecard", "subject"],
                condition=models.Q(status="open"),
                name="one_open_drift_alert_per_scorecard_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} v{self.scorecard_id} {self.subject} PSI {self.psi}"

    @transition(field=status, source=DriftAlertStatus.OPEN, target=DriftAlertStatus.ACKNOWLEDGED)
    def acknowledge(self, *, by, note: str) -> None:
        self.acknowledged_at = timezone.now()
        self.acknowledged_by = by
        self.acknowledgement_note = note
