"""Applications, offers and contracts: from a merchant's request to signed terms.

State machine (django-fsm, protected; services lock the row, call the transition, save and audit):

    draft -> submitted -> approved | referred | declined          (automated decision, synchronous)
    referred -> approved | declined                               (officer; a counter-offer is approved with new terms)
    approved -> accepted -> [lenders settled] -> contracted -> signed -> funded
    signed -> awaiting_second_approval -> funded                  (four-eyes above settings.FOUR_EYES_THRESHOLD)
    draft|submitted|approved|accepted -> withdrawn                (merchant)
    approved|accepted -> expired                                  (offer timeout, nightly job)

Transition bodies only change fields in memory; the services in ``lending.origination.services`` own everything else.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.money import MoneyField
from lending.catalogue.models import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, LoanProduct, RepaymentMethodChoice
from lending.origination.checks import four_eyes_threshold
from merchants.models import Merchant
from underwriting.choices import RiskGrade
from underwriting.models import Decision


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REFERRED = "referred", _("Referred to an officer")
    DECLINED = "declined", _("Declined")
    ACCEPTED = "accepted", _("Offer accepted")
    CONTRACTED = "contracted", _("Contract ready to sign")
    SIGNED = "signed", _("Signed")
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval", _("Awaiting second approval")
    FUNDED = "funded", _("Funded")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Offer expired")


S = ApplicationState
OPEN_STATES = (
    S.DRAFT,
    S.SUBMITTED,
    S.APPROVED,
    S.REFERRED,
    S.ACCEPTED,
    S.CONTRACTED,
    S.SIGNED,
    S.AWAITING_SECOND_APPROVAL,
)


class LoanApplication(ConcurrentTransitionMixin, models.Model):
    """A merchant's request for a loan, the decision on it, and the offer it may accept."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="applications")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="applications")
    amount = MoneyField(_("amount requested"))
    # Empty for a sales-share advance: it has no fixed term, it is repaid from a share of each day's sales.
    term = models.PositiveSmallIntegerField(
        _("term requested"),
        null=True,
        blank=True,
        help_text=_("In the product's unit; empty for a sales-share advance."),
    )
    repayment_method = models.CharField(_("repayment method"), max_length=20, choices=RepaymentMethodChoice.choices)
    # Sales-share advances only: the average daily sales (from the merchant's own history) the schedule is
    # projected from, kept so that an officer's counter-offer and the contract are priced on the same figure.
    average_daily_sales = MoneyField(_("average daily sales"), null=True, blank=True)
    # The hidden token of the web form that made the application: a double click or a resubmitted page finds
    # the application the first click made instead of making a second one (the API uses Idempotency-Key).
    submission_token = models.UUIDField(_("form token"), null=True, blank=True, editable=False)
    state = FSMField(_("state"), default=S.DRAFT, choices=S.choices, protected=True, db_index=True)
    decision = models.ForeignKey(
        Decision,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The latest automated decision."),
    )

    # The offer: set on approval (automated or by an officer, or a counter-offer); what the merchant accepts.
    offer_amount = MoneyField(_("offered amount"), null=True, blank=True)
    offer_term = models.PositiveSmallIntegerField(_("offered term"), null=True, blank=True)
    offer_repayment_method = models.CharField(
        _("offered repayment method"), max_length=20, blank=True, choices=RepaymentMethodChoice.choices
    )
    offer_grade = models.CharField(_("risk grade"), max_length=1, blank=True, choices=RiskGrade.choices)
    offer_price = models.DecimalField(
        _("offered price"), null=True, blank=True, max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES
    )
    offer_apr = models.DecimalField(_("APR (%)"), null=True, blank=True, max_digits=7, decimal_places=2)
    # The product's terms at the moment of the offer (lending.catalogue.services.products.product_terms_snapshot) and
    # the schedule
    # shown to the merchant: editing the product later never changes an offer.
    offer_terms = models.JSONField(_("offered terms"), default=dict, blank=True)
    offer_quote = models.JSONField(_("offered schedule"), default=dict, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires at"), null=True, blank=True)
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The officer who approved or counter-offered; empty when the system approved."),
    )
    is_counter_offer = models.BooleanField(_("counter-offer"), default=False)
    decline_reasons = models.JSONField(_("reasons for declining"), default=list, blank=True)
    documents_requested = models.TextField(_("documents requested"), blank=True)
    second_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who lends, settled after acceptance (lending.origination.services.lenders): the platform and any partner
    # banks that accepted, each with its share; the contract names them all. Empty until settled.
    lenders = models.JSONField(_("lenders"), default=list, blank=True)
    lenders_settled_at = models.DateTimeField(_("lenders settled at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    funded_at = models.DateTimeField(_("funded at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("withdrawn or expired at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan application")
        verbose_name_plural = _("loan applications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-created_at"]),
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["state", "offer_expires_at"]),
            # The back office's list at millions of rows: its order, and each filter followed by that order, so a
            # page is read from an index instead of sorting the table (lending.origination.admin.applications).
            models.Index(fields=["-created_at", "-id"], name="application_newest_first"),
            models.Index(fields=["product", "-created_at"], name="application_product_newest"),
            models.Index(fields=["is_counter_offer", "-created_at"], name="application_counter_newest"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "submission_token"], name="one_application_per_form_token"),
        ]
        permissions = [
            ("decide_application", "Can approve, counter-offer or decline a referred application"),
            ("second_approve_application", "Can give the second approval of a large loan"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.merchant} {self.amount} ({self.get_state_display()})"

    @property
    def needs_second_approval(self) -> bool:
        return self.offer_amount is not None and self.offer_amount > four_eyes_threshold()

    # Transitions: bodies only set fields; services lock, check, save and audit.

    @transition(field=state, source=S.DRAFT, target=S.SUBMITTED)
    def submit(self) -> None:
        self.submitted_at = timezone.now()

    @transition(field=state, source=[S.SUBMITTED, S.REFERRED], target=S.APPROVED)
    def approve(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=state, source=S.SUBMITTED, target=S.REFERRED)
    def refer(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=state, source=[S.SUBMITTED, S.REFERRED], target=S.DECLINED)
    def decline(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=state, source=S.APPROVED, target=S.ACCEPTED)
    def accept(self) -> None:
        self.accepted_at = timezone.now()

    def lenders_settled(self) -> bool:
        return self.lenders_settled_at is not None

    @transition(field=state, source=S.ACCEPTED, target=S.CONTRACTED, conditions=[lenders_settled])
    def attach_contract(self) -> None:
        pass

    @transition(field=state, source=S.CONTRACTED, target=S.SIGNED)
    def sign(self) -> None:
        self.signed_at = timezone.now()

    @transition(field=state, source=S.SIGNED, target=S.AWAITING_SECOND_APPROVAL)
    def await_second_approval(self) -> None:
        pass

    @transition(field=state, source=[S.SIGNED, S.AWAITING_SECOND_APPROVAL], target=S.FUNDED)
    def fund(self) -> None:
        self.funded_at = timezone.now()

    @transition(field=state, source=[S.DRAFT, S.SUBMITTED, S.APPROVED, S.ACCEPTED], target=S.WITHDRAWN)
    def withdraw(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=[S.APPROVED, S.ACCEPTED], target=S.EXPIRED)
    def expire(self) -> None:
        self.closed_at = timezone.now()


class Contract(models.Model):
    """One version of the loan contract for an application. A signed contract is never changed: new terms make
    a new version that must be signed again."""

    class Status(models.TextChoices):
        RENDERING = "rendering", _("Being prepared")
        READY = "ready", _("Ready to sign")
        SIGNED = "signed", _("Signed")
        SUPERSEDED = "superseded", _("Superseded")

    application = models.ForeignKey(LoanApplication, on_delete=models.PROTECT, related_name="contracts")
    version = models.PositiveSmallIntegerField(_("version"))
    document_id = models.UUIDField(_("document id"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RENDERING)
    # Everything printed in the contract, fixed when the version is made (parties, terms, schedule).
    terms = models.JSONField(_("contract terms"), default=dict)
    consent_text_version = models.CharField(_("consent text version"), max_length=20)
    pdf = models.FileField(_("PDF"), upload_to="contracts/%Y/%m/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    rendered_at = models.DateTimeField(_("rendered at"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signer_ip = models.GenericIPAddressField(_("signer's IP address"), null=True, blank=True)
    signer_user_agent = models.CharField(_("signer's browser"), max_length=400, blank=True)
    signed_sha256 = models.CharField(_("hash of the signed document"), max_length=64, blank=True)
    reauthenticated_with = models.CharField(
        _("re-authenticated with"), max_length=20, blank=True, help_text=_("password or passkey")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["application", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["application", "version"], name="one_contract_per_version"),
            models.UniqueConstraint(
                fields=["application"], condition=models.Q(status="signed"), name="one_signed_contract_per_application"
            ),
            # A new version supersedes the one in preparation or awaiting signature, so the merchant can only ever
            # be shown, and sign, one version: the database holds that even if a service forgets.
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(status__in=["rendering", "ready"]),
                name="one_open_contract_per_application",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} v{self.version} ({self.get_status_display()})"


class FinalSchedule(models.Model):
    """The repayment schedule a loan was booked on when its payout succeeded, as the PDF sent with the payout notice.

    One per loan. ``terms`` is everything it prints, fixed when it is made (the booked schedule, the payout date
    interest runs from, the booked and the signed totals and APR, and the rule that set them); the PDF is rendered
    from them after the commit and kept with its SHA-256, like the contract it completes.
    """

    class Status(models.TextChoices):
        RENDERING = "rendering", _("Being prepared")
        READY = "ready", _("Ready")

    loan = models.OneToOneField("lending.Loan", on_delete=models.PROTECT, related_name="final_schedule")
    document_id = models.UUIDField(_("document id"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RENDERING)
    terms = models.JSONField(_("schedule and terms printed"), default=dict)
    pdf = models.FileField(_("PDF"), upload_to="schedules/%Y/%m/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rendered_at = models.DateTimeField(_("rendered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("final repayment schedule")
        verbose_name_plural = _("final repayment schedules")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.loan_id} ({self.get_status_display()})"
