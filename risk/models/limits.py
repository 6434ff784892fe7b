"""Exposure limits: what the portfolio may hold per merchant, industry, region, product, lender, insurer and in all.

A limit is a stable identity (kind and key), locked by every check that reads it, and its versions: each change is a
new version, proposed by one risk manager and activated by another (the old one is kept, superseded). A version
sets an amount, a share of the portfolio, or both (the lower binds); one with neither lifts the limit.

A payout an exposure limit holds is a ``PayoutHold``: officers see it, with the limits named, and release it when
there is room (the payout is checked again then).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.money import MoneyField


class LimitKind(models.TextChoices):
    MERCHANT = "merchant", _("Merchant")
    INDUSTRY = "industry", _("Industry")
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    PRODUCT = "product", _("Product")
    LENDER = "lender", _("Funding share (platform or partner)")
    INSURER = "insurer", _("Insurer cover")
    PORTFOLIO = "portfolio", _("Whole portfolio")


class ExposureLimit(models.Model):
    """What is limited: a kind and its key (a credit code, an industry or division code, a product or lender code).

    The row every check locks (in primary-key order), whichever version is in force: two approvals or payouts under
    the same limit are counted one after the other.
    """

    kind = models.CharField(_("kind"), max_length=12, choices=LimitKind.choices)
    key = models.CharField(
        _("what is limited"),
        max_length=80,
        blank=True,
        help_text=_(
            "A merchant's credit code, an industry code, a province's division code, 'province code/city', a product "
            "code, a lender code ('platform' for the platform's own share) or an insurer code; empty for the whole "
            "portfolio."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("exposure limit")
        verbose_name_plural = _("exposure limits")
        ordering = ["kind", "key"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="one_exposure_limit_per_kind_and_key")]
        permissions = [
            ("propose_exposurelimit", "Can propose a change to an exposure limit"),
            ("activate_exposurelimit", "Can activate an exposure limit another risk manager proposed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}".strip()


class LimitVersion(models.Model):
    """One version of a limit's figures, from its proposal to its activation (or rejection) and supersession."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Awaiting a second risk manager")
        ACTIVE = "active", _("In force")
        SUPERSEDED = "superseded", _("Superseded")
        REJECTED = "rejected", _("Rejected")

    limit = models.ForeignKey(ExposureLimit, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PROPOSED)
    amount = MoneyField(_("limit amount (yuan)"), null=True, blank=True)
    share_percent = models.DecimalField(
        _("limit as a share of the portfolio (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    reason = models.TextField(_("why"), help_text=_("The proposer's reason; the second risk manager reads it."))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("second risk manager's note"), blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("exposure limit version")
        verbose_name_plural = _("exposure limit versions")
        ordering = ["limit", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["limit", "version"], name="one_limit_version_number"),
            models.UniqueConstraint(
                fields=["limit"], condition=models.Q(status="active"), name="one_active_version_per_limit"
            ),
            models.UniqueConstraint(
                fields=["limit"], condition=models.Q(status="proposed"), name="one_proposed_version_per_limit"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0), name="limit_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(share_percent__isnull=True) | models.Q(share_percent__gt=0, share_percent__lte=100),
                name="limit_share_within_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.limit} v{self.version}"

    @property
    def lifts(self) -> bool:
        """A version with neither an amount nor a share removes the limit."""
        return self.amount is None and self.share_percent is None


class PayoutHold(models.Model):
    """A signed loan whose payout an exposure limit holds, until an officer (or the retry) finds room for it."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        RELEASED = "released", _("Released")

    application = models.ForeignKey("lending.LoanApplication", on_delete=models.PROTECT, related_name="payout_holds")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    limits = models.JSONField(_("limits hit"), default=list)
    reason_en = models.TextField(_("reason (English)"))
    reason_zh = models.TextField(_("reason (Chinese)"))
    held_at = models.DateTimeField(_("held at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("last checked at"), auto_now=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("payout held by a limit")
        verbose_name_plural = _("payouts held by a limit")
        ordering = ["-held_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"], condition=models.Q(status="held"), name="one_open_payout_hold_per_application"
            )
        ]

    def __str__(self) -> str:
        return f"{_('Payout hold')} #{self.pk} ({_('application')} #{self.application_id})"


__all__ = ["ExposureLimit", "LimitKind", "LimitVersion", "PayoutHold"]
