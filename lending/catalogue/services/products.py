"""The product side of lending: a product's terms as an offer keeps them, and quotes priced from those terms.

- ``product_terms_snapshot(*, product, grade)``: the terms of one product at one risk grade, as a JSON-ready dict
  (Decimals as strings). An offer stores it, so editing the product later never changes what was offered.
- ``quote_for_snapshot(...)`` prices a loan from a snapshot; ``quote_for_product(...)`` does so from a product as it
  is now (the public calculator, the quote API). Both check the request against the terms and raise Django's
  ``ValidationError({field: [message]})`` naming the input field and what it may be, every problem at once.
- ``product_save(*, product, by)``: the one write, validated and audited.

Quotes take the product's terms only through the snapshot, so a quote made today and an offer priced from its
stored snapshot next month come out of the same code.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from core.formatting import amount as amount_grouped
from core.formatting import amount_plain, number, percent
from core.money import FEN
from core.services.audit import audit_record
from lending.catalogue.models import (
    INDICATIVE_GRADE,
    RATE_QUANTUM,
    BorrowerPremium,
    DayCountChoice,
    LoanProduct,
    PriceBasis,
    RepaymentMethodChoice,
    TermUnitChoice,
    describe_terms,
)
from lending.catalogue.money import (
    FeeTerms,
    Quote,
    QuoteError,
    QuoteTerms,
    RepaymentMethod,
    SalesShareTerms,
    project_sales_share,
    quote,
)
from lending.catalogue.money.sales_share import TERM_LIMIT_MONTHS, WINDOW_DAYS, WINDOW_SHARE, highest_apr
from lending.catalogue.money.terms import MAX_AMOUNT
from underwriting.choices import GRADES

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
# ASCII digits only: str.isdigit() also accepts "²" and other scripts' digits, which int() may refuse.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
# A quote is for a loan drawn soon: an offer is valid for days, not months.
START_DATE_MAX_DAYS_AHEAD = 90
# Input fields of a quote request; the engine's own names are mapped onto them.
_ENGINE_FIELDS = {
    "amount": "amount",
    "term": "term",
    "start_date": "start_date",
    "method": "repayment_method",
    "sales_share.average_daily_sales": "average_daily_sales",
}


def _rate(value: Decimal) -> str:
    return str(Decimal(value).quantize(RATE_QUANTUM))


# The ceiling on the annualised all-in cost.


def annual_cost_ceiling() -> Decimal:
    """``settings.ANNUAL_COST_CEILING``: the highest APR (percent, all-in) the platform lends at.

    A control's setting that is missing or malformed is an error, never a silent skip: this raises
    ``ImproperlyConfigured`` (and ``core.checks`` refuses to start without it)."""
    value = getattr(settings, "ANNUAL_COST_CEILING", None)
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ImproperlyConfigured("ANNUAL_COST_CEILING must be set to a percentage such as Decimal('24.00').")
    try:
        ceiling = Decimal(str(value))
    except InvalidOperation:
        ceiling = None
    if ceiling is None or not ceiling.is_finite() or not 0 < ceiling <= 100:
        raise ImproperlyConfigured(
            f"ANNUAL_COST_CEILING must be a percentage above 0 and at most 100; it is {value!r}."
        )
    return ceiling


def sales_share_daily_fee_rate(*, fee_factor: Decimal, fee_days: int | None) -> Decimal:
    """The daily fee rate of a sales-share advance: the fee factor's fee spread over ``fee_days``, rounded down to
    six places (a rate the contract can print, and never above the one priced).

    Terms kept before products spread their fee (no ``fee_days``) accrue at the ceiling's daily rate, rounded down:
    the most the platform may charge, and still never more than the fixed fee they were signed with.
    """
    if fee_days is None:
        return (annual_cost_ceiling() / 100 / 365).quantize(RATE_QUANTUM, rounding=ROUND_DOWN)
    return ((Decimal(fee_factor) - 1) / int(fee_days)).quantize(RATE_QUANTUM, rounding=ROUND_DOWN)


def _snapshot_daily_fee_rate(snapshot: dict) -> Decimal:
    return sales_share_daily_fee_rate(
        fee_factor=Decimal(snapshot["price"]), fee_days=(snapshot["sales_share"] or {}).get("fee_days")
    )


def _over_ceiling_message(apr: Decimal, ceiling: Decimal) -> str:
    return _(
        "At these terms the annualised cost (APR) would be %(apr)s %%, above the platform's ceiling of "
        "%(ceiling)s %% a year; choose a longer term or a larger amount."
    ) % {"apr": percent(apr / 100), "ceiling": percent(ceiling / 100)}


def product_ceiling_errors(*, product: LoanProduct) -> list[str]:
    """One message per grade whose price crosses the ceiling, naming the grade and the rate (for the admin and
    ``product_save``: a grid above the ceiling is never saved)."""
    ceiling = annual_cost_ceiling()
    if product.is_sales_share:
        message = _sales_share_over_ceiling_message
    else:
        message = _(
            "Grade %(grade)s: some loans this product allows would cost %(apr)s %% a year (APR), above the "
            "platform's ceiling of %(ceiling)s %%."
        )
    return [
        message % {"grade": grade, "apr": f"{apr:.2f}", "ceiling": f"{ceiling:.2f}"}
        for grade, apr in product_grid_over_ceiling(product=product)
    ]


_sales_share_over_ceiling_message = _(
    "Grade %(grade)s: an advance repaid the day after it is paid out would cost %(apr)s %% a year (APR), above the "
    "platform's ceiling of %(ceiling)s %%: lower the fee factor or spread the fee over more days."
)


def product_grid_over_ceiling(*, product: LoanProduct, on: date | None = None) -> list[tuple[str, Decimal]]:
    """Each grade whose price gives an APR above the ceiling for some loan the product allows, with the highest
    such APR: every term and method, at the smallest and the largest amount (a fixed fee weighs most on the
    smallest).

    A sales-share advance is judged at the fastest repayment its contract allows, repaid in full the day after it
    is paid out: its fee accrues by the day on what is outstanding, so that is the dearest speed, and its APR
    (``highest_apr``: the daily fee rate x 365) bounds every other speed and amount.
    """
    ceiling = annual_cost_ceiling()
    on = on or timezone.localdate()
    over = []
    if product.is_sales_share:
        for grade in GRADES:
            rate = sales_share_daily_fee_rate(
                fee_factor=product.price_for(grade), fee_days=product.sales_share_fee_days
            )
            if highest_apr(rate) > ceiling:
                over.append((grade, highest_apr(rate)))
        return over
    for grade in GRADES:
        snapshot = product_terms_snapshot(product=product, grade=grade)
        worst = Decimal(0)
        requests = [
            (amount, term, method, None)
            for amount in {product.amount_min, product.amount_max}
            for term in product.allowed_terms
            for method in product.repayment_methods
        ]
        for amount, term, method, sales in requests:
            try:
                priced = quote(
                    quote_terms_from_snapshot(
                        snapshot,
                        amount=amount,
                        term=term,
                        start_date=on,
                        repayment_method=method,
                        average_daily_sales=sales,
                    )
                )
            except QuoteError:
                continue  # a loan the engine cannot price is refused when asked for, not a price above the ceiling
            worst = max(worst, priced.apr)
        if worst > ceiling:
            over.append((grade, worst))
    return over


# Snapshot: the terms an offer keeps.


def product_terms_snapshot(*, product: LoanProduct, grade: str) -> dict:
    """The product's terms at ``grade`` as plain JSON (Decimals as strings): what an offer stores and prices from."""
    if grade not in GRADES:
        raise ValidationError({"grade": [_("Choose a risk grade: %(grades)s.") % {"grades": ", ".join(GRADES)}]})
    premium = BorrowerPremium.objects.filter(product=product, grade=grade).first() if product.pk else None
    sales_share = None
    if product.is_sales_share:
        sales_share = {
            "share_rate": _rate(product.sales_share_rate),
            # The fee accrues by the day at the price's fee spread over these days (``sales_share_daily_fee_rate``).
            "fee_days": product.sales_share_fee_days,
            "window_days": WINDOW_DAYS,
            "window_share": f"1/{WINDOW_SHARE}",
            "max_months": TERM_LIMIT_MONTHS,
        }
    return {
        "version": SNAPSHOT_VERSION,
        "product": {
            "id": product.pk,
            "code": product.code,
            "name_zh": product.name_zh,
            "name_en": product.name_en,
            "kind": product.kind,
            "updated_at": product.updated_at.isoformat() if product.updated_at else None,
        },
        "grade": grade,
        "currency": product.currency,
        "amount_min": amount_plain(product.amount_min),
        "amount_max": amount_plain(product.amount_max),
        "term_unit": product.term_unit,
        "allowed_terms": list(product.allowed_terms),
        "repayment_methods": list(product.repayment_methods),
        "price_basis": product.price_basis,
        "price": _rate(product.price_for(grade)),
        "day_count": product.day_count,
        "fees": {
            "origination_rate": _rate(product.origination_fee_rate),
            "origination_fixed": amount_plain(product.origination_fee_fixed),
            "origination_timing": product.origination_fee_timing,
            # A credit-insurance premium the borrower pays at this grade (``BorrowerPremium``), withheld at payout.
            **(
                {"insurance_premium_rate": _rate(premium.rate), "insurance_premium_source": premium.source}
                if premium
                else {}
            ),
        },
        "late_fee": _late_fee_terms(product, grade),
        "grace_days": product.grace_days,
        "prepayment": {"policy": product.prepayment_policy, "fee_rate": _rate(product.prepayment_fee_rate)},
        "offer_validity_days": product.offer_validity_days,
        "default_after_days_past_due": product.default_after_days_past_due,
        "deferral": {"max_days": product.deferral_max_days, "per_loan": product.deferrals_per_loan},
        "sales_share": sales_share,
    }


def penalty_annual_cap(*, basis: str, price: Decimal, days_in_year: int) -> Decimal:
    """The highest penalty interest a year (a fraction): 1.5 x the contract's own rate, and never above the
    platform's ceiling. The contract rate is the annual rate, the daily rate x days in the year, or for a
    fee-priced loan its monthly fee x 12 (for a sales-share advance, the ceiling)."""
    ceiling = annual_cost_ceiling() / 100
    if basis == PriceBasis.ANNUAL_RATE:
        contract_rate = price
    elif basis == PriceBasis.DAILY_RATE:
        contract_rate = price * days_in_year
    elif basis == PriceBasis.MONTHLY_FEE_RATE:
        contract_rate = price * 12
    else:
        contract_rate = ceiling
    return min(contract_rate * Decimal("1.5"), ceiling)


def _late_fee_terms(product: LoanProduct, grade: str) -> dict:
    """The late-fee terms an offer keeps: the product's penalty rate a day, capped at ``penalty_annual_cap``, and
    ``cost_cap``: the most an overdue instalment's late fees (the fixed fee included) may add up to, as a yearly
    fraction of the overdue amount for the days since its due date (the platform's ceiling when the offer is made).
    """
    days_in_year = 360 if product.day_count == "actual_360" else 365
    cap = penalty_annual_cap(basis=product.price_basis, price=product.price_for(grade), days_in_year=days_in_year)
    daily_cap = (cap / days_in_year).quantize(RATE_QUANTUM, rounding=ROUND_DOWN)
    return {
        "daily_rate": _rate(min(product.late_fee_daily_rate, daily_cap)),
        "fixed": amount_plain(product.late_fee_fixed),
        "annual_cap": _rate(cap),
        "cost_cap": _rate(annual_cost_ceiling() / 100),
    }


def quote_terms_from_snapshot(
    snapshot: dict,
    *,
    amount: Decimal,
    term: int | None,
    start_date: date,
    repayment_method: str,
    average_daily_sales: Decimal | None = None,
) -> QuoteTerms:
    """The money engine's terms for a loan on ``snapshot``; raises ``QuoteError`` when the engine refuses them."""
    price = Decimal(snapshot["price"])
    if repayment_method == RepaymentMethod.SALES_SHARE:
        return QuoteTerms(
            amount=amount,
            start_date=start_date,
            method=RepaymentMethod.SALES_SHARE,
            sales_share=SalesShareTerms(
                fee_factor=price,
                share_rate=Decimal(snapshot["sales_share"]["share_rate"]),
                average_daily_sales=average_daily_sales,
                daily_fee_rate=_snapshot_daily_fee_rate(snapshot),
            ),
        )
    basis = snapshot["price_basis"]
    fees = snapshot["fees"]
    rate: dict[str, Decimal] = {}
    if basis == PriceBasis.DAILY_RATE:
        rate["daily_rate"] = price
    elif basis == PriceBasis.ANNUAL_RATE:
        rate["annual_rate"] = price
    else:
        # A fee-priced instalment loan charges no interest: its price is the monthly fee.
        rate["annual_rate"] = Decimal(0)
    return QuoteTerms(
        amount=amount,
        start_date=start_date,
        method=repayment_method,
        term=term,
        term_unit=snapshot["term_unit"],
        day_count=snapshot["day_count"],
        fees=FeeTerms(
            origination_rate=Decimal(fees["origination_rate"]),
            origination_fixed=Decimal(fees["origination_fixed"]),
            origination_timing=fees["origination_timing"],
            periodic_rate=price if basis == PriceBasis.MONTHLY_FEE_RATE else Decimal(0),
            # Offers made before premiums existed carry none.
            insurance_premium_rate=Decimal(fees.get("insurance_premium_rate", "0")),
        ),
        **rate,
    )


# Quotes.


def product_by_code(*, code: str) -> LoanProduct:
    """The offered product with ``code``; an unknown or withdrawn code is a field error listing the offered ones."""
    product = LoanProduct.objects.filter(code=code).first() if isinstance(code, str) and code else None
    if product is None or not product.is_active:
        offered = ", ".join(LoanProduct.objects.filter(is_active=True).values_list("code", flat=True))
        if product is None:
            message = _("Unknown product “%(code)s”. Offered products: %(offered)s.")
        else:
            message = _("“%(code)s” is not offered at the moment. Offered products: %(offered)s.")
        raise ValidationError({"product": [message % {"code": code or "", "offered": offered or "-"}]})
    return product


def quote_for_product(
    *,
    product: LoanProduct,
    amount: Decimal | str,
    term: int | str | None,
    start_date: date | None = None,
    repayment_method: str | None = None,
    grade: str = INDICATIVE_GRADE,
    average_daily_sales: Decimal | str | None = None,
) -> Quote:
    """Price ``amount`` over ``term`` on the product as it is now, at ``grade`` (the standard grade C by default).

    Amounts may come as text (a form, a JSON string): they are checked here, against the product, so that every
    message can name the product's own range. ``start_date`` defaults to today.
    """
    if not product.is_active:
        raise ValidationError(
            {"product": [_("“%(code)s” is not offered at the moment.") % {"code": product.code}]},
        )
    return quote_for_snapshot(
        snapshot=product_terms_snapshot(product=product, grade=grade),
        amount=amount,
        term=term,
        start_date=start_date,
        repayment_method=repayment_method,
        average_daily_sales=average_daily_sales,
    )


def quote_for_snapshot(
    *,
    snapshot: dict,
    amount: Decimal | str,
    term: int | str | None,
    start_date: date | None = None,
    repayment_method: str | None = None,
    average_daily_sales: Decimal | str | None = None,
) -> Quote:
    """Price a loan on stored terms; every input problem is reported at once, by field."""
    errors: dict[str, list] = {}
    parsed_amount = _clean_amount(snapshot, amount, errors)
    method = _clean_method(snapshot, repayment_method, errors)
    is_sales_share = snapshot["sales_share"] is not None
    parsed_term = None if is_sales_share else _clean_term(snapshot, term, errors)
    if is_sales_share and term not in (None, ""):
        errors.setdefault("term", []).append(
            _(
                "A sales-share advance has no fixed term: it is repaid from your sales within %(months)d months. "
                "Leave the term out."
            )
            % {"months": TERM_LIMIT_MONTHS}
        )
    start = _clean_start_date(start_date, errors)
    sales = _clean_average_daily_sales(average_daily_sales, errors) if is_sales_share else None
    ceiling = annual_cost_ceiling()
    if is_sales_share:
        # The price itself, whatever the sales: at the fastest repayment its cost must stay within the ceiling.
        fastest = highest_apr(_snapshot_daily_fee_rate(snapshot))
        if fastest > ceiling:
            errors.setdefault("product", []).append(
                _sales_share_over_ceiling_message
                % {"grade": snapshot["grade"], "apr": f"{fastest:.2f}", "ceiling": f"{ceiling:.2f}"}
            )
    if not errors and is_sales_share:
        _check_sales_share_payoff(snapshot, parsed_amount, start, sales, errors)
    if errors:
        raise ValidationError(errors)
    try:
        terms = quote_terms_from_snapshot(
            snapshot,
            amount=parsed_amount,
            term=parsed_term,
            start_date=start,
            repayment_method=method,
            average_daily_sales=sales,
        )
        priced = quote(terms)
    except QuoteError as exc:
        raise _field_error(exc, snapshot) from exc
    if priced.apr > ceiling:
        # Unreachable for a sales-share advance whose price passed the check above (its APR at any pace is at most
        # ``highest_apr``); kept so that no quote above the ceiling can ever be made.
        field = "average_daily_sales" if is_sales_share else "term"
        raise ValidationError({field: [_over_ceiling_message(priced.apr, ceiling)]})
    return priced


def quote_conventions(*, product: LoanProduct, priced: Quote) -> dict[str, str]:
    """How ``priced`` counts days and computes its APR, in the words the contract uses: ``day_count`` (the code),
    ``day_count_statement`` and ``apr_method_statement`` (sentences for a merchant, in the active language)."""
    day_count = DayCountChoice(product.day_count)
    days_in_year = 360 if day_count == DayCountChoice.ACTUAL_360 else 365
    if product.is_sales_share and priced.sales_share is not None:
        projection = priced.sales_share
        day_count_statement = _(
            "No interest: a fee accrues each day at %(daily)s %% of the advance still outstanding, only for the days "
            "it is outstanding, and never comes to more than %(maximum)s yuan in all; each day's deduction pays the "
            "fee accrued first, then the advance. Repaying sooner costs less: however fast your sales repay it, the "
            "annualised cost is at most %(apr)s %%."
        ) % {
            "daily": projection.daily_fee_percent,
            "maximum": amount_grouped(projection.maximum_fee),
            "apr": f"{projection.highest_apr:.2f}",
        }
    else:
        day_count_statement = _(
            "Interest accrues by actual days (%(convention)s) on the principal outstanding, at the annual rate "
            "divided by %(days)s a day, only for the days it is outstanding."
        ) % {"convention": day_count.label, "days": days_in_year}
    units = {"month": _("a month"), "term": _("the term"), "day": _("a day"), "year": _("a year")}
    apr_method_statement = _(
        "APR by the actuarial (IRR) method on what you actually pay (amounts rounded to the fen, on their real "
        "dates), fees included; the unit period is %(unit)s, whole unit periods are counted back from each "
        "payment, and the rate is shown to two decimals, rounded up."
    ) % {"unit": units.get(priced.apr_unit_period, priced.apr_unit_period)}
    return {
        "day_count": day_count.value,
        "day_count_statement": str(day_count_statement),
        "apr_method_statement": str(apr_method_statement),
    }


@dataclass(frozen=True)
class GradeQuote:
    """One grade's price and the APR it gives on the loan asked about (None when that grade cannot price it)."""

    grade: str
    price: Decimal
    price_label: str
    apr: Decimal | None
    total_repayable: Decimal | None


def quote_by_grade(
    *,
    product: LoanProduct,
    amount: Decimal | str,
    term: int | str | None,
    start_date: date | None = None,
    repayment_method: str | None = None,
    average_daily_sales: Decimal | str | None = None,
) -> list[GradeQuote]:
    """Every grade's price with its APR for the same loan, so that no price is shown without its APR."""
    rows = []
    for grade in GRADES:
        snapshot = product_terms_snapshot(product=product, grade=grade)
        try:
            priced = quote_for_snapshot(
                snapshot=snapshot,
                amount=amount,
                term=term,
                start_date=start_date,
                repayment_method=repayment_method,
                average_daily_sales=average_daily_sales,
            )
        except ValidationError:
            priced = None
        price = Decimal(snapshot["price"])
        rows.append(
            GradeQuote(
                grade=grade,
                price=price,
                price_label=price_label(basis=snapshot["price_basis"], price=price),
                apr=priced.apr if priced else None,
                total_repayable=priced.total_repayable if priced else None,
            )
        )
    return rows


def product_sample_request(product: LoanProduct) -> dict:
    """A typical loan on ``product``, for a first look: the calculator's opening quote and the admin's preview.

    50,000 yuan (or the nearest amount the product allows), 12 months or the middle allowed term, the standard
    method; for a sales-share advance, average daily sales that repay it in about six months.
    """
    amount = min(max(Decimal("50000.00"), product.amount_min), product.amount_max)
    request = {"amount": amount, "term": None, "repayment_method": product.default_repayment_method}
    if product.is_sales_share:
        total = amount * product.price_for(INDICATIVE_GRADE)
        # Rounded up to a hundred yuan: a figure a merchant would say.
        daily = (total / 180 / product.sales_share_rate / 100).to_integral_value(rounding=ROUND_CEILING) * 100
        request["average_daily_sales"] = daily.quantize(FEN)
    else:
        terms = product.allowed_terms
        request["term"] = 12 if 12 in terms and product.term_unit == TermUnitChoice.MONTHS else terms[len(terms) // 2]
    return request


def price_label(*, basis: str, price: Decimal) -> str:
    """A price as a merchant reads it: "12.00 % a year", "0.04 % a day", "0.60 % a month", "fee factor 1.08"."""
    if basis == PriceBasis.ANNUAL_RATE:
        return str(_("%(rate)s %% a year") % {"rate": percent(price)})
    if basis == PriceBasis.DAILY_RATE:
        return str(_("%(rate)s %% a day") % {"rate": percent(price)})
    if basis == PriceBasis.MONTHLY_FEE_RATE:
        return str(_("%(rate)s %% of the amount a month") % {"rate": percent(price)})
    return str(
        _(
            "fee factor %(factor)s (a fee of at most %(fee)s %% of the amount, accruing by the day on what is "
            "outstanding)"
        )
        % {"factor": number(price), "fee": percent(price - 1)}
    )


def methods_description(methods: list[str]) -> str:
    """Methods by code and label, for messages that API clients and people both read."""
    return ", ".join(f"{method} ({RepaymentMethodChoice(method).label})" for method in methods)


def _parseamount_plain(value: object) -> Decimal | None:
    """Text or a number as an amount with at most two decimals; thousands separators are allowed."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None
    text = str(value).strip().replace(",", "").replace(" ", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    # The size check comes first: quantizing an absurd exponent (1E+999999) would overflow.
    if not number.is_finite() or abs(number) >= 10**13 or number != number.quantize(FEN):
        return None
    return number.quantize(FEN)


def _clean_amount(snapshot: dict, amount: object, errors: dict) -> Decimal | None:
    minimum, maximum = Decimal(snapshot["amount_min"]), Decimal(snapshot["amount_max"])
    number = _parseamount_plain(amount)
    if number is None or not minimum <= number <= maximum:
        errors.setdefault("amount", []).append(
            _("Enter an amount between %(min)s and %(max)s yuan, with at most two decimal places.")
            % {"min": amount_grouped(minimum), "max": amount_grouped(maximum)}
        )
        return None
    return number


def _clean_method(snapshot: dict, method: object, errors: dict) -> str | None:
    allowed = snapshot["repayment_methods"]
    if method in (None, ""):
        return allowed[0]
    if method not in allowed:
        errors.setdefault("repayment_method", []).append(
            _("Allowed repayment methods for this product: %(methods)s.") % {"methods": methods_description(allowed)}
        )
        return None
    return method


def _clean_term(snapshot: dict, term: object, errors: dict) -> int | None:
    allowed = snapshot["allowed_terms"]
    parsed = None
    if isinstance(term, int) and not isinstance(term, bool):
        parsed = term
    elif isinstance(term, str) and _WHOLE_NUMBER.fullmatch(term.strip()):
        parsed = int(term.strip())
    if parsed not in allowed:
        errors.setdefault("term", []).append(
            _("Allowed terms are %(terms)s.") % {"terms": describe_terms(allowed, snapshot["term_unit"])}
        )
        return None
    return parsed


def _clean_start_date(start_date: object, errors: dict) -> date | None:
    today = timezone.localdate()
    if start_date is None:
        return today
    latest = today + timedelta(days=START_DATE_MAX_DAYS_AHEAD)
    if not isinstance(start_date, date) or not today <= start_date <= latest:
        errors.setdefault("start_date", []).append(
            _("The start date must be a date from today (%(today)s) to %(latest)s, as YYYY-MM-DD.")
            % {"today": today.isoformat(), "latest": latest.isoformat()}
        )
        return None
    return start_date


def _clean_average_daily_sales(value: object, errors: dict) -> Decimal | None:
    if value in (None, ""):
        errors.setdefault("average_daily_sales", []).append(
            _(
                "A sales-share advance is repaid from your sales: enter your average daily sales in yuan, "
                "such as 3000.00."
            )
        )
        return None
    number = _parseamount_plain(value)
    # The engine holds amounts up to 999,999,999,999.99; a larger figure is refused here, by name.
    if number is None or number <= 0 or number > MAX_AMOUNT:
        errors.setdefault("average_daily_sales", []).append(
            _("Enter your average daily sales in yuan, above 0.00 with at most two decimal places, such as 3000.00.")
        )
        return None
    return number


def _check_sales_share_payoff(snapshot: dict, amount: Decimal, start: date, sales: Decimal, errors: dict) -> None:
    """Sales too low to repay within the limit: say which average daily sales would do, so the merchant can act."""
    terms = {
        "amount": amount,
        "start_date": start,
        "fee_factor": Decimal(snapshot["price"]),
        "share_rate": Decimal(snapshot["sales_share"]["share_rate"]),
        "daily_fee_rate": _snapshot_daily_fee_rate(snapshot),
    }

    def repaid_in_time(average: Decimal) -> bool:
        projection = project_sales_share(average_daily_sales=average, **terms)
        return not projection.breaches_term_limit and not projection.breaches_minimum

    if repaid_in_time(sales):
        return
    projection = project_sales_share(average_daily_sales=sales, **terms)
    limit_days = (projection.term_limit_date - start).days
    # Enough to repay the amount and the whole fee in time (the fee can only be less); then the least that does,
    # to the fen: repaying faster costs less fee, so more sales never repay later.
    enough = (projection.total_repayable / limit_days / terms["share_rate"]).quantize(FEN, rounding=ROUND_CEILING)
    while not repaid_in_time(enough):
        enough += FEN  # the daily deduction is rounded to the fen; a fen or two more covers what that takes away
    short = sales
    while enough - short > FEN:
        middle = ((short + enough) / 2).quantize(FEN)
        short, enough = (short, middle) if repaid_in_time(middle) else (middle, enough)
    needed = enough
    errors.setdefault("average_daily_sales", []).append(
        _(
            "At average daily sales of %(sales)s yuan this advance would not be repaid within %(months)d months. "
            "It needs average daily sales of at least %(needed)s yuan; or borrow less."
        )
        % {"sales": amount_grouped(sales), "months": TERM_LIMIT_MONTHS, "needed": amount_grouped(needed)}
    )


def _field_error(exc: QuoteError, snapshot: dict) -> ValidationError:
    field = _ENGINE_FIELDS.get(exc.field)
    if field is None:
        # The product's own terms were refused: its clean() should have caught this, so the product needs fixing.
        logger.error("Product %s cannot be priced: %s", snapshot["product"]["code"], exc)
        return ValidationError(
            {"product": [_("This product cannot be priced at the moment (%(detail)s).") % {"detail": exc}]}
        )
    labels = {
        "amount": _("The amount"),
        "term": _("The term"),
        "start_date": _("The start date"),
        "repayment_method": _("The repayment method"),
        "average_daily_sales": _("Average daily sales"),
    }
    return ValidationError({field: [capfirst(f"{labels[field]} {exc.message}.")]})


# The one write.


@transaction.atomic
def product_save(*, product: LoanProduct, by=None, reason: str = "") -> LoanProduct:
    """Validate and save a product, with one audit row naming each changed field and its old and new value.

    Offers already made are not touched: each keeps the snapshot of the terms it was made on. Saving a product
    with nothing changed writes nothing.
    """
    previous = None
    if product.pk is not None:
        previous = LoanProduct.objects.select_for_update().filter(pk=product.pk).first()
    product.full_clean()
    over_ceiling = product_ceiling_errors(product=product)
    if over_ceiling:
        raise ValidationError({"prices": over_ceiling})
    tracked = [f for f in LoanProduct._meta.concrete_fields if f.name not in {"id", "created_at", "updated_at"}]
    changes = {
        f.name: [_jsonable(getattr(previous, f.attname)) if previous else None, _jsonable(getattr(product, f.attname))]
        for f in tracked
        if previous is None or getattr(previous, f.attname) != getattr(product, f.attname)
    }
    if previous is not None and not changes:
        return previous
    product.save()
    audit_record(
        subject=product,
        action="product.create" if previous is None else "product.update",
        by=by,
        reason=reason,
        data={"changes": changes},
    )
    return product


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


__all__ = [
    "SNAPSHOT_VERSION",
    "GradeQuote",
    "annual_cost_ceiling",
    "methods_description",
    "price_label",
    "product_by_code",
    "product_ceiling_errors",
    "product_grid_over_ceiling",
    "product_sample_request",
    "product_save",
    "product_terms_snapshot",
    "quote_by_grade",
    "quote_conventions",
    "quote_for_product",
    "quote_for_snapshot",
    "quote_terms_from_snapshot",
]
