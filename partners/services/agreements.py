"""Co-lending agreements: set by risk managers, one new version per change, never edited in place.

Invariants: a partner's share of a loan leaves the platform at least 30 % (the rule for co-funded internet loans);
the partner's cap on outstanding follows from its tier-1 capital (25 %); the amount range is a range; only the newest
version of a partner's agreement is active, and offers, shares and loans keep the version they were made under.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.money import to_fen
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from partners.models import PLATFORM_MIN_SHARE, CoLendingAgreement, FeeRule, FundingPartner
from underwriting.choices import GRADES

MANAGE_PERMISSION = "partners.manage_agreement"
MAX_SHARE = Decimal(1) - PLATFORM_MIN_SHARE
# A partner's own rate and the platform's service fee are annual fractions; anything above 36 % is a typing error.
MAX_ANNUAL_RATE = Decimal("0.36")


def _decimal(errors: dict, field: str, value: Any, *, places: int) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = _("Enter a number.")
        return None
    if not number.is_finite() or number != number.quantize(Decimal(1).scaleb(-places)):
        errors[field] = _("Enter a number with at most %(places)s decimal places.") % {"places": places}
        return None
    return number


def _money(errors: dict, field: str, value: Any) -> Decimal | None:
    number = _decimal(errors, field, value, places=2)
    if number is not None and number <= 0:
        errors[field] = _("Enter an amount above zero, in yuan.")
        return None
    return number if number is None else to_fen(number)


def agreement_terms_clean(**terms: Any) -> dict[str, Any]:
    """Check an agreement's terms; raise ValidationError naming every field that breaks a rule."""
    errors: dict[str, str] = {}
    share = _decimal(errors, "share", terms.get("share"), places=4)
    if share is not None and not (Decimal(0) < share <= MAX_SHARE):
        errors["share"] = _(
            "The partner's share must be above 0 and at most %(max)s: the platform keeps at least 30 %% of every "
            "co-funded loan."
        ) % {"max": f"{MAX_SHARE:.4f}"}
    for field in ("interest_rate", "service_fee_rate"):
        rate = _decimal(errors, field, terms.get(field), places=6)
        if rate is not None and not (Decimal(0) <= rate <= MAX_ANNUAL_RATE):
            errors[field] = _("Enter an annual rate as a fraction between 0 and %(max)s (0.045 is 4.5 %%).") % {
                "max": MAX_ANNUAL_RATE
            }
    for field in ("tier1_capital", "daily_quota", "min_amount", "max_amount"):
        _money(errors, field, terms.get(field))
    amounts_given = "min_amount" not in errors and "max_amount" not in errors
    if amounts_given and Decimal(str(terms["min_amount"])) > Decimal(str(terms["max_amount"])):
        errors["max_amount"] = _("The largest loan must not be below the smallest.")
    grades = terms.get("grades") or []
    if not grades or any(grade not in GRADES for grade in grades):
        errors["grades"] = _("Choose one or more risk grades from %(grades)s.") % {"grades": ", ".join(GRADES)}
    if not terms.get("products"):
        errors["products"] = _("Choose at least one product the partner co-funds.")
    if terms.get("fee_rule") not in FeeRule.values:
        errors["fee_rule"] = _("Choose who keeps fees and late fees: %(choices)s.") % {
            "choices": ", ".join(FeeRule.values)
        }
    window = terms.get("answer_window_hours")
    if not isinstance(window, int) or not (1 <= window <= 168):
        errors["answer_window_hours"] = _("Enter whole hours from 1 to 168.")
    if errors:
        raise ValidationError(errors)
    return terms


def agreement_version_create(
    *,
    partner: FundingPartner,
    by: Any,
    products: list[LoanProduct],
    grades: list[str],
    share: Decimal,
    interest_rate: Decimal,
    tier1_capital: Decimal,
    daily_quota: Decimal,
    min_amount: Decimal,
    max_amount: Decimal,
    service_fee_rate: Decimal,
    fee_rule: str = FeeRule.PLATFORM,
    answer_window_hours: int = 24,
    note: str = "",
) -> CoLendingAgreement:
    """Make the partner's next agreement version, active from now; the previous versions stop taking new loans.

    Offers, shares and loans made under an earlier version keep it. Refused, naming the field, when a term breaks
    a rule (see ``agreement_terms_clean``); nothing is saved then.
    """
    if not getattr(by, "has_perm", None) or not by.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager sets co-lending agreements."))
    agreement_terms_clean(
        products=products,
        grades=grades,
        share=share,
        interest_rate=interest_rate,
        tier1_capital=tier1_capital,
        daily_quota=daily_quota,
        min_amount=min_amount,
        max_amount=max_amount,
        service_fee_rate=service_fee_rate,
        fee_rule=fee_rule,
        answer_window_hours=answer_window_hours,
    )
    with transaction.atomic():
        # The partner's row serialises its versions: two risk managers saving at once get 1 and 2, never 1 twice.
        locked = FundingPartner.objects.select_for_update().get(pk=partner.pk)
        previous = CoLendingAgreement.objects.filter(partner=locked).order_by("-version").first()
        CoLendingAgreement.objects.filter(partner=locked, is_active=True).update(is_active=False)
        agreement = CoLendingAgreement.objects.create(
            partner=locked,
            version=(previous.version + 1) if previous else 1,
            grades=sorted(set(grades)),
            share=Decimal(str(share)),
            interest_rate=Decimal(str(interest_rate)),
            tier1_capital=to_fen(Decimal(str(tier1_capital))),
            daily_quota=to_fen(Decimal(str(daily_quota))),
            min_amount=to_fen(Decimal(str(min_amount))),
            max_amount=to_fen(Decimal(str(max_amount))),
            service_fee_rate=Decimal(str(service_fee_rate)),
            fee_rule=fee_rule,
            answer_window_hours=answer_window_hours,
            note=str(note or "").strip(),
            created_by=by,
        )
        agreement.products.set(products)
        audit_record(
            subject=agreement,
            action="agreement.create",
            by=by,
            to_state="active",
            reason=agreement.note,
            data={
                "partner": locked.code,
                "version": agreement.version,
                "replaces": previous.version if previous else None,
                "products": sorted(product.code for product in products),
                "grades": agreement.grades,
                "share": f"{agreement.share:.4f}",
                "interest_rate": f"{agreement.interest_rate:.6f}",
                "exposure_cap": f"{agreement.exposure_cap:.2f}",
                "daily_quota": f"{agreement.daily_quota:.2f}",
                "amount_range": [f"{agreement.min_amount:.2f}", f"{agreement.max_amount:.2f}"],
                "service_fee_rate": f"{agreement.service_fee_rate:.6f}",
                "fee_rule": agreement.fee_rule,
                "answer_window_hours": agreement.answer_window_hours,
            },
        )
    return agreement


def agreement_current(*, partner: FundingPartner) -> CoLendingAgreement | None:
    """The version that takes new loans: the newest active one."""
    return CoLendingAgreement.objects.filter(partner=partner, is_active=True).order_by("-version").first()
