"""Credit-insurance premiums the borrower pays, by product and risk grade: the one write.

The insurer's agreement lives above lending (``partners``); lending may not import it. When a borrower-paid
agreement is activated, changed or ended, partners calls ``borrower_premium_set`` here, and from then on every
quote and offer on the product at those grades carries the premium (``product_terms_snapshot``).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.services.audit import audit_record
from lending.catalogue.models import RATE_QUANTUM, BorrowerPremium, LoanProduct
from lending.catalogue.money.terms import MAX_INSURANCE_PREMIUM_RATE
from lending.catalogue.services.products import product_ceiling_errors
from underwriting.choices import GRADES


def borrower_premium_set(
    *, product: LoanProduct, grades: list[str], rate: Decimal, by, source: str
) -> list[BorrowerPremium]:
    """Make ``source``'s premium on ``product`` exactly ``rate`` at ``grades`` (a rate of 0 or no grades ends it).

    Invariants: one premium per product and grade, from one source (a second insurer's borrower-paid premium on
    the same grade is refused, naming the grades); never on a sales-share advance (its fee factor is its whole
    price); and never a premium that puts any loan the product allows above the annual-cost ceiling — the grid is
    re-checked with the premium in it and the change is refused (``premium_rate``) with nothing saved. One audit
    row on the product.
    """
    rate = Decimal(rate)
    if not 0 <= rate <= MAX_INSURANCE_PREMIUM_RATE or rate != rate.quantize(RATE_QUANTUM):
        raise ValidationError(
            {
                "premium_rate": [
                    _("Must be a fraction from 0 to %(max)s with at most six decimal places (0.008 is 0.8 %%).")
                    % {"max": MAX_INSURANCE_PREMIUM_RATE}
                ]
            }
        )
    unknown = sorted(set(grades) - set(GRADES))
    if unknown:
        raise ValidationError(
            {
                "grades": [
                    _("Unknown grades: %(unknown)s. The grades are %(grades)s.")
                    % {"unknown": ", ".join(unknown), "grades": ", ".join(GRADES)}
                ]
            }
        )
    grades = sorted(set(grades)) if rate else []
    with transaction.atomic():
        locked = LoanProduct.objects.select_for_update().get(pk=product.pk)
        if grades and locked.is_sales_share:
            raise ValidationError(
                {
                    "products": [
                        _(
                            "%(code)s is a sales-share advance: its fee factor is its whole price, so the borrower "
                            "cannot pay an insurance premium on it; let the platform pay the premium."
                        )
                        % {"code": locked.code}
                    ]
                }
            )
        current = {row.grade: row for row in BorrowerPremium.objects.filter(product=locked)}
        taken = sorted(grade for grade in grades if grade in current and current[grade].source != source)
        if taken:
            raise ValidationError(
                {
                    "grades": [
                        _("%(code)s already carries a borrower-paid premium at grades %(grades)s (set by %(source)s).")
                        % {"code": locked.code, "grades": ", ".join(taken), "source": current[taken[0]].source}
                    ]
                }
            )
        before = {grade: str(row.rate) for grade, row in current.items() if row.source == source}
        BorrowerPremium.objects.filter(product=locked, source=source).exclude(grade__in=grades).delete()
        rows = [
            BorrowerPremium.objects.update_or_create(
                product=locked, grade=grade, defaults={"rate": rate, "source": source}
            )[0]
            for grade in grades
        ]
        after = {grade: str(rate) for grade in grades}
        if before == after:
            return rows
        over = product_ceiling_errors(product=locked)
        if over:
            raise ValidationError({"premium_rate": over})
        audit_record(
            subject=locked,
            action="product.borrower_premium_set",
            by=by,
            data={"source": source, "before": before, "after": after},
        )
    return rows


__all__ = ["borrower_premium_set"]
