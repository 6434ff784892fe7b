"""The vocabulary of underwriting: grades, outcomes, features, rules and fraud signals."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class RiskGrade(TextChoices):
    """The pricing grades a decision gives; A is the lowest risk."""

    A = "A", _("A (lowest risk)")
    B = "B", _("B")
    C = "C", _("C (standard)")
    D = "D", _("D")
    E = "E", _("E (highest risk)")


GRADES: tuple[str, ...] = tuple(RiskGrade.values)


class Outcome(TextChoices):
    APPROVE = "approve", _("Approve")
    REFER = "refer", _("Refer to an officer")
    DECLINE = "decline", _("Decline")


class Feature(TextChoices):
    """What the engine measures from a merchant's own sales history (see underwriting.selectors.features)."""

    MONTHS_ACTIVE = "months_active", _("Months trading on the platform")
    SALES_12M = "sales_12m", _("Gross sales, last 12 months")
    MONTHLY_SALES_AVG = "monthly_sales_avg", _("Average monthly sales, last 12 months")
    SALES_TREND = "sales_trend", _("Sales trend (last 3 months against the 3 before)")
    SALES_CV = "sales_cv", _("Volatility of monthly sales (coefficient of variation)")
    REFUND_RATIO = "refund_ratio", _("Refunds as a share of sales")
    ACTIVE_DAY_SHARE = "active_day_share", _("Share of days with sales")
    DISTINCT_CUSTOMERS = "distinct_customers", _("Distinct customers, last 90 days")
    DAYS_SINCE_LAST_SALE = "days_since_last_sale", _("Days since the last sale")
    SEASONALITY = "seasonality", _("Seasonality (strongest month against the average)")
    AMOUNT_TO_MONTHLY_SALES = "amount_to_monthly_sales", _("Requested amount against monthly sales")
    INDUSTRY = "industry", _("Industry")


class RuleKind(TextChoices):
    """Knock-out rules; each active PolicyRule is one of these with its own threshold and messages."""

    KYC_VERIFIED = "kyc_verified", _("KYC verified")
    MIN_MONTHS_ACTIVE = "min_months_active", _("Months active at least the threshold")
    NO_DEFAULT = "no_default", _("No loan in default")
    NO_FRAUD_FLAG = "no_fraud_flag", _("No open fraud alert")
    INDUSTRY_NOT_EXCLUDED = "industry_not_excluded", _("Industry not excluded")
    AMOUNT_WITHIN_LINE = "amount_within_line", _("Requested amount within the credit line")
    MAX_OPEN_APPLICATIONS = "max_open_applications", _("Open applications at most the threshold")


class FraudSignal(TextChoices):
    SHARED_BANK_ACCOUNT = "shared_bank_account", _("Settlement account shared with another merchant")
    SHARED_ID_NUMBER = "shared_id_number", _("Legal representative's ID shared with another merchant")
    WINDOW_DRESSING = "window_dressing", _("Last month's sales far above the 6-month median")
    APPLICATION_VELOCITY = "application_velocity", _("Many applications in a short time")
    YOUNG_MERCHANT_LARGE_AMOUNT = "young_large_amount", _("Young merchant asking for a large amount")


class ScorecardState(TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")
