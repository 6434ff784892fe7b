import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import MoneyField
from merchants.choices import DocumentKind, Industry, KycState, OcrStatus, Province, SalesSource
from merchants.validators import mask_resident_id, validate_credit_code, validate_mobile, validate_resident_id

REQUIRED_DOCUMENTS = (DocumentKind.BUSINESS_LICENCE, DocumentKind.ID_FRONT, DocumentKind.ID_BACK)
PROFILE_FIELDS = (
    "legal_name",
    "credit_code",
    "industry",
    "province",
    "city",
    "founded_on",
    "legal_rep_name",
    "legal_rep_id_number",
    "mobile",
    "settlement_bank_name",
    "settlement_account_name",
    "settlement_account_number",
)


class Merchant(FSMModelMixin, models.Model):
    """A business that takes payments on the platform, its identity and where its money goes."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="merchant"
    )
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_credit_code],
        help_text=_("18 characters, as printed on the business licence."),
    )
    industry = models.CharField(_("industry"), max_length=8, choices=Industry.choices, blank=True)
    province = models.CharField(_("province"), max_length=6, choices=Province.choices, blank=True)
    city = models.CharField(_("city"), max_length=60, blank=True)
    founded_on = models.DateField(_("founding date"), null=True, blank=True)
    legal_rep_name = models.CharField(_("legal representative"), max_length=60, blank=True)
    legal_rep_id_number = models.CharField(
        _("legal representative's resident ID number"), max_length=18, blank=True, validators=[validate_resident_id]
    )
    mobile = models.CharField(_("mobile number"), max_length=11, blank=True, validators=[validate_mobile])
    settlement_bank_name = models.CharField(_("settlement bank"), max_length=100, blank=True)
    settlement_account_name = models.CharField(_("settlement account name"), max_length=200, blank=True)
    settlement_account_number = models.CharField(
        _("settlement account number"), max_length=34, blank=True, help_text=_("Payouts and repayments use it.")
    )

    kyc_state = FSMField(
        _("KYC status"), default=KycState.DRAFT, choices=KycState.choices, protected=True, db_index=True
    )
    kyc_rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    kyc_submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    kyc_reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    kyc_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # An officer's stop on new borrowing (fraud watched after payout), apart from KYC: the merchant stays verified
    # and keeps repaying, but no new application is made or submitted while it is set
    # (``merchants.services.borrowing_freeze``).
    borrowing_frozen_at = models.DateTimeField(_("borrowing frozen at"), null=True, blank=True)
    borrowing_frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("borrowing frozen by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    borrowing_frozen_reason = models.TextField(_("why borrowing is frozen"), blank=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~models.Q(credit_code=""),
                name="merchant_unique_credit_code",
                violation_error_message=_("Another merchant is already registered with this credit code."),
            )
        ]
        indexes = [
            models.Index(fields=["legal_rep_id_number"]),
            models.Index(fields=["settlement_account_number"]),
            models.Index(fields=["industry", "province"]),
        ]
        permissions = [
            ("review_kyc", "Can verify or reject a merchant's KYC"),
            ("suspend_merchant", "Can suspend or reinstate a verified merchant"),
            ("view_full_identity", "Can see unmasked identity numbers"),
            ("freeze_borrowing", "Can freeze a merchant's further borrowing"),
        ]

    def __str__(self) -> str:
        return self.legal_name or f"{_('Merchant')} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("merchants:dashboard")

    @property
    def borrowing_frozen(self) -> bool:
        return self.borrowing_frozen_at is not None

    @property
    def masked_id_number(self) -> str:
        return mask_resident_id(self.legal_rep_id_number) if self.legal_rep_id_number else ""

    def missing_profile_fields(self) -> list[str]:
        return [name for name in PROFILE_FIELDS if not getattr(self, name)]

    def missing_documents(self) -> list[str]:
        present = set(self.documents.values_list("kind", flat=True))
        return [kind for kind in REQUIRED_DOCUMENTS if kind not in present]

    def is_ready_to_submit(self) -> bool:
        return not self.missing_profile_fields() and not self.missing_documents()

    # KYC transitions. Bodies only change fields in memory; services lock, save and audit.

    @transition(
        field=kyc_state,
        source=[KycState.DRAFT, KycState.REJECTED],
        target=KycState.SUBMITTED,
        conditions=[is_ready_to_submit],
    )
    def submit_kyc(self) -> None:
        self.kyc_submitted_at = timezone.now()
        self.kyc_rejection_reason = ""

    @transition(field=kyc_state, source=KycState.SUBMITTED, target=KycState.VERIFIED, permission="merchants.review_kyc")
    def verify_kyc(self, *, by) -> None:
        self.kyc_reviewed_at = timezone.now()
        self.kyc_reviewed_by = by

    @transition(field=kyc_state, source=KycState.SUBMITTED, target=KycState.REJECTED, permission="merchants.review_kyc")
    def reject_kyc(self, *, by, reason: str) -> None:
        self.kyc_reviewed_at = timezone.now()
        self.kyc_reviewed_by = by
        self.kyc_rejection_reason = reason

    @transition(
        field=kyc_state, source=KycState.VERIFIED, target=KycState.SUSPENDED, permission="merchants.suspend_merchant"
    )
    def suspend(self) -> None:
        pass

    @transition(
        field=kyc_state, source=KycState.SUSPENDED, target=KycState.VERIFIED, permission="merchants.suspend_merchant"
    )
    def reinstate(self) -> None:
        pass


def document_upload_to(instance: "KycDocument", filename: str) -> str:
    # The merchant's file name never reaches the disk: the server names every stored file.
    return f"kyc/{instance.merchant_id}/{uuid.uuid4().hex}.{instance.extension}"


class KycDocument(models.Model):
    """A business licence or ID card image the merchant uploaded, checked by its content."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentKind.choices)
    file = models.FileField(_("file"), upload_to=document_upload_to)
    content_type = models.CharField(_("content type"), max_length=40)
    extension = models.CharField(max_length=4)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(_("original file name"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    # A licence photo is read by OCR in a task after the upload commits; the reading waits here for the merchant.
    ocr_status = models.CharField(_("OCR"), max_length=12, choices=OcrStatus.choices, default=OcrStatus.NONE)
    ocr_reading = models.JSONField(_("OCR reading"), default=dict, blank=True)

    class Meta:
        verbose_name = _("KYC document")
        verbose_name_plural = _("KYC documents")
        ordering = ["merchant", "kind", "-uploaded_at"]
        constraints = [models.UniqueConstraint(fields=["merchant", "kind"], name="one_document_per_kind")]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.get_kind_display()}"

    def get_absolute_url(self) -> str:
        return reverse("merchants:document", kwargs={"pk": self.pk})


class CreditFileManager(models.Manager):
    """The credit file: the current version of each day the platform's settlement feed reported.

    It is ``SalesDay.objects`` on purpose, so every read that decides, prices or collects (features, fraud
    signals, limits, the sales-share sweep) sees platform figures only, never a merchant's declaration and
    never a corrected-away version. Reads that show or write every row use ``SalesDay.all_rows``.
    """

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(source=SalesSource.PLATFORM, superseded_at__isnull=True)


class SalesDay(models.Model):
    """One day of a merchant's takings, with where the figures came from.

    Platform rows come from the payment platform's settlement feed (its API credential or an operator's
    ``import_sales``); declared rows are sales the merchant says it took elsewhere, evidence for an officer
    and never input to an automated decision. Rows are never changed in place: a correction is a new version,
    and the row it replaces keeps its figures with ``superseded_at`` set, so what a decision saw stays on file.
    """

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="sales_days"
    )
    date = models.DateField(_("date"))
    gross_sales = MoneyField(_("gross sales"))
    refunds = MoneyField(_("refunds"))
    transaction_count = models.PositiveIntegerField(_("transactions"))
    distinct_customers = models.PositiveIntegerField(_("distinct customers"))
    # The database default serves bulk loads that name their columns (the demo's COPY) and rows written
    # before sources existed; every service states the source it writes explicitly.
    source = models.CharField(
        _("source"),
        max_length=8,
        choices=SalesSource.choices,
        default=SalesSource.PLATFORM,
        db_default=SalesSource.PLATFORM,
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1, db_default=1)
    batch_id = models.CharField(
        _("batch"),
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text=_("The feed batch or upload it came in."),
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    objects = CreditFileManager()
    all_rows = models.Manager()  # noqa: DJ012 - a second manager, not a field: ruff cannot tell

    class Meta:
        verbose_name = _("sales day")
        verbose_name_plural = _("sales days")
        ordering = ["merchant", "date"]
        base_manager_name = "all_rows"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "date", "source"],
                condition=models.Q(superseded_at__isnull=True),
                name="one_current_sales_row_per_merchant_day_source",
            ),
            models.UniqueConstraint(
                fields=["merchant", "date", "source", "version"], name="one_sales_version_per_merchant_day_source"
            ),
            models.CheckConstraint(condition=models.Q(gross_sales__gte=0), name="sales_gross_not_negative"),
            models.CheckConstraint(condition=models.Q(refunds__gte=0), name="sales_refunds_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.date} {self.gross_sales} ({self.source} v{self.version})"

    @property
    def is_declared(self) -> bool:
        return self.source == SalesSource.DECLARED
