"""Partners as the partner API sees them: a bank with its API account, its agreement, loans offered to it (with the
decision behind each) and loans it co-funds (its share beside the platform's)."""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState
from lending.servicing.models import Loan, LoanState
from lending.servicing.tests.factories import make_loan
from merchants.tests.factories import MerchantFactory
from partners.models import CoLendingAgreement, FundingPartner, LoanShare, OfferState, PartnerOffer
from partners.tests.factories import offered_application as offered_application_on
from underwriting.tests.factories import DecisionFactory

PARTNER_SHARE = Decimal("0.7000")


class FundingPartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundingPartner

    code = factory.Sequence(lambda n: f"bank-{n}")
    legal_name_zh = factory.Sequence(lambda n: f"示例银行{n}")
    legal_name_en = factory.Sequence(lambda n: f"Example Bank {n}")
    licence_number = factory.Sequence(lambda n: f"B0001H{n:09d}")
    funding_account_number = factory.Sequence(lambda n: f"6217000{n:09d}")
    funding_account_name = factory.SelfAttribute("legal_name_zh")
    funding_bank_name = "示例银行总行营业部"
    webhook_url = factory.LazyAttribute(lambda partner: f"https://{partner.code}.example/webhooks")
    webhook_secret = factory.Sequence(lambda n: f"whsec_test_{n:04d}_0123456789abcdef")
    api_user = factory.LazyAttribute(lambda partner: make_user(Role.PARTNER, email=f"api@{partner.code}.example"))


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoLendingAgreement
        skip_postgeneration_save = True

    partner = factory.SubFactory(FundingPartnerFactory)
    version = 1
    grades = factory.LazyFunction(lambda: ["A", "B", "C"])
    share = PARTNER_SHARE
    interest_rate = Decimal("0.045000")
    tier1_capital = Decimal("1000000000.00")
    daily_quota = Decimal("5000000.00")
    min_amount = Decimal("10000.00")
    max_amount = Decimal("500000.00")
    service_fee_rate = Decimal("0.005000")
    created_by = factory.Sequence(lambda n: make_user(Role.RISK_MANAGER, email=f"risk{n}@agreements.example"))

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        if create:
            self.products.set(extracted or [LoanProductFactory()])


def offered_application(merchant, *, amount: Decimal = Decimal("50000.00"), features: dict | None = None):
    """An accepted application of ``merchant`` waiting for its lenders, with the automated decision behind it."""
    decision = DecisionFactory(
        merchant=merchant,
        grade="B",
        score=Decimal("712.00"),
        probability_of_default=Decimal("0.012000"),
        requested_amount=amount,
        credit_line=amount,
        reasons=[
            {
                "code": "refund_ratio",
                "feature": "refund_ratio",
                "points_lost": "12",
                "message_en": "Refunds are a larger share of sales than for most merchants.",
                "message_zh": "退款占销售额的比例高于多数商户。",
            }
        ],
        snapshot={"features": features or {"months_active": 26, "refund_ratio": "0.0120"}},
    )
    application = offered_application_on(
        LoanProductFactory(code="operating-loan"),
        amount=amount,
        grade="B",
        state=ApplicationState.ACCEPTED,
        merchant=merchant,
    )
    application.decision = decision
    application.save(update_fields=["decision"])
    return application


def offer_to(
    partner: FundingPartner,
    *,
    merchant=None,
    application=None,
    state: str = OfferState.OFFERED,
    answer_in: datetime.timedelta = datetime.timedelta(hours=24),
) -> PartnerOffer:
    """A loan offered to ``partner`` (a fresh merchant's accepted application unless one is given)."""
    application = application or offered_application(merchant or MerchantFactory())
    agreement = partner.agreements.order_by("-version").first() or AgreementFactory(partner=partner)
    return PartnerOffer.objects.create(
        application=application,
        partner=partner,
        agreement=agreement,
        share=agreement.share,
        principal=(application.offer_amount * agreement.share).quantize(Decimal("0.01")),
        state=state,
        answer_by=timezone.now() + answer_in,
    )


def co_funded_loan(partner: FundingPartner | None, *, merchant=None, state: str = LoanState.ACTIVE, **loan_fields):
    """A loan of 12,000.00 with the platform's share and, unless ``partner`` is None, the partner's 70 %."""
    merchant = merchant or MerchantFactory()
    loan = make_loan(merchant, LoanProductFactory(code="operating-loan"), state=state, **loan_fields)
    if partner is None:
        LoanShare.objects.create(loan=loan, partner=None, share=Decimal(1), principal=loan.principal)
        return loan
    agreement = partner.agreements.order_by("-version").first() or AgreementFactory(partner=partner)
    partner_principal = (loan.principal * agreement.share).quantize(Decimal("0.01"))
    LoanShare.objects.create(
        loan=loan,
        partner=partner,
        agreement=agreement,
        share=agreement.share,
        principal=partner_principal,
        interest_rate=agreement.interest_rate,
    )
    LoanShare.objects.create(
        loan=loan, partner=None, share=Decimal(1) - agreement.share, principal=loan.principal - partner_principal
    )
    return loan


def repaid_and_settled(partner: FundingPartner, loan, *, amount: Decimal, reference: str):
    """A repayment of ``loan`` distributed yesterday among its lenders, and the partner's settlement of yesterday."""
    from lending.servicing.services.repayments import payment_record
    from partners.models import Distribution
    from partners.services.settlements import partner_settlement_make

    Loan.objects.filter(pk=loan.pk).update(activated_at=timezone.now() - datetime.timedelta(days=30))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    payment_record(
        loan=loan, amount=amount, received_on=loan.start_date, source="officer", external_reference=reference
    )
    # As if the money had come in yesterday: a settlement only settles a day that is over.
    Distribution.objects.filter(payment__external_reference=reference).update(business_date=yesterday)
    return partner_settlement_make(partner=partner, business_date=yesterday)
