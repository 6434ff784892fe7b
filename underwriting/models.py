import string
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from core.money import MoneyField
from merchants.choices import Industry
from merchants.models import Merchant
from underwriting.choices import GRADES, Feature, FraudSignal, Outcome, RiskGrade, RuleKind, ScorecardState

RATE_DIGITS = {"max_digits": 9, "decimal_places": 6}


class Scorecard(FSMModelMixin, models.Model):
    """A versioned points table: features → points → score → probability of default → grade.

    Score scaling is the usual one: score = offset + factor × ln(odds), with factor = pdo / ln 2 and
    offset = base_score − factor × ln(base_odds), odds being good:bad. Exactly one version is active.
    """

    name = models.CharField(_("name"), max_length=100)
    version = models.PositiveIntegerField(_("version"), unique=True)
    state = FSMField(_("state"), default=ScorecardState.DRAFT, choices=ScorecardState.choices, protected=True)
    source = models.CharField(_("source"), max_length=20, default="expert", help_text=_("expert or trained"))
    base_score = models.DecimalField(_("base score"), max_digits=7, decimal_places=2, default=600)
    base_odds = models.DecimalField(_("odds (good:bad) at the base score"), max_digits=9, decimal_places=3, default=50)
    pdo = models.DecimalField(_("points to double the odds"), max_digits=7, decimal_places=2, default=20)
    intercept_points = models.DecimalField(
        _("points every applicant starts with"), max_digits=9, decimal_places=3, default=0
    )
    # Probability-of-default ceilings per grade, e.g. {"A": "0.01", "B": "0.025", ...}; above D's is E.
    grade_pd_ceilings = models.JSONField(_("PD ceiling per grade"), default=dict)
    approve_min_score = models.DecimalField(_("approve at or above"), max_digits=7, decimal_places=2)
    refer_min_score = models.DecimalField(
        _("refer at or above"),
        max_digits=7,
        decimal_places=2,
        help_text=_("Below this score an application is declined."),
    )
    metrics = models.JSONField(_("holdout metrics"), default=dict, blank=True)
    # Distribution of the training population's scores by band, for the population stability index.
    training_distribution = models.JSONField(_("training population"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)
    # Maker-checker: one risk manager proposes a draft's activation, a different one confirms it
    # (``underwriting.services.decisions``). Editing the draft withdraws the proposal.
    activation_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("activation proposed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    activation_proposed_at = models.DateTimeField(_("activation proposed at"), null=True, blank=True)
    activation_proposal_note = models.TextField(_("why it should be activated"), blank=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=models.Q(state="active"), name="one_active_scorecard"),
            models.CheckConstraint(
                condition=models.Q(approve_min_score__gte=models.F("refer_min_score")),
                name="scorecard_approve_above_refer",
            ),
        ]
        permissions = [("activate_scorecard", "Can activate or retire a scorecard version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_state_display()})"

    def clean(self) -> None:
        """The PD ceilings must be fractions that rise from A to D; E takes everything above D's."""
        ceilings = self.grade_pd_ceilings
        if not isinstance(ceilings, dict):
            raise ValidationError(
                {"grade_pd_ceilings": _('Give a ceiling per grade, e.g. {"A": "0.01", "B": "0.025"}.')}
            )
        unknown = sorted(set(map(str, ceilings)) - set(GRADES))
        if unknown:
            raise ValidationError(
                {
                    "grade_pd_ceilings": _("Unknown grades %(unknown)s; the grades are %(grades)s.")
                    % {"unknown": ", ".join(unknown), "grades": ", ".join(GRADES)}
                }
            )
        previous = Decimal(0)
        for grade in GRADES:
            if ceilings.get(grade) in (None, ""):
                continue
            try:
                ceiling = Decimal(str(ceilings[grade]))
            except InvalidOperation:
                ceiling = Decimal(-1)
            if not Decimal(0) < ceiling <= Decimal(1) or ceiling <= previous:
                raise ValidationError(
                    {
                        "grade_pd_ceilings": _(
                            "The ceiling for grade %(grade)s must be a fraction between 0 and 1 above the ceiling "
                            "of the grade before it; it is %(value)s."
                        )
                        % {"grade": grade, "value": ceilings[grade]}
                    }
                )
            previous = ceiling

    @transition(
        field=state,
        source=ScorecardState.DRAFT,
        target=ScorecardState.ACTIVE,
        permission="underwriting.activate_scorecard",
    )
    def activate(self) -> None:
        self.activated_at = timezone.now()

    @transition(
        field=state,
        source=ScorecardState.ACTIVE,
        target=ScorecardState.RETIRED,
        permission="underwriting.activate_scorecard",
    )
    def retire(self) -> None:
        self.retired_at = timezone.now()


class ScorecardBin(models.Model):
    """One bin of one feature: a numeric range [lower, upper) or a category, and its points."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="bins")
    # A trained scorecard may keep a column the live engine does not compute (--allow-unknown-features); its
    # name is whatever the data set calls it, so the field is long enough for real column names.
    feature = models.CharField(_("feature"), max_length=200, choices=Feature.choices)
    lower = models.DecimalField(_("from (inclusive)"), max_digits=28, decimal_places=6, null=True, blank=True)
    upper = models.DecimalField(_("to (exclusive)"), max_digits=28, decimal_places=6, null=True, blank=True)
    # A short code for the category (the label itself when it is short); ``label`` holds the category exactly as
    # the data spells it, of any length or script, and is what a value is matched against when it is set.
    category = models.CharField(_("category code"), max_length=40, blank=True)
    label = models.TextField(_("category (full label)"), blank=True)
    points = models.DecimalField(_("points"), max_digits=9, decimal_places=3)
    woe = models.DecimalField(_("weight of evidence"), max_digits=9, decimal_places=6, null=True, blank=True)
    # The reason shown when this bin costs the applicant points, e.g. "monthly sales below the level for
    # this amount"; specific to the bin, never "score too low".
    reason_en = models.CharField(_("reason (English)"), max_length=200, blank=True)
    reason_zh = models.CharField(_("reason (Chinese)"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("scorecard bin")
        verbose_name_plural = _("scorecard bins")
        ordering = ["scorecard", "feature", "lower", "category"]

    def __str__(self) -> str:
        span = (
            self.category
            or f"[{self.lower if self.lower is not None else '-∞'}, {self.upper if self.upper is not None else '∞'})"
        )
        return f"{self.get_feature_display()} {span}: {self.points}"


# The rule kinds whose threshold is a count, and what it counts.
WHOLE_NUMBER_THRESHOLDS = {
    RuleKind.MIN_MONTHS_ACTIVE: _("the fewest months of sales on the platform"),
    RuleKind.MAX_OPEN_APPLICATIONS: _("the most other applications in progress"),
}
MESSAGE_PLACEHOLDERS = frozenset({"value", "threshold"})


def _message_problem(message: str) -> str:
    """Why a rule's message cannot be filled in, or "" when it can."""
    try:
        parsed = list(string.Formatter().parse(message or ""))
    except ValueError:
        return _("A brace in the message is not closed; write {value} or {threshold}, or double a brace: {{.")
    names = {name for _text, name, _spec, _conversion in parsed if name is not None}
    unknown = sorted(names - MESSAGE_PLACEHOLDERS)
    if unknown:
        return _("Only {value} and {threshold} can be filled in; the message has %(unknown)s.") % {
            "unknown": ", ".join("{" + name + "}" for name in unknown)
        }
    return ""


class PolicyRule(models.Model):
    """A knock-out rule a risk manager configures: a kind, its threshold, and what the merchant is told."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=40, choices=RuleKind.choices)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=4, null=True, blank=True)
    parameters = models.JSONField(
        _("parameters"),
        default=dict,
        blank=True,
        help_text=_('For example {"industries": ["F5292"]} for excluded industries.'),
    )
    outcome = models.CharField(_("when it fails"), max_length=10, choices=Outcome.choices, default=Outcome.DECLINE)
    message_en = models.CharField(_("message (English)"), max_length=300)
    message_zh = models.CharField(_("message (Chinese)"), max_length=300)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("policy rule")
        verbose_name_plural = _("policy rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        """A rule must be complete enough to decide: its threshold, its parameters, messages it can fill in."""
        errors: dict[str, str] = {}
        if self.outcome == Outcome.APPROVE:
            errors["outcome"] = _("A failed rule declines or refers the application: choose decline or refer.")
        if self.kind in WHOLE_NUMBER_THRESHOLDS:
            threshold = self.threshold
            if threshold is None:
                errors["threshold"] = _("This kind of rule needs a threshold: %(what)s.") % {
                    "what": WHOLE_NUMBER_THRESHOLDS[self.kind]
                }
            elif threshold < 0 or threshold != threshold.to_integral_value():
                errors["threshold"] = _("The threshold is a whole number, 0 or more: %(what)s.") % {
                    "what": WHOLE_NUMBER_THRESHOLDS[self.kind]
                }
        if self.kind == RuleKind.INDUSTRY_NOT_EXCLUDED:
            industries = self.parameters.get("industries", []) if isinstance(self.parameters, dict) else None
            if not isinstance(industries, list):
                errors["parameters"] = _('Give the excluded industries as {"industries": ["F5292", ...]}.')
            else:
                unknown = sorted({str(code) for code in industries} - set(Industry.values))
                if unknown:
                    errors["parameters"] = _("Unknown industry codes %(unknown)s; the codes are %(codes)s.") % {
                        "unknown": ", ".join(unknown),
                        "codes": ", ".join(Industry.values),
                    }
        elif not isinstance(self.parameters, dict):
            errors["parameters"] = _("Parameters are a JSON object, e.g. {}.")
        for name in ("message_en", "message_zh"):
            problem = _message_problem(getattr(self, name))
            if problem:
                errors[name] = problem
        if errors:
            raise ValidationError(errors)


class Decision(models.Model):
    """An automated credit decision and everything it was made from. Never edited: a new one is made."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="decisions")
    # The lending application this decided, by id: underwriting does not import lending.
    application_id = models.BigIntegerField(_("application"), null=True, blank=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    grade = models.CharField(_("risk grade"), max_length=1, choices=RiskGrade.choices, blank=True)
    score = models.DecimalField(_("score"), max_digits=9, decimal_places=2, null=True, blank=True)
    probability_of_default = models.DecimalField(
        _("probability of default"), max_digits=7, decimal_places=6, null=True, blank=True
    )
    requested_amount = MoneyField(_("requested amount"))
    credit_line = MoneyField(_("credit line"), default=0)
    price_rate = models.DecimalField(_("price for the grade"), null=True, blank=True, **RATE_DIGITS)
    # [{"code", "feature", "points_lost", "message_en", "message_zh"}], most important first.
    reasons = models.JSONField(_("reasons"), default=list)
    # Features, every rule result, fraud signals, terms and exposures passed in, scorecard version.
    snapshot = models.JSONField(_("inputs snapshot"), default=dict)
    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, related_name="decisions", null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now, db_index=True)
    duration_ms = models.DecimalField(_("duration (ms)"), max_digits=9, decimal_places=3, default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for automated decisions."),
    )

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-decided_at"])]

    def __str__(self) -> str:
        return f"{self.merchant} {self.get_outcome_display()} {self.grade}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("force_insert", False):
            raise ValueError("A decision is immutable; make a new one instead.")
        super().save(*args, **kwargs)


class FraudAlert(models.Model):
    """A fraud signal that fired for a merchant; open alerts refer applications and are worked by officers."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLEARED = "cleared", _("Cleared")
        CONFIRMED = "confirmed", _("Confirmed fraud")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="fraud_alerts")
    signal = models.CharField(_("signal"), max_length=40, choices=FraudSignal.choices)
    details = models.JSONField(_("details"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField(_("resolution"), blank=True)

    class Meta:
        verbose_name = _("fraud alert")
        verbose_name_plural = _("fraud alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "signal"], condition=models.Q(status="open"), name="one_open_alert_per_signal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.get_signal_display()} ({self.get_status_display()})"


class PreApprovedLimit(models.Model):
    """The limit a merchant is shown before it applies, recomputed every night."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="pre_approved_limit")
    amount = MoneyField(_("pre-approved up to"))
    grade = models.CharField(_("risk grade"), max_length=1, choices=RiskGrade.choices, blank=True)
    scorecard = models.ForeignKey(Scorecard, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("pre-approved limit")
        verbose_name_plural = _("pre-approved limits")

    def __str__(self) -> str:
        return f"{self.merchant} ≤ {self.amount}"
