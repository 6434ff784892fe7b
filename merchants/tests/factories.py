import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from merchants.choices import Industry, KycState, Province, SalesSource
from merchants.models import Merchant, SalesDay
from merchants.services.demo import demo_merchant, demo_sales
from merchants.validators import credit_code_check_char, resident_id_check_char


def valid_credit_code(n: int) -> str:
    first17 = f"91440300{n:09d}"
    return first17 + credit_code_check_char(first17)


def valid_resident_id(n: int, born: datetime.date = datetime.date(1985, 6, 15)) -> str:
    first17 = f"440305{born:%Y%m%d}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


class MerchantFactory(factory.django.DjangoModelFactory):
    """A merchant with a complete profile, in KYC draft (no documents yet)."""

    class Meta:
        model = Merchant

    owner = factory.SubFactory(UserFactory, roles=[Role.MERCHANT_OWNER])
    legal_name = factory.Sequence(lambda n: f"深圳市示例商贸有限公司{n}")
    credit_code = factory.Sequence(valid_credit_code)
    industry = Industry.GROCERY
    province = Province.GUANGDONG
    city = "深圳"
    founded_on = datetime.date(2019, 3, 1)
    legal_rep_name = "张三"
    legal_rep_id_number = factory.Sequence(valid_resident_id)
    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    settlement_bank_name = "招商银行深圳分行"
    settlement_account_name = factory.SelfAttribute("legal_name")
    settlement_account_number = factory.Sequence(lambda n: f"62258800{n:08d}")


class SalesDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesDay

    merchant = factory.SubFactory(MerchantFactory)
    date = factory.Sequence(lambda n: datetime.date(2025, 1, 1) + datetime.timedelta(days=n))
    gross_sales = Decimal("3200.00")
    refunds = Decimal("40.00")
    transaction_count = 80
    distinct_customers = 65
    source = SalesSource.PLATFORM


SALES_DAYS = 730
# Demo merchant 0 of seed 7 is a steady restaurant: the same history on every machine.
DEMO_SEED, DEMO_INDEX = 7, 0


def add_demo_sales(merchant: Merchant, *, days: int = SALES_DAYS, seed: int = DEMO_SEED, index: int = DEMO_INDEX):
    """``days`` of demo merchant ``index``'s daily sales, up to yesterday, for ``merchant``."""
    profile = demo_merchant(seed=seed, index=index)
    end = timezone.localdate() - datetime.timedelta(days=1)
    dates = [end - datetime.timedelta(days=days - 1 - k) for k in range(days)]
    SalesDay.objects.bulk_create(
        SalesDay(
            merchant=merchant,
            date=dates[position],
            gross_sales=Decimal(gross) / 100,
            refunds=Decimal(refund) / 100,
            transaction_count=transactions,
            distinct_customers=customers,
        )
        for position, gross, refund, transactions, customers in demo_sales(profile, dates)
    )
    return profile


def make_verified_merchant(owner, **fields) -> Merchant:
    """A verified merchant with two years of demo sales; created verified, as the demo loader does."""
    profile = demo_merchant(seed=DEMO_SEED, index=DEMO_INDEX)
    merchant = MerchantFactory(owner=owner, kyc_state=KycState.VERIFIED, industry=profile.industry, **fields)
    add_demo_sales(merchant)
    return merchant
