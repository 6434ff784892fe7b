"""Loan products: what the portal lends, within which bounds, and at which price for each risk grade.

A product is configuration that a risk manager edits in the back office. Editing it never changes terms already
offered: an offer keeps its own copy, ``lending.catalogue.services.products.product_terms_snapshot``, taken when
it is made.

The price grid holds one price per risk grade (A lowest risk … E highest). What a price *is* follows from the
product's kind (``PriceBasis``): an annual rate for an operating loan, a daily rate for short-term working capital,
a monthly fee rate on the amount for a fee-priced instalment loan, a fee factor for a sales-share advance. A
sales-share advance's fee factor is its maximum fee; the fee accrues by the day on what is outstanding at that fee
spread over the product's ``sales_share_fee_days`` (see ``lending.catalogue.money.sales_share``).
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.text import get_text_list
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.money import FEN, MoneyField
from lending.catalogue.money import DayCount, FeeTiming, RepaymentMethod, TermUnit
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS
from lending.catalogue.money.terms import (
    MAX_ANNUAL_RATE,
    MAX_DAILY_RATE,
    MAX_FEE_FACTOR,
    MAX_INSURANCE_PREMIUM_RATE,
    MAX_PERIODIC_FEE_RATE,
    MAX_TERM_DAYS,
    MAX_TERM_MONTHS,
    MIN_FEE_FACTOR,
)
from underwriting.choices import GRADES, RiskGrade

# Rates carry six decimal places (0.000350 is 0.035 % a day); money carries two.
RATE_MAX_DIGITS = 9
RATE_DECIMAL_PLACES = 6
RATE_QUANTUM = Decimal("0.000001")
MAX_ORIGINATION_FEE_RATE = Decimal("0.5")  # the engine's bound on an origination fee
MAX_PREPAYMENT_FEE_RATE = Decimal("0.1")
MAX_DEFERRAL_DAYS = 90  # a longer pause is a restructure, which officers propose
MAX_DEFERRALS_PER_LOAN = 12
MAX_SALES_SHARE_FEE_DAYS = 548  # the 18-month limit: a fee spread over longer could never be reached


class ProductKind(models.TextChoices):
    SHORT_TERM_WORKING_CAPITAL = "short_term_working_capital", _("Short-term working capital")
    OPERATING_LOAN = "operating_loan", _("Operating loan")
    INSTALMENT_LOAN = "instalment_loan", _("Instalment loan")
    SALES_SHARE_ADVANCE = "sales_share_advance", _("Sales-share advance")


# A quote without an underwriting decision (the public calculator) is priced at the standard grade, and says so.
INDICATIVE_GRADE = RiskGrade.C


class PriceBasis(models.TextChoices):
    ANNUAL_RATE = "annual_rate", _("annual interest rate")
    DAILY_RATE = "daily_rate", _("daily interest rate")
    MONTHLY_FEE_RATE = "monthly_fee_rate", _("monthly fee rate on the amount")
    FEE_FACTOR = "fee_factor", _("fee factor")


# The same values as the money engine's enums, with labels for forms and the admin.
class Currency(models.TextChoices):
    CNY = "CNY", _("Chinese yuan (CNY)")


class RepaymentMethodChoice(models.TextChoices):
    EQUAL_INSTALMENT = RepaymentMethod.EQUAL_INSTALMENT.value, _("Equal instalments")
    EQUAL_PRINCIPAL = RepaymentMethod.EQUAL_PRINCIPAL.value, _("Equal principal")
    INTEREST_FIRST = RepaymentMethod.INTEREST_FIRST.value, _("Interest first, principal at maturity")
    BULLET = RepaymentMethod.BULLET.value, _("Single payment at maturity")
    SALES_SHARE = RepaymentMethod.SALES_SHARE.value, _("Share of daily sales")


class TermUnitChoice(models.TextChoices):
    DAYS = TermUnit.DAYS.value, _("days")
    MONTHS = TermUnit.MONTHS.value, _("months")


class DayCountChoice(models.TextChoices):
    ACTUAL_365 = DayCount.ACTUAL_365.value, _("actual/365")
    ACTUAL_360 = DayCount.ACTUAL_360.value, _("actual/360")


class FeeTimingChoice(models.TextChoices):
    DEDUCTED = FeeTiming.DEDUCTED.value, _("deducted from the payout")
    UPFRONT = FeeTiming.UPFRONT.value, _("paid on the start date")
    FINANCED = FeeTiming.FINANCED.value, _("added to the principal")


class PrepaymentPolicy(models.TextChoices):
    ALLOWED = "allowed", _("allowed free of charge")
    ALLOWED_WITH_FEE = "allowed_with_fee", _("allowed with a fee")
    NOT_ALLOWED = "not_allowed", _("not allowed")


@dataclass(frozen=True)
class KindRule:
    """What a kind of product may be: its repayment methods, term units and what its grid prices."""

    methods: tuple[str, ...]
    term_units: tuple[str, ...]
    price_basis: str
    price_min: Decimal
    price_max: Decimal


KIND_RULES: dict[str, KindRule] = {
    # Working capital for days or a few months: one payment at maturity (days or months), or interest monthly
    # with the principal at the end (months only: the engine's monthly schedules have no daily variant).
    ProductKind.SHORT_TERM_WORKING_CAPITAL: KindRule(
        methods=(RepaymentMethod.BULLET, RepaymentMethod.INTEREST_FIRST),
        term_units=(TermUnit.DAYS, TermUnit.MONTHS),
        price_basis=PriceBasis.DAILY_RATE,
        price_min=Decimal(0),
        price_max=MAX_DAILY_RATE,
    ),
    ProductKind.OPERATING_LOAN: KindRule(
        methods=(RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.INTEREST_FIRST),
        term_units=(TermUnit.MONTHS,),
        price_basis=PriceBasis.ANNUAL_RATE,
        price_min=Decimal(0),
        price_max=MAX_ANNUAL_RATE,
    ),
    # 消费分期 is priced by a monthly fee on the original amount, with no interest.
    ProductKind.INSTALMENT_LOAN: KindRule(
        methods=(RepaymentMethod.EQUAL_INSTALMENT, RepaymentMethod.EQUAL_PRINCIPAL),
        term_units=(TermUnit.MONTHS,),
        price_basis=PriceBasis.MONTHLY_FEE_RATE,
        price_min=Decimal(0),
        price_max=MAX_PERIODIC_FEE_RATE,
    ),
    # The fee factor is the whole price (the most the fee can come to; it accrues by the day, see
    # ``LoanProduct.sales_share_fee_days``); the term follows the sales, within the engine's 18-month limit.
    ProductKind.SALES_SHARE_ADVANCE: KindRule(
        methods=(RepaymentMethod.SALES_SHARE,),
        term_units=(TermUnit.MONTHS,),
        price_basis=PriceBasis.FEE_FACTOR,
        price_min=MIN_FEE_FACTOR,
        price_max=MAX_FEE_FACTOR,
    ),
}


def describe_terms(terms: list[int], unit: str) -> str:
    """The allowed terms as a person reads them: "from 7 to 90 days", "3, 6 and 12 months", "3 to 6, 9 and 12 months".

    Runs of three or more consecutive terms are written as ranges, so a 7-90 day product is not 84 numbers long.
    """
    runs: list[list[int]] = []
    for term in sorted(terms):
        if runs and term == runs[-1][-1] + 1:
            runs[-1].append(term)
        else:
            runs.append([term])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(str(_("%(first)d to %(last)d") % {"first": run[0], "last": run[-1]}))
        else:
            parts.extend(str(term) for term in run)
    unit_label = TermUnitChoice(unit).label if unit in TermUnitChoice.values else unit
    if len(runs) == 1 and len(runs[0]) >= 3:
        return str(_("from %(range)s %(unit)s") % {"range": parts[0], "unit": unit_label})
    return f"{get_text_list(parts, str(_('and')))} {unit_label}"


class LoanProduct(models.Model):
    """A loan product: bounds, terms, repayment methods, prices by risk grade, fees and servicing rules."""

    code = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Stable identifier used in the API and in offers.")
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=ProductKind.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY)
    amount_min = MoneyField(_("smallest amount"), validators=[MinValueValidator(FEN)])
    amount_max = MoneyField(_("largest amount"), validators=[MinValueValidator(FEN)])
    term_unit = models.CharField(
        _("term unit"), max_length=6, choices=TermUnitChoice.choices, default=TermUnitChoice.MONTHS
    )
    allowed_terms = models.JSONField(
        _("allowed terms"),
        default=list,
        blank=True,
        help_text=_(
            "Whole numbers of days or months, as the term unit says. Empty for a sales-share advance, "
            "whose term follows the sales."
        ),
    )
    # blank=True on the JSON fields: clean() says what an empty one lacks, in words about the product.
    repayment_methods = models.JSONField(
        _("repayment methods"), default=list, blank=True, help_text=_("The first one is the product's standard method.")
    )
    prices = models.JSONField(
        _("price by risk grade"),
        default=dict,
        blank=True,
        help_text=_(
            "One price for each grade A-E, as a fraction: an annual rate (0.12 is 12 % a year), a daily rate "
            "(0.0004 is 0.04 % a day), a monthly fee rate (0.006 is 0.6 % a month) or a fee factor (1.08), "
            "as the kind of product says."
        ),
    )
    day_count = models.CharField(
        _("day count"), max_length=12, choices=DayCountChoice.choices, default=DayCountChoice.ACTUAL_365
    )
    origination_fee_rate = models.DecimalField(
        _("origination fee rate"),
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        default=Decimal(0),
        help_text=_("A fraction of the amount (0.01 is 1 %); or give a fixed fee, not both."),
    )
    origination_fee_fixed = MoneyField(_("fixed origination fee"), default=Decimal(0))
    origination_fee_timing = models.CharField(
        _("origination fee paid"), max_length=10, choices=FeeTimingChoice.choices, default=FeeTimingChoice.DEDUCTED
    )
    late_fee_daily_rate = models.DecimalField(
        _("penalty rate per day overdue"),
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        default=Decimal(0),
        help_text=_("On the overdue amount, per day after the grace days (0.0005 is 0.05 % a day)."),
    )
    late_fee_fixed = MoneyField(_("fixed late fee"), default=Decimal(0), help_text=_("Once per missed instalment."))
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"), default=3, help_text=_("Days after a due date before a payment counts as late.")
    )
    prepayment_policy = models.CharField(
        _("early repayment"), max_length=20, choices=PrepaymentPolicy.choices, default=PrepaymentPolicy.ALLOWED
    )
    prepayment_fee_rate = models.DecimalField(
        _("early repayment fee rate"),
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        default=Decimal(0),
        help_text=_("A fraction of the principal repaid early; only when early repayment carries a fee."),
    )
    offer_validity_days = models.PositiveSmallIntegerField(
        _("offer valid for (days)"), default=7, validators=[MinValueValidator(1)]
    )
    default_after_days_past_due = models.PositiveSmallIntegerField(
        _("default after (days past due)"), default=90, validators=[MinValueValidator(1)]
    )
    deferral_max_days = models.PositiveSmallIntegerField(
        _("deferral up to (days)"),
        default=30,
        validators=[MaxValueValidator(MAX_DEFERRAL_DAYS)],
        help_text=_(
            "How many days later a merchant may ask to move one instalment (and always before the next one); "
            "0 with 0 deferrals per loan offers none."
        ),
    )
    deferrals_per_loan = models.PositiveSmallIntegerField(
        _("deferrals per loan"),
        default=1,
        validators=[MaxValueValidator(MAX_DEFERRALS_PER_LOAN)],
        help_text=_(
            "How many instalments of one loan may be deferred; 0 offers no deferral. Sales-share advances have no "
            "instalments and are never deferred."
        ),
    )
    sales_share_rate = models.DecimalField(
        _("share of daily sales"),
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        null=True,
        blank=True,
        help_text=_("Sales-share advances only: the fraction of each day's sales kept to repay (0.10 is 10 %)."),
    )
    sales_share_fee_days = models.PositiveSmallIntegerField(
        _("fee spread over (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SALES_SHARE_FEE_DAYS)],
        help_text=_(
            "Sales-share advances only: the fee accrues each day on the advance still outstanding at the fee "
            "factor's fee divided by these days (1.08 over 240 days: 0.08 / 240 = 0.0333 % a day), and never comes "
            "to more than that fee, so an advance repaid sooner costs less. That daily rate x 365 must stay within "
            "the platform's annualised-cost ceiling."
        ),
    )
    is_active = models.BooleanField(
        _("offered"), default=True, help_text=_("Only offered products are listed and quoted.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan product")
        verbose_name_plural = _("loan products")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_min__gt=0, amount_min__lte=models.F("amount_max")),
                name="loanproduct_amount_range",
                violation_error_message=_("The smallest amount must be above 0.00 and at most the largest amount."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def get_absolute_url(self) -> str:
        return f"{reverse('lending:calculator')}?product={self.code}"

    # What the product is, as the rest of the portal asks it.

    @property
    def name(self) -> str:
        """The name in the active language."""
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en

    @property
    def rule(self) -> KindRule:
        return KIND_RULES[self.kind]

    @property
    def price_basis(self) -> str:
        return self.rule.price_basis

    @property
    def is_sales_share(self) -> bool:
        return self.kind == ProductKind.SALES_SHARE_ADVANCE

    @property
    def default_repayment_method(self) -> str:
        return self.repayment_methods[0]

    @property
    def terms_are_a_range(self) -> bool:
        """True when the allowed terms are every whole number from the first to the last (7, 8, … 90)."""
        terms = self.allowed_terms
        return len(terms) >= 3 and terms[-1] - terms[0] + 1 == len(terms)

    def describe_terms(self) -> str:
        if self.is_sales_share:
            return str(
                _("follows your sales, at most %(months)d months") % {"months": TERM_LIMIT_MONTHS},
            )
        return describe_terms(self.allowed_terms, self.term_unit)

    def price_for(self, grade: str) -> Decimal:
        return Decimal(self.prices[grade])

    # Validation: every error names its field and what is allowed, so the admin shows it next to the input.

    def clean(self) -> None:
        errors: dict[str, list] = {}

        def add(field: str, message, **params) -> None:
            errors.setdefault(field, []).append(ValidationError(message, params=params or None))

        rule = KIND_RULES.get(self.kind)
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            add(
                "amount_min",
                _("The smallest amount must not be more than the largest amount (%(max)s)."),
                max=self.amount_max,
            )
        self._clean_methods(rule, add)
        self._clean_terms(rule, add)
        self._clean_prices(rule, add)
        self._clean_fees(rule, add)
        self._clean_deferral(add)
        if errors:
            raise ValidationError(errors)

    def _clean_deferral(self, add) -> None:
        days, count = self.deferral_max_days, self.deferrals_per_loan
        if days is None or count is None:
            return
        if bool(days) != bool(count):
            add(
                "deferral_max_days" if count else "deferrals_per_loan",
                _("Set both deferral fields above 0 to offer deferrals, or both to 0 to offer none."),
            )

    def _clean_methods(self, rule: KindRule | None, add) -> None:
        methods = self.repayment_methods
        if not isinstance(methods, list) or not methods:
            add("repayment_methods", _("Choose at least one repayment method."))
            return
        unknown = [m for m in methods if m not in RepaymentMethodChoice.values]
        if unknown:
            add(
                "repayment_methods",
                _("Unknown repayment methods: %(unknown)s. Choose from: %(allowed)s."),
                unknown=", ".join(map(str, unknown)),
                allowed=", ".join(RepaymentMethodChoice.values),
            )
            return
        # A method listed twice would show twice in every select.
        self.repayment_methods = list(dict.fromkeys(methods))
        if rule is None:
            return
        wrong = [m for m in self.repayment_methods if m not in rule.methods]
        if wrong:
            add(
                "repayment_methods",
                _("%(kind)s cannot be repaid by %(wrong)s. Allowed: %(allowed)s."),
                kind=ProductKind(self.kind).label,
                wrong=", ".join(str(RepaymentMethodChoice(m).label) for m in wrong),
                allowed=", ".join(str(RepaymentMethodChoice(m).label) for m in rule.methods),
            )
        if self.term_unit == TermUnit.DAYS and any(m != RepaymentMethod.BULLET for m in self.repayment_methods):
            add(
                "repayment_methods",
                _("Terms in days allow only a single payment at maturity; instalments need terms in months."),
            )

    def _clean_terms(self, rule: KindRule | None, add) -> None:
        if rule is not None and self.term_unit not in rule.term_units:
            add(
                "term_unit",
                _("%(kind)s has terms in %(units)s."),
                kind=ProductKind(self.kind).label,
                units=", ".join(str(TermUnitChoice(unit).label) for unit in rule.term_units),
            )
        terms = self.allowed_terms
        if self.kind == ProductKind.SALES_SHARE_ADVANCE:
            if terms:
                add(
                    "allowed_terms",
                    _(
                        "A sales-share advance has no fixed term (it follows the sales, at most "
                        "%(months)d months); leave the terms empty."
                    ),
                    months=TERM_LIMIT_MONTHS,
                )
            return
        maximum = MAX_TERM_DAYS if self.term_unit == TermUnit.DAYS else MAX_TERM_MONTHS
        if (
            not isinstance(terms, list)
            or not terms
            or not all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= maximum for t in terms)
        ):
            add(
                "allowed_terms",
                _(
                    "Give the allowed terms as whole numbers from 1 to %(maximum)d, such as "
                    "“3, 6, 12” or a range “7-90”."
                ),
                maximum=maximum,
            )
            return
        self.allowed_terms = sorted(set(terms))

    def _clean_prices(self, rule: KindRule | None, add) -> None:
        prices = self.prices
        if not isinstance(prices, dict):
            add("prices", _("Give one price for each grade: %(grades)s."), grades=", ".join(GRADES))
            return
        unknown = sorted(set(map(str, prices)) - set(GRADES))
        if unknown:
            add(
                "prices",
                _("Unknown grades: %(unknown)s. The grades are %(grades)s."),
                unknown=", ".join(unknown),
                grades=", ".join(GRADES),
            )
        missing = [grade for grade in GRADES if prices.get(grade) in (None, "")]
        if missing:
            add("prices", _("Every grade needs a price; missing: %(missing)s."), missing=", ".join(missing))
        parsed: dict[str, Decimal] = {}
        for grade in GRADES:
            if grade in missing:
                continue
            price = _parse_rate(prices[grade])
            if price is None:
                add(
                    "prices",
                    _("Grade %(grade)s: enter a number such as 0.12, with at most six decimal places."),
                    grade=grade,
                )
            elif price < 0:
                add("prices", _("Grade %(grade)s: a price must not be negative."), grade=grade)
            elif rule is not None and not rule.price_min <= price <= rule.price_max:
                add(
                    "prices",
                    _("Grade %(grade)s: %(basis)s must be between %(min)s and %(max)s."),
                    grade=grade,
                    basis=PriceBasis(rule.price_basis).label,
                    min=rule.price_min,
                    max=rule.price_max,
                )
            else:
                parsed[grade] = price
        if len(parsed) == len(GRADES):
            # A riskier grade never pays less: a grid that says otherwise is a typing mistake.
            for better, worse in pairwise(GRADES):
                if parsed[worse] < parsed[better]:
                    add(
                        "prices",
                        _("Grade %(worse)s must not cost less than grade %(better)s."),
                        worse=worse,
                        better=better,
                    )
            if not unknown:
                self.prices = {grade: str(parsed[grade].quantize(RATE_QUANTUM)) for grade in GRADES}

    def _clean_fees(self, rule: KindRule | None, add) -> None:
        fee_rate, fee_fixed = self.origination_fee_rate, self.origination_fee_fixed
        if fee_rate is not None and not 0 <= fee_rate <= MAX_ORIGINATION_FEE_RATE:
            add("origination_fee_rate", _("Must be a fraction between 0 and %(max)s."), max=MAX_ORIGINATION_FEE_RATE)
        if fee_fixed is not None and fee_fixed < 0:
            add("origination_fee_fixed", _("Must not be negative."))
        if fee_rate and fee_fixed:
            add("origination_fee_fixed", _("Give either an origination fee rate or a fixed fee, not both."))
        if fee_fixed and self.amount_min is not None and fee_fixed >= self.amount_min:
            add("origination_fee_fixed", _("Must be less than the smallest amount (%(min)s)."), min=self.amount_min)
        if self.late_fee_daily_rate is not None and not 0 <= self.late_fee_daily_rate <= MAX_DAILY_RATE:
            add("late_fee_daily_rate", _("Must be a fraction between 0 and %(max)s a day."), max=MAX_DAILY_RATE)
        if self.late_fee_fixed is not None and self.late_fee_fixed < 0:
            add("late_fee_fixed", _("Must not be negative."))
        prepayment_fee = self.prepayment_fee_rate
        if self.prepayment_policy == PrepaymentPolicy.ALLOWED_WITH_FEE:
            if prepayment_fee is None or not 0 < prepayment_fee <= MAX_PREPAYMENT_FEE_RATE:
                add(
                    "prepayment_fee_rate",
                    _("Early repayment with a fee needs a fee rate above 0 and at most %(max)s."),
                    max=MAX_PREPAYMENT_FEE_RATE,
                )
        elif prepayment_fee:
            add("prepayment_fee_rate", _("Only early repayment with a fee has a fee rate; set it to 0."))
        if self.kind == ProductKind.SALES_SHARE_ADVANCE:
            if self.sales_share_rate is None or not 0 < self.sales_share_rate <= 1:
                add(
                    "sales_share_rate",
                    _(
                        "A sales-share advance needs the share of daily sales kept, above 0 "
                        "and at most 1 (0.10 is 10 %)."
                    ),
                )
            if fee_rate or fee_fixed:
                add(
                    "origination_fee_rate",
                    _("A sales-share advance has no origination fee: the fee factor is its whole price."),
                )
            if self.sales_share_fee_days is None:
                add(
                    "sales_share_fee_days",
                    _("A sales-share advance needs the days its fee is spread over, from 1 to %(max)d."),
                    max=MAX_SALES_SHARE_FEE_DAYS,
                )
        else:
            if self.sales_share_rate is not None:
                add("sales_share_rate", _("Only a sales-share advance has a share of daily sales; leave it empty."))
            if self.sales_share_fee_days is not None:
                add(
                    "sales_share_fee_days",
                    _("Only a sales-share advance spreads its fee over days; leave it empty."),
                )


def _parse_rate(value: object) -> Decimal | None:
    """A price from the grid as a Decimal with at most six places, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) >= 1000 or number != number.quantize(RATE_QUANTUM):
        return None
    return number


class BorrowerPremium(models.Model):
    """A credit-insurance premium the borrower pays on loans of one product at one risk grade.

    Written only by ``lending.catalogue.services.premiums.borrower_premium_set``, which the insurer's agreement
    calls when a borrower-paid agreement is activated, changed or ended. The premium is a one-off fraction of the
    amount, withheld from the payout; every quote and offer on the product at that grade carries it, as its own
    line and inside the APR (``product_terms_snapshot`` copies it into the offer's terms).
    """

    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="borrower_premiums")
    grade = models.CharField(_("risk grade"), max_length=1, choices=RiskGrade.choices)
    rate = models.DecimalField(
        _("premium rate"),
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        validators=[MinValueValidator(RATE_QUANTUM), MaxValueValidator(MAX_INSURANCE_PREMIUM_RATE)],
        help_text=_("A one-off fraction of the amount (0.008 is 0.8 %), withheld from the payout."),
    )
    # Who set it: the insurer's agreement (e.g. "insurer:pingan"), so a later version replaces its own rows.
    source = models.CharField(_("set by"), max_length=60)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("borrower-paid insurance premium")
        verbose_name_plural = _("borrower-paid insurance premiums")
        ordering = ["product", "grade"]
        constraints = [
            models.UniqueConstraint(fields=["product", "grade"], name="one_borrower_premium_per_product_grade"),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} {self.grade} {self.rate}"
