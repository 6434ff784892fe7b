"""Funding partners (licensed banks), their co-lending agreements, the offers made to them and loans' shares.

Partner offer (django-fsm, protected; services lock the row, call the transition, save and audit):

    offered -> accepted | declined | lapsed        (the partner answers through the API, or the window closes)

An agreement is never edited in place: a change is a new version, and an offer, a share and a loan keep the
version they were made under.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.money import MoneyField

# The rule for co-funded internet loans: the platform keeps at least 30 % of every loan it co-funds.
PLATFORM_MIN_SHARE = Decimal("0.30")
# A bank may hold at most 25 % of its tier-1 capital in loans made with one cooperating platform.
TIER1_CAPITAL_CAP = Decimal("0.25")
SHARE_MAX_DIGITS = 5
SHARE_DECIMAL_PLACES = 4
RATE_MAX_DIGITS = 7
RATE_DECIMAL_PLACES = 6


class ShareField(models.DecimalField):
    """A fraction of a loan's principal, four places (0.7000 is 70 %)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", SHARE_MAX_DIGITS)
        kwargs.setdefault("decimal_places", SHARE_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "partners.models.agreements.ShareField", args, kwargs


class RateField(models.DecimalField):
    """An annual rate as a fraction, six places (0.045000 is 4.5 % a year)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", RATE_MAX_DIGITS)
        kwargs.setdefault("decimal_places", RATE_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "partners.models.agreements.RateField", args, kwargs


class FundingPartner(models.Model):
    """A licensed bank that co-funds the platform's loans under an agreement, deciding each loan itself."""

    code = models.SlugField(_("code"), max_length=30, unique=True, help_text=_("A short name used in the API."))
    legal_name_zh = models.CharField(_("legal name (Chinese)"), max_length=200)
    legal_name_en = models.CharField(_("legal name (English)"), max_length=200)
    licence_number = models.CharField(_("financial licence number"), max_length=60)
    # The account each payout's share is debited from and each settlement is paid into.
    funding_account_number = models.CharField(_("funding account number"), max_length=34)
    funding_account_name = models.CharField(_("funding account name"), max_length=200)
    funding_bank_name = models.CharField(_("funding account bank"), max_length=100)
    # The partner's API account (role Partner): its token authenticates the partner API, scoped to this partner.
    api_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="funding_partner",
        verbose_name=_("API account"),
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True, help_text=_("Where events are delivered (HTTPS)."))
    # Webhooks are signed with the current secret; the previous one stays valid while the partner rotates.
    webhook_secret = models.CharField(_("webhook secret"), max_length=128, blank=True, editable=False)
    webhook_secret_previous = models.CharField(_("previous webhook secret"), max_length=128, blank=True, editable=False)
    webhook_secret_rotated_at = models.DateTimeField(_("webhook secret rotated at"), null=True, blank=True)
    # When set, every partner API request must carry X-Partner-Timestamp and X-Partner-Signature, signed with the
    # webhook secret (``partners.api.signing``): a stolen token alone is then not enough.
    request_signing_required = models.BooleanField(
        _("API requests must be signed"),
        default=False,
        help_text=_("Requests without a valid X-Partner-Signature (HMAC-SHA256 with the webhook secret) get 403."),
    )
    # The order partners are offered loans in when more than one agreement fits (lower first).
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("funding partner")
        verbose_name_plural = _("funding partners")
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.legal_name_zh} {self.legal_name_en}"


class FeeRule(models.TextChoices):
    """Who keeps the fees and late fees a borrower pays on a co-funded loan."""

    PLATFORM = "platform", _("The platform keeps them")
    PRO_RATA = "pro_rata", _("Shared by each lender's share of the principal")


class CoLendingAgreement(models.Model):
    """One version of a partner's agreement: what it takes, its share and rate, its caps and the platform's fee.

    Invariants kept by ``partners.services.agreements``: the share leaves the platform at least 30 %; the cap on
    outstanding follows from the tier-1 capital (25 %); versions of one partner are numbered 1, 2, 3…, and only the
    newest active one is offered new loans.
    """

    partner = models.ForeignKey(FundingPartner, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField(_("version"))
    is_active = models.BooleanField(_("active"), default=True)
    products = models.ManyToManyField(
        "lending.LoanProduct", related_name="co_lending_agreements", verbose_name=_("products")
    )
    grades = models.JSONField(_("risk grades"), default=list, help_text=_('The grades it takes, e.g. ["A", "B"].'))
    share = ShareField(
        _("partner's share"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal(1) - PLATFORM_MIN_SHARE)],
        help_text=_("Its fraction of each loan it joins (0.7000 is 70 %); the platform keeps at least 30 %."),
    )
    interest_rate = RateField(
        _("partner's interest rate"),
        help_text=_(
            "A year, on its share's outstanding principal (0.045 is 4.5 %); the rest is the platform's margin."
        ),
    )
    tier1_capital = MoneyField(_("tier-1 capital"), help_text=_("The partner's tier-1 capital, in yuan."))
    daily_quota = MoneyField(_("daily funding quota"), help_text=_("The most it funds in one day, in yuan."))
    min_amount = MoneyField(_("smallest loan"))
    max_amount = MoneyField(_("largest loan"))
    service_fee_rate = RateField(
        _("platform service fee rate"),
        help_text=_("A year, on the partner's outstanding principal: what the platform charges it for servicing."),
    )
    fee_rule = models.CharField(
        _("fees and late fees"), max_length=10, choices=FeeRule.choices, default=FeeRule.PLATFORM
    )
    answer_window_hours = models.PositiveSmallIntegerField(
        _("answer window (hours)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text=_("How long the partner has to accept or decline an offered loan."),
    )
    note = models.TextField(_("what changed"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("co-lending agreement")
        verbose_name_plural = _("co-lending agreements")
        ordering = ["partner", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "version"], name="one_agreement_version_per_number"),
            models.CheckConstraint(
                condition=models.Q(share__gt=0, share__lte=Decimal(1) - PLATFORM_MIN_SHARE),
                name="agreement_leaves_platform_thirty_percent",
            ),
            models.CheckConstraint(condition=models.Q(min_amount__lte=models.F("max_amount")), name="agreement_range"),
        ]
        permissions = [("manage_agreement", "Can set co-lending and insurance agreements")]

    def __str__(self) -> str:
        return f"{self.partner.code} v{self.version}"

    @property
    def exposure_cap(self) -> Decimal:
        """The most the partner may have outstanding with the platform: 25 % of its tier-1 capital."""
        return (self.tier1_capital * TIER1_CAPITAL_CAP).quantize(Decimal("0.01"))


class OfferState(models.TextChoices):
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    LAPSED = "lapsed", _("Lapsed")


class PartnerOffer(ConcurrentTransitionMixin, models.Model):
    """A loan offered to one partner under one agreement version; the partner accepts or declines it itself."""

    application = models.ForeignKey("lending.LoanApplication", on_delete=models.PROTECT, related_name="partner_offers")
    partner = models.ForeignKey(FundingPartner, on_delete=models.PROTECT, related_name="offers")
    agreement = models.ForeignKey(CoLendingAgreement, on_delete=models.PROTECT, related_name="offers")
    share = ShareField(_("share offered"))
    principal = MoneyField(_("principal offered"), help_text=_("The share of the offered amount."))
    state = FSMField(_("state"), default=OfferState.OFFERED, choices=OfferState.choices, protected=True)
    offered_at = models.DateTimeField(_("offered at"), auto_now_add=True)
    answer_by = models.DateTimeField(_("answer by"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    partner_reference = models.CharField(_("partner's reference"), max_length=64, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("partner offer")
        verbose_name_plural = _("partner offers")
        ordering = ["-offered_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "state", "-offered_at"]),
            models.Index(fields=["state", "answer_by"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["application", "partner"], name="one_offer_per_partner_and_application"),
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(state=OfferState.OFFERED),
                name="one_open_partner_offer_per_application",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.application_id} → {self.partner.code} ({self.get_state_display()})"

    @transition(field=state, source=OfferState.OFFERED, target=OfferState.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=state, source=OfferState.OFFERED, target=OfferState.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=state, source=OfferState.OFFERED, target=OfferState.LAPSED)
    def lapse(self) -> None:
        pass


class LoanShare(models.Model):
    """One lender's part of a loan: the platform's (``partner`` empty) or a partner's, fixed at payout.

    The shares' principals sum exactly to the loan's principal (``partners.services.shares``).
    """

    loan = models.ForeignKey("lending.Loan", on_delete=models.PROTECT, related_name="shares")
    partner = models.ForeignKey(
        FundingPartner, null=True, blank=True, on_delete=models.PROTECT, related_name="loan_shares"
    )
    agreement = models.ForeignKey(
        CoLendingAgreement, null=True, blank=True, on_delete=models.PROTECT, related_name="loan_shares"
    )
    share = ShareField(_("share"))
    principal = MoneyField(_("principal"))
    # The partner's own rate on its share (the borrower's interest above it is the platform's margin); empty for
    # the platform's share.
    interest_rate = RateField(_("lender's interest rate"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("loan share")
        verbose_name_plural = _("loan shares")
        ordering = ["loan", "partner__priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "partner"], name="one_share_per_partner_and_loan"),
            models.UniqueConstraint(
                fields=["loan"], condition=models.Q(partner__isnull=True), name="one_platform_share_per_loan"
            ),
            models.CheckConstraint(condition=models.Q(principal__gt=0), name="share_principal_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.lender_code} {self.principal}"

    @property
    def lender_code(self) -> str:
        return self.partner.code if self.partner_id else "platform"
