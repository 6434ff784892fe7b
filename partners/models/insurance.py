"""Co-insurance: insurers, their versioned agreements, each covered loan's cover, claims and shared recoveries.

Insurance claim (django-fsm, protected; services lock the row, call the transition, save and audit):

    opened -> submitted -> settled | rejected

A claim is opened by the daily job when a covered loan reaches the agreement's days past due (or defaults), with
the claimable amount fixed to the fen; an officer submits it to the insurer; the insurer settles it (the payment it
made is recorded) or rejects it, through the partner API or an officer in the back office. After settlement, what
the platform still recovers on the loan is shared with the insurer pro rata (``ClaimRecoveryShare``).

An agreement is never edited in place: a change is a new version, and a cover keeps the version it was made under.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.money import MoneyField
from partners.models.agreements import RateField, ShareField

# A one-off premium above 10 % of the amount lent is a typing mistake (the catalogue refuses it too).
MAX_PREMIUM_RATE = Decimal("0.1")
MAX_CLAIM_AFTER_DPD = 365


class Insurer(models.Model):
    """A licensed insurer that co-insures the platform's loans: it covers a share of the loss on defaulted loans."""

    code = models.SlugField(_("code"), max_length=30, unique=True, help_text=_("A short name used in the API."))
    legal_name_zh = models.CharField(_("legal name (Chinese)"), max_length=200)
    legal_name_en = models.CharField(_("legal name (English)"), max_length=200)
    licence_number = models.CharField(_("insurance licence number"), max_length=60)
    # The insurer's API account (role Partner): its token reaches the claims API, scoped to this insurer.
    api_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="insurer",
        verbose_name=_("API account"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("insurer")
        verbose_name_plural = _("insurers")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.legal_name_zh} {self.legal_name_en}"


class PremiumPayer(models.TextChoices):
    BORROWER = "borrower", _("The borrower (in the quote, the contract and the APR)")
    PLATFORM = "platform", _("The platform (a cost in the portfolio figures)")


class InsuranceAgreement(models.Model):
    """One version of an insurer's agreement: what it covers, which share of the loss, and the premium.

    ``premium_rate`` is a one-off fraction of the amount lent, due when the loan is paid out: the borrower's, withheld
    from the payout (in every quote, offer, schedule and contract, and in the APR), or the platform's own cost.
    ``cover_share`` is the fraction of the principal and interest lost on a defaulted loan the insurer pays.
    Invariants kept by ``partners.services.insurance``: versions of one insurer are numbered 1, 2, 3…; only the newest
    active one covers new loans.
    """

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField(_("version"))
    is_active = models.BooleanField(_("active"), default=True)
    products = models.ManyToManyField(
        "lending.LoanProduct", related_name="insurance_agreements", verbose_name=_("products")
    )
    grades = models.JSONField(_("risk grades"), default=list, help_text=_('The grades it covers, e.g. ["A", "B"].'))
    cover_share = ShareField(
        _("cover share"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal(1))],
        help_text=_("The fraction of the principal and interest lost that the insurer pays (0.8000 is 80 %)."),
    )
    premium_rate = RateField(
        _("premium rate"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_PREMIUM_RATE)],
        help_text=_("A one-off fraction of the amount lent, due at payout (0.008 is 0.8 %)."),
    )
    premium_payer = models.CharField(_("premium paid by"), max_length=10, choices=PremiumPayer.choices)
    claim_after_dpd = models.PositiveSmallIntegerField(
        _("claim after days past due"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CLAIM_AFTER_DPD)],
        help_text=_("A claim opens when a covered loan is this many days past due, or defaults."),
    )
    note = models.TextField(_("what changed"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("insurance agreement")
        verbose_name_plural = _("insurance agreements")
        ordering = ["insurer", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["insurer", "version"], name="one_insurance_agreement_version_per_number"),
            models.CheckConstraint(
                condition=models.Q(cover_share__gt=0, cover_share__lte=1), name="insurance_cover_share_range"
            ),
            models.CheckConstraint(
                condition=models.Q(premium_rate__gte=0, premium_rate__lte=MAX_PREMIUM_RATE),
                name="insurance_premium_rate_range",
            ),
        ]
        permissions = [("manage_insurance_agreement", "Can set insurance agreements")]

    def __str__(self) -> str:
        return f"{self.insurer.code} v{self.version}"


class InsuranceCover(models.Model):
    """A loan's insurance, made when it is paid out under the newest active agreement version that fits it."""

    loan = models.OneToOneField("lending.Loan", on_delete=models.PROTECT, related_name="insurance_cover")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="covers")
    agreement = models.ForeignKey(InsuranceAgreement, on_delete=models.PROTECT, related_name="covers")
    cover_share = ShareField(_("cover share"))
    premium = MoneyField(_("premium"), help_text=_("The one-off premium for this loan, in yuan."))
    premium_payer = models.CharField(_("premium paid by"), max_length=10, choices=PremiumPayer.choices)
    covered_principal = MoneyField(_("principal covered"))
    created_at = models.DateTimeField(_("covered from"), auto_now_add=True)

    class Meta:
        verbose_name = _("insurance cover")
        verbose_name_plural = _("insurance covers")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.loan_id} {self.insurer.code} {self.cover_share}"


class ClaimState(models.TextChoices):
    OPENED = "opened", _("Opened")
    SUBMITTED = "submitted", _("Submitted to the insurer")
    SETTLED = "settled", _("Settled")
    REJECTED = "rejected", _("Rejected")


class InsuranceClaim(ConcurrentTransitionMixin, models.Model):
    """A claim on a covered loan's loss: ``claimable`` = cover share x (principal + interest lost), half-up to the fen.

    One claim per loan, ever: a loan is lost once.
    """

    loan = models.OneToOneField("lending.Loan", on_delete=models.PROTECT, related_name="insurance_claim")
    cover = models.ForeignKey(InsuranceCover, on_delete=models.PROTECT, related_name="claims")
    state = FSMField(_("state"), default=ClaimState.OPENED, choices=ClaimState.choices, protected=True)
    loss_on = models.DateField(_("loss counted on"))
    days_past_due = models.PositiveIntegerField(_("days past due"))
    principal_lost = MoneyField(_("principal lost"))
    interest_lost = MoneyField(_("interest lost"), help_text=_("Interest due and unpaid on the day counted."))
    claimable = MoneyField(_("claimable"))
    settled_amount = MoneyField(_("amount paid by the insurer"), null=True, blank=True)
    insurer_reference = models.CharField(_("insurer's reference"), max_length=64, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)

    class Meta:
        verbose_name = _("insurance claim")
        verbose_name_plural = _("insurance claims")
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["state", "-opened_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(claimable__gte=0), name="claim_claimable_not_negative"),
            models.CheckConstraint(
                condition=models.Q(settled_amount__isnull=True) | models.Q(settled_amount__gt=0),
                name="claim_settled_amount_positive",
            ),
        ]
        permissions = [("act_on_claim", "Can submit, settle and reject insurance claims")]

    def __str__(self) -> str:
        return f"#{self.loan_id} {self.claimable} ({self.get_state_display()})"

    @property
    def loss(self) -> Decimal:
        return self.principal_lost + self.interest_lost

    @transition(field=state, source=ClaimState.OPENED, target=ClaimState.SUBMITTED)
    def submit(self, *, at) -> None:
        self.submitted_at = at

    @transition(field=state, source=ClaimState.SUBMITTED, target=ClaimState.SETTLED)
    def settle(self, *, at, amount: Decimal, reference: str) -> None:
        self.settled_at = at
        self.settled_amount = amount
        self.insurer_reference = reference

    @transition(field=state, source=[ClaimState.OPENED, ClaimState.SUBMITTED], target=ClaimState.REJECTED)
    def reject(self, *, at, reason: str, reference: str = "") -> None:
        self.rejected_at = at
        self.reason = reason
        if reference:
            self.insurer_reference = reference


class ClaimRecoveryShare(models.Model):
    """The insurer's part of one payment received on a loan after its claim was settled (subrogation)."""

    claim = models.ForeignKey(InsuranceClaim, on_delete=models.PROTECT, related_name="recovery_shares")
    payment = models.ForeignKey("lending.Payment", on_delete=models.PROTECT, related_name="+")
    recovered = MoneyField(_("principal and interest recovered"))
    amount = MoneyField(_("passed to the insurer"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("recovery shared with the insurer")
        verbose_name_plural = _("recoveries shared with the insurer")
        ordering = ["claim", "id"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "payment"], name="one_recovery_share_per_payment"),
        ]

    def __str__(self) -> str:
        return f"#{self.claim.loan_id} {self.amount}"
