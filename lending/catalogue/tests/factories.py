from decimal import Decimal

import factory

from lending.catalogue.models import LoanProduct, ProductKind, RepaymentMethodChoice, TermUnitChoice


class LoanProductFactory(factory.django.DjangoModelFactory):
    """An operating loan: 10,000-500,000 yuan over 3-24 months, 7.2 %-18 % a year, 1 % fee taken from the payout."""

    class Meta:
        model = LoanProduct
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"operating-{n}")
    name_zh = "经营贷"
    name_en = "Operating loan"
    kind = ProductKind.OPERATING_LOAN
    amount_min = Decimal("10000.00")
    amount_max = Decimal("500000.00")
    term_unit = TermUnitChoice.MONTHS
    allowed_terms = factory.LazyFunction(lambda: list(range(3, 25)))
    repayment_methods = factory.LazyFunction(
        lambda: [RepaymentMethodChoice.EQUAL_INSTALMENT, RepaymentMethodChoice.EQUAL_PRINCIPAL]
    )
    prices = factory.LazyFunction(
        lambda: {"A": "0.072000", "B": "0.096000", "C": "0.120000", "D": "0.144000", "E": "0.170000"}
    )
    origination_fee_rate = Decimal("0.010000")


class ShortTermProductFactory(LoanProductFactory):
    code = factory.Sequence(lambda n: f"short-term-{n}")
    name_zh = "短期周转贷"
    name_en = "Short-term working capital"
    kind = ProductKind.SHORT_TERM_WORKING_CAPITAL
    amount_min = Decimal("1000.00")
    amount_max = Decimal("200000.00")
    term_unit = TermUnitChoice.DAYS
    allowed_terms = factory.LazyFunction(lambda: list(range(7, 91)))
    repayment_methods = factory.LazyFunction(lambda: [RepaymentMethodChoice.BULLET])
    prices = factory.LazyFunction(
        lambda: {"A": "0.000200", "B": "0.000300", "C": "0.000400", "D": "0.000500", "E": "0.000600"}
    )
    origination_fee_rate = Decimal("0")


class InstalmentProductFactory(LoanProductFactory):
    code = factory.Sequence(lambda n: f"instalment-{n}")
    name_zh = "消费分期"
    name_en = "Instalment loan"
    kind = ProductKind.INSTALMENT_LOAN
    amount_min = Decimal("1000.00")
    amount_max = Decimal("50000.00")
    allowed_terms = factory.LazyFunction(lambda: [3, 6, 12])
    repayment_methods = factory.LazyFunction(
        lambda: [RepaymentMethodChoice.EQUAL_PRINCIPAL, RepaymentMethodChoice.EQUAL_INSTALMENT]
    )
    prices = factory.LazyFunction(
        lambda: {"A": "0.003000", "B": "0.004500", "C": "0.006000", "D": "0.007500", "E": "0.009000"}
    )
    origination_fee_rate = Decimal("0")


class SalesShareProductFactory(LoanProductFactory):
    code = factory.Sequence(lambda n: f"sales-share-{n}")
    name_zh = "流水贷"
    name_en = "Sales-share advance"
    kind = ProductKind.SALES_SHARE_ADVANCE
    amount_min = Decimal("5000.00")
    amount_max = Decimal("300000.00")
    allowed_terms = factory.LazyFunction(list)
    repayment_methods = factory.LazyFunction(lambda: [RepaymentMethodChoice.SALES_SHARE])
    prices = factory.LazyFunction(
        lambda: {"A": "1.020000", "B": "1.050000", "C": "1.080000", "D": "1.110000", "E": "1.150000"}
    )
    origination_fee_rate = Decimal("0")
    sales_share_rate = Decimal("0.100000")
    sales_share_fee_days = 240
