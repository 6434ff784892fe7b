"""Stress scenarios set by risk managers, and the runs of a scenario over the live portfolio.

A run is computed by Celery tasks, one per chunk of loans (a range of loan ids); each chunk writes its own partial
sums (``StressRunChunk``), so a chunk run twice replaces its partial and never counts twice, and the run is summed
up from the partials when the last chunk is in.

StressRun: running -> finished | failed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from merchants.choices import Industry, Province


class SalesShockScope(models.TextChoices):
    PORTFOLIO = "portfolio", _("the whole portfolio")
    INDUSTRY = "industry", _("one industry")
    REGION = "region", _("one region")


PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": [MinValueValidator(0), MaxValueValidator(100)]}


class StressScenario(models.Model):
    """What a risk manager asks the portfolio to survive; any fields together make a combined scenario.

    Each change bumps ``version``; a run keeps the version and a copy of every input it used, so runs of the same
    scenario stay comparable after it is edited.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    sales_shock_percent = models.DecimalField(
        _("sales shock (%)"),
        default=0,
        help_text=_("How far merchants' sales fall, from 0 to 100 %."),
        **PERCENT,
    )
    sales_shock_scope = models.CharField(
        _("sales shock applies to"), max_length=10, choices=SalesShockScope.choices, default=SalesShockScope.PORTFOLIO
    )
    sales_shock_industry = models.CharField(_("industry shocked"), max_length=8, choices=Industry.choices, blank=True)
    sales_shock_region = models.CharField(_("region shocked"), max_length=6, choices=Province.choices, blank=True)
    sales_pd_elasticity = models.DecimalField(
        _("PD sensitivity to sales"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("2.000"),
        validators=[MinValueValidator(0)],
        help_text=_("A sales fall of s multiplies the PD of the loans it hits by 1 + sensitivity × s."),
    )
    pd_multiplier = models.DecimalField(
        _("PD multiplier"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("1.000"),
        validators=[MinValueValidator(0)],
        help_text=_("Every loan's PD is multiplied by this (1 leaves it as it is); a PD never exceeds 1."),
    )
    lgd_percent = models.DecimalField(
        _("loss given default (%)"), default=Decimal("45.00"), help_text=_("From 0 to 100 %."), **PERCENT
    )
    fallback_pd_percent = models.DecimalField(
        _("PD where the decision gave none (%)"),
        default=Decimal("5.00"),
        help_text=_("For loans whose decision has no PD (e.g. decided before a scorecard), from 0 to 100 %."),
        **PERCENT,
    )
    funding_rate_shock_bp = models.IntegerField(
        _("rate shock on floating partner funding (basis points)"),
        default=0,
        validators=[MinValueValidator(-1000), MaxValueValidator(2000)],
        help_text=_("Added to what partners' floating funding costs the platform until each loan's maturity."),
    )
    capital_ratio_percent = models.DecimalField(
        _("capital ratio (%)"),
        default=Decimal("8.00"),
        help_text=_("Capital the platform keeps against its share of what stays on the book, from 0 to 100 %."),
        **PERCENT,
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stress scenario")
        verbose_name_plural = _("stress scenarios")
        ordering = ["name"]
        permissions = [("run_stress_test", "Can run a stress scenario over the portfolio")]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def clean(self) -> None:
        # A shock on one industry or region must say which; a shock on the whole portfolio names none.
        errors = {}
        scope = self.sales_shock_scope
        if scope == SalesShockScope.INDUSTRY and not self.sales_shock_industry:
            errors["sales_shock_industry"] = _("Choose the industry whose sales fall.")
        if scope == SalesShockScope.REGION and not self.sales_shock_region:
            errors["sales_shock_region"] = _("Choose the region whose sales fall.")
        if scope != SalesShockScope.INDUSTRY and self.sales_shock_industry:
            errors["sales_shock_industry"] = _("Name an industry only when the sales shock applies to one industry.")
        if scope != SalesShockScope.REGION and self.sales_shock_region:
            errors["sales_shock_region"] = _("Name a region only when the sales shock applies to one region.")
        if errors:
            raise ValidationError(errors)


class StressRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")


class StressRun(ConcurrentTransitionMixin, models.Model):
    """One run of a scenario over the portfolio as it was when it ran: inputs, version, time and results."""

    scenario = models.ForeignKey(StressScenario, on_delete=models.PROTECT, related_name="runs")
    scenario_version = models.PositiveIntegerField(_("scenario version"))
    # Every input the run used (the scenario's fields, the delinquency factors, the chunk size, the date).
    inputs = models.JSONField(_("inputs"), default=dict)
    as_of = models.DateField(_("portfolio as of"))
    status = FSMField(
        _("status"), default=StressRunStatus.RUNNING, choices=StressRunStatus.choices, protected=True, db_index=True
    )
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    # The run's figures, amounts as strings rounded to the fen (see ``risk.services.stress``).
    results = models.JSONField(_("results"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stress run")
        verbose_name_plural = _("stress runs")
        ordering = ["-started_at", "-id"]
        permissions = [("view_portfolio_dashboard", "Can view the portfolio dashboard")]

    def __str__(self) -> str:
        return f"{_('Stress run')} #{self.pk} {self.scenario.name} v{self.scenario_version}"

    @transition(field=status, source=StressRunStatus.RUNNING, target=StressRunStatus.FINISHED)
    def finish(self, *, results: dict) -> None:
        self.results = results
        self.finished_at = timezone.now()

    @transition(field=status, source=StressRunStatus.RUNNING, target=StressRunStatus.FAILED)
    def fail(self, *, error: str) -> None:
        self.error = error
        self.finished_at = timezone.now()


class StressRunChunk(models.Model):
    """One chunk's partial sums: loans with ids from ``first_loan_id`` to ``last_loan_id``, both included."""

    run = models.ForeignKey(StressRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField(_("chunk"))
    first_loan_id = models.BigIntegerField(_("first loan id"))
    last_loan_id = models.BigIntegerField(_("last loan id"))
    # Unrounded sums as strings (rounding happens once, when the run is summed up); empty until computed.
    partial = models.JSONField(_("partial sums"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stress run chunk")
        verbose_name_plural = _("stress run chunks")
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="one_partial_per_stress_chunk")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.index}"
