"""Insurers, their agreements and covered loans, for the co-insurance tests."""

from decimal import Decimal

import factory

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from lending.servicing.models import Loan
from partners.models import InsuranceAgreement, InsuranceCover, Insurer, PremiumPayer
from partners.services.insurance import insurance_agreement_create


class InsurerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Insurer
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"insurer-{n}")
    legal_name_zh = factory.Sequence(lambda n: f"测试财产保险股份有限公司{n}")
    legal_name_en = factory.Sequence(lambda n: f"Test Property Insurance Co., Ltd. {n}")
    licence_number = factory.Sequence(lambda n: f"000{n:05d}")


def insurer_with_account(code: str) -> Insurer:
    """The insurer ``code`` (made if new) with its API account (role Partner)."""
    insurer = InsurerFactory(code=code)
    if insurer.api_user is None:
        insurer.api_user = make_user(Role.PARTNER, email=f"api@{code}.example")
        insurer.save(update_fields=["api_user"])
    return insurer


def agreement_make(
    insurer: Insurer,
    products,
    *,
    by,
    grades=("A", "B", "C", "D", "E"),
    cover_share: str = "0.8000",
    premium_rate: str = "0.008000",
    payer: str = PremiumPayer.PLATFORM,
    claim_after_dpd: int = 60,
) -> InsuranceAgreement:
    """A new agreement version through the service (a risk manager's change)."""
    return insurance_agreement_create(
        insurer=insurer,
        products=list(products),
        grades=list(grades),
        cover_share=Decimal(cover_share),
        premium_rate=Decimal(premium_rate),
        premium_payer=payer,
        claim_after_dpd=claim_after_dpd,
        note="test",
        by=with_perms(by, "partners.manage_insurance_agreement"),
    )


def cover_make(loan: Loan, agreement: InsuranceAgreement, *, premium: str = "96.00") -> InsuranceCover:
    """A cover as the payout leaves it, for a loan built directly."""
    return InsuranceCover.objects.create(
        loan=loan,
        insurer=agreement.insurer,
        agreement=agreement,
        cover_share=agreement.cover_share,
        premium=Decimal(premium),
        premium_payer=agreement.premium_payer,
        covered_principal=loan.principal,
    )
