"""The four demo products, priced the way payment platforms lend to the merchants who take payments through them.

``products_seed()`` creates them, or puts them back to these terms, keyed by code. Running it again changes
nothing and writes no audit row; a product someone edited in the back office is set back to the demo's terms.
"""

from decimal import Decimal

from lending.catalogue.models import (
    DayCountChoice,
    FeeTimingChoice,
    LoanProduct,
    PrepaymentPolicy,
    ProductKind,
    RepaymentMethodChoice,
    TermUnitChoice,
)
from lending.catalogue.services.products import product_save


def _grid(a: str, b: str, c: str, d: str, e: str) -> dict[str, str]:
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


DEMO_PRODUCTS: list[dict] = [
    {
        # 短期周转贷: days of working capital, priced by the day, repaid in one payment at maturity.
        "code": "short-term-working-capital",
        "name_zh": "短期周转贷",
        "name_en": "Short-term working capital",
        "kind": ProductKind.SHORT_TERM_WORKING_CAPITAL,
        "amount_min": Decimal("1000.00"),
        "amount_max": Decimal("200000.00"),
        "term_unit": TermUnitChoice.DAYS,
        "allowed_terms": list(range(7, 91)),
        "repayment_methods": [RepaymentMethodChoice.BULLET],
        "prices": _grid("0.000200", "0.000300", "0.000400", "0.000500", "0.000600"),
        "day_count": DayCountChoice.ACTUAL_365,
        "late_fee_daily_rate": Decimal("0.000500"),
        "grace_days": 3,
        "prepayment_policy": PrepaymentPolicy.ALLOWED,
        "offer_validity_days": 3,
        "default_after_days_past_due": 90,
        # One short extension of the single repayment date.
        "deferral_max_days": 7,
        "deferrals_per_loan": 1,
    },
    {
        # 经营贷: months of instalments at an annual rate, with a small origination fee taken from the payout.
        "code": "operating-loan",
        "name_zh": "经营贷",
        "name_en": "Merchant operating loan",
        "kind": ProductKind.OPERATING_LOAN,
        "amount_min": Decimal("10000.00"),
        "amount_max": Decimal("500000.00"),
        "term_unit": TermUnitChoice.MONTHS,
        "allowed_terms": list(range(3, 25)),
        "repayment_methods": [RepaymentMethodChoice.EQUAL_INSTALMENT, RepaymentMethodChoice.EQUAL_PRINCIPAL],
        "prices": _grid("0.072000", "0.096000", "0.120000", "0.144000", "0.170000"),
        "origination_fee_rate": Decimal("0.010000"),
        "origination_fee_timing": FeeTimingChoice.DEDUCTED,
        "late_fee_daily_rate": Decimal("0.000500"),
        "late_fee_fixed": Decimal("0.00"),
        "grace_days": 3,
        "prepayment_policy": PrepaymentPolicy.ALLOWED_WITH_FEE,
        "prepayment_fee_rate": Decimal("0.010000"),
        "offer_validity_days": 7,
        "default_after_days_past_due": 90,
        "deferral_max_days": 30,
        "deferrals_per_loan": 1,
    },
    {
        # 消费分期: a few monthly instalments priced by a monthly fee on the amount, no interest.
        "code": "instalment-loan",
        "name_zh": "消费分期",
        "name_en": "Instalment loan",
        "kind": ProductKind.INSTALMENT_LOAN,
        "amount_min": Decimal("1000.00"),
        "amount_max": Decimal("50000.00"),
        "term_unit": TermUnitChoice.MONTHS,
        "allowed_terms": [3, 6, 12],
        "repayment_methods": [RepaymentMethodChoice.EQUAL_PRINCIPAL, RepaymentMethodChoice.EQUAL_INSTALMENT],
        "prices": _grid("0.003000", "0.004500", "0.006000", "0.007500", "0.009000"),
        "late_fee_daily_rate": Decimal("0.000500"),
        "late_fee_fixed": Decimal("20.00"),
        "grace_days": 3,
        "prepayment_policy": PrepaymentPolicy.ALLOWED,
        "offer_validity_days": 7,
        "default_after_days_past_due": 90,
        "deferral_max_days": 15,
        "deferrals_per_loan": 2,
    },
    {
        # 流水贷: an advance repaid from 10 % of each day's sales. The fee factor is the most the fee can come to; it
        # accrues by the day on what is outstanding, spread over 240 days: 0.0083 % (grade A) to 0.0625 % (grade E)
        # a day, 3.03 % to 22.82 % a year at the fastest repayment, within the 24 % ceiling.
        "code": "sales-share-advance",
        "name_zh": "流水贷",
        "name_en": "Sales-share advance",
        "kind": ProductKind.SALES_SHARE_ADVANCE,
        "amount_min": Decimal("5000.00"),
        "amount_max": Decimal("300000.00"),
        "term_unit": TermUnitChoice.MONTHS,
        "allowed_terms": [],
        "repayment_methods": [RepaymentMethodChoice.SALES_SHARE],
        "prices": _grid("1.020000", "1.050000", "1.080000", "1.110000", "1.150000"),
        "sales_share_rate": Decimal("0.100000"),
        "sales_share_fee_days": 240,
        "grace_days": 0,
        "prepayment_policy": PrepaymentPolicy.ALLOWED,
        "offer_validity_days": 7,
        "default_after_days_past_due": 120,
        # Repaid from each day's sales: a slow day already pays less, there is no instalment to move.
        "deferral_max_days": 0,
        "deferrals_per_loan": 0,
    },
]


def products_seed() -> list[LoanProduct]:
    """Create the demo products, or set them back to the demo's terms; idempotent, keyed by code."""
    products = []
    for terms in DEMO_PRODUCTS:
        product = LoanProduct.objects.filter(code=terms["code"]).first() or LoanProduct()
        # Fields the demo does not name go back to the model's defaults, so a second run finds nothing to change.
        for field in LoanProduct._meta.concrete_fields:
            if field.name in {"id", "created_at", "updated_at"}:
                continue
            value = terms.get(field.name, field.get_default())
            setattr(product, field.attname, value)
        product.is_active = True
        products.append(product_save(product=product, by=None, reason="demo data"))
    return products
