"""Co-funded loans for the money tests: partner banks with agreements, accepted offers, settled lenders and shares.

``co_funded_loan`` builds an active loan directly on a chosen start date (servicing's ``active_loan``), settles its
lenders as the partners app would, and records its shares with the real ``loan_shares_create``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import factory
from django.conf import settings
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user
from lending.origination.models import LoanApplication
from lending.origination.services.lenders import PLATFORM, Lender
from lending.servicing.models import Loan
from lending.servicing.tests.factories import active_loan
from partners.models import CoLendingAgreement, FeeRule, FundingPartner, OfferState, PartnerOffer
from partners.services.shares import loan_shares_create


class FundingPartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundingPartner
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"bank{n}")
    legal_name_zh = factory.Sequence(lambda n: f"第{n}合作银行股份有限公司")
    legal_name_en = factory.Sequence(lambda n: f"Partner Bank {n} Co., Ltd.")
    licence_number = factory.Sequence(lambda n: f"B{n:06d}H")
    funding_account_number = factory.Sequence(lambda n: f"6222{n:012d}")
    funding_account_name = factory.LazyAttribute(lambda partner: partner.legal_name_zh)
    funding_bank_name = factory.LazyAttribute(lambda partner: partner.legal_name_zh)
    priority = factory.Sequence(lambda n: 10 + n)


def agreement_make(
    partner: FundingPartner,
    *,
    share: Decimal = Decimal("0.5000"),
    interest_rate: Decimal = Decimal("0.060000"),
    service_fee_rate: Decimal = Decimal("0.010000"),
    fee_rule: str = FeeRule.PLATFORM,
    version: int = 1,
) -> CoLendingAgreement:
    author = make_user(Role.RISK_MANAGER, email=f"risk-{partner.code}-v{version}@loanportal.example", staff=True)
    return CoLendingAgreement.objects.create(
        partner=partner,
        version=version,
        share=share,
        interest_rate=interest_rate,
        tier1_capital=Decimal("1000000000.00"),
        daily_quota=Decimal("100000000.00"),
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("10000000.00"),
        service_fee_rate=service_fee_rate,
        fee_rule=fee_rule,
        grades=["A", "B", "C", "D", "E"],
        created_by=author,
    )


@dataclass(frozen=True)
class PartnerTerms:
    """One partner of a co-funded loan: its share and its agreement's terms."""

    share: Decimal
    interest_rate: Decimal = Decimal("0.060000")
    fee_rule: str = FeeRule.PLATFORM
    service_fee_rate: Decimal = Decimal("0.010000")
    code: str | None = None


def lenders_settle_directly(application: LoanApplication, partners: list[tuple[FundingPartner, Decimal]]) -> None:
    """Test set-up: the lenders as ``application_lenders_settle`` leaves them (the platform takes the rest)."""
    platform = Decimal(1) - sum((share for _partner, share in partners), Decimal(0))
    lenders = [
        Lender(PLATFORM, str(settings.PLATFORM_LEGAL_NAME), str(settings.PLATFORM_LEGAL_NAME), platform),
        *(Lender(partner.code, partner.legal_name_zh, partner.legal_name_en, share) for partner, share in partners),
    ]
    application.lenders = [lender.as_terms() for lender in lenders]
    application.lenders_settled_at = timezone.now()
    application.save(update_fields=["lenders", "lenders_settled_at"])


def partners_accept(application: LoanApplication, terms: list[PartnerTerms]) -> list[FundingPartner]:
    """Test set-up: an accepted offer per partner (under a new agreement each) and the lenders settled."""
    accepted = []
    for term in terms:
        partner = FundingPartnerFactory(**({"code": term.code} if term.code else {}))
        agreement = agreement_make(
            partner,
            share=term.share,
            interest_rate=term.interest_rate,
            fee_rule=term.fee_rule,
            service_fee_rate=term.service_fee_rate,
            version=partner.agreements.count() + 1,
        )
        PartnerOffer.objects.create(
            application=application,
            partner=partner,
            agreement=agreement,
            share=term.share,
            principal=(application.amount * term.share).quantize(Decimal("0.01")),
            answer_by=timezone.now() + datetime.timedelta(hours=24),
            state=OfferState.ACCEPTED,
            answered_at=timezone.now(),
        )
        accepted.append((partner, term.share))
    lenders_settle_directly(application, accepted)
    return [partner for partner, _share in accepted]


def co_funded_loan(
    merchant,
    terms: list[PartnerTerms],
    *,
    amount: Decimal = Decimal("12000.00"),
    term: int = 12,
    start: datetime.date = datetime.date(2025, 1, 15),
    **loan_fields,
) -> Loan:
    """An active loan co-funded by the partners of ``terms``, its shares recorded as at booking."""
    loan = active_loan(merchant, amount=amount, term=term, start=start, **loan_fields)
    partners_accept(loan.application, terms)
    loan_shares_create(loan=loan, application=loan.application)
    return loan
