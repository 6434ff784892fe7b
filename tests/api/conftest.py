"""Whole-API fixtures: the personas of the authorisation matrix, each with its own marked data.

Every persona's data carries marker strings (a name, a credit code, a sales figure) that appear nowhere
else, so a test can prove that an answer given to one persona contains nothing of another's.
"""

import contextlib
import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings, spectacular_settings
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services.platform_feed import platform_feed_user_ensure
from accounts.tests.factories import DEFAULT_PASSWORD, make_user
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import LoanApplication
from merchants.tests.factories import MerchantFactory, SalesDayFactory
from partners.tests.factories_api import (
    FundingPartnerFactory,
    co_funded_loan,
    offer_to,
    offered_application,
    repaid_and_settled,
)

SCHEMA_CLASS = "core.api.schema.AutoSchema"
PAGINATION_CLASS = "core.api.pagination.DefaultCursorPagination"
ERROR_HOOK = "core.api.schema.postprocess_error_responses"
THROTTLE_RATES = {"applications": "20/hour", "applications_daily": "100/day"}
# Swagger UI's default sends the schema's address to validator.swagger.io for a badge; never leave the site.
SWAGGER_UI_SETTINGS = {"validatorUrl": None}


@contextlib.contextmanager
def api_conventions():
    """The settings the conventions need (the lines the report asks for in config/settings/base.py).

    Applied only where base.py does not carry them yet, so these tests prove the code today and the real
    settings once they land (``test_schema.py`` checks that they did).
    """
    rest_framework = dict(django_settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_SCHEMA_CLASS"] = SCHEMA_CLASS
    rest_framework["DEFAULT_PAGINATION_CLASS"] = PAGINATION_CLASS
    rest_framework["DEFAULT_THROTTLE_RATES"] = {**THROTTLE_RATES, **rest_framework.get("DEFAULT_THROTTLE_RATES", {})}
    hooks = [f"{hook.__module__}.{hook.__name__}" for hook in spectacular_settings.POSTPROCESSING_HOOKS]
    patches = {} if ERROR_HOOK in hooks else {"POSTPROCESSING_HOOKS": [*hooks, ERROR_HOOK]}
    if "validatorUrl" not in spectacular_settings.SWAGGER_UI_SETTINGS:
        patches["SWAGGER_UI_SETTINGS"] = {**spectacular_settings.SWAGGER_UI_SETTINGS, **SWAGGER_UI_SETTINGS}
    with override_settings(REST_FRAMEWORK=rest_framework), patched_settings(patches):
        yield


@pytest.fixture(autouse=True)
def _api_conventions():
    with api_conventions():
        yield


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache; a test must not inherit another test's spent allowance.
    cache.clear()
    yield
    cache.clear()


def generate_schema() -> dict:
    """The OpenAPI document exactly as /api/v1/schema/ serves it (public, version v1)."""
    assert api_settings.DEFAULT_SCHEMA_CLASS.__module__ == "core.api.schema"
    return SchemaGenerator(api_version="v1").get_schema(request=None, public=True)


@pytest.fixture
def openapi() -> dict:
    return generate_schema()


def schema_operations(schema: dict) -> dict[str, tuple[str, str, dict]]:
    """operationId -> (METHOD, path, operation) for every operation in ``schema``."""
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            found[operation["operationId"]] = (method.upper(), path, operation)
    return found


@dataclass
class Persona:
    name: str
    user: object | None
    markers: tuple[str, ...] = ()
    merchant: object | None = None
    application: object | None = None
    # The payment rail: no account, no token; it signs each request's body with the shared callback secret.
    signs: bool = False
    # A partner bank: its funding partner, a loan offered to it (open) and a loan it co-funds.
    partner: object | None = None
    offer: object | None = None
    loan: object | None = None
    settlement: object | None = None

    @property
    def email(self) -> str | None:
        return self.user.email if self.user else None

    def client(self) -> APIClient:
        """A client authenticated with this persona's API token (a fresh one if it was revoked)."""
        client = APIClient()
        if self.user is not None:
            token, _created = Token.objects.get_or_create(user=self.user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client


PERSONAS = (
    "merchant_a",
    "merchant_b",
    "partner_x",
    "partner_y",
    "insurer",
    "officer",
    "platform_feed",
    "rail_callback",
    "anonymous",
)
# A product on offer: public data every persona may read and get quotes on.
PRODUCT_CODE = "operating-loan"


def _sales_days(merchant, gross: str, first: datetime.date) -> list:
    return [
        SalesDayFactory(merchant=merchant, date=first + datetime.timedelta(days=n), gross_sales=Decimal(gross))
        for n in range(3)
    ]


# The insurer persona's claim: a principal lost that appears nowhere else.
INSURER_CLAIM_MARKER = "27777.31"


def _insurer_with_a_submitted_claim(*, by):
    """An insurer (with its API account) covering a defaulted loan of a third merchant, its claim submitted."""
    from django.utils import timezone

    from lending.catalogue.tests.factories import LoanProductFactory as ProductFactory
    from lending.servicing.models import LoanState
    from lending.servicing.tests.factories import make_loan
    from merchants.tests.factories import MerchantFactory
    from partners.models import ClaimState, InsuranceAgreement, InsuranceClaim, InsuranceCover, Insurer

    insurer = Insurer.objects.create(
        code="matrix-insurer",
        legal_name_zh="矩阵财产保险股份有限公司",
        legal_name_en="Matrix Property Insurance Co., Ltd.",
        licence_number="00012345",
        api_user=make_user(Role.PARTNER, email="api@insurer.example"),
    )
    product = ProductFactory(code="insured-operating")
    loan = make_loan(MerchantFactory(), product, state=LoanState.DEFAULTED)
    agreement = InsuranceAgreement.objects.create(
        insurer=insurer,
        version=1,
        grades=["C"],
        cover_share=Decimal("0.8000"),
        premium_rate=Decimal("0.008"),
        premium_payer="platform",
        claim_after_dpd=60,
        created_by=by,
    )
    agreement.products.set([product])
    cover = InsuranceCover.objects.create(
        loan=loan,
        insurer=insurer,
        agreement=agreement,
        cover_share=agreement.cover_share,
        premium=Decimal("96.00"),
        premium_payer="platform",
        covered_principal=loan.principal,
    )
    claim = InsuranceClaim.objects.create(
        loan=loan,
        cover=cover,
        loss_on=datetime.date(2027, 5, 4),
        days_past_due=90,
        principal_lost=Decimal(INSURER_CLAIM_MARKER),
        interest_lost=Decimal("0.00"),
        claimable=Decimal("22221.85"),
    )
    # Set-up only: the claim as the officer's submission leaves it.
    InsuranceClaim.objects.filter(pk=claim.pk).update(state=ClaimState.SUBMITTED, submitted_at=timezone.now())
    return insurer, claim


@pytest.fixture
def catalogue(db):
    return [LoanProductFactory(code=PRODUCT_CODE)]


@dataclass
class PartnerBook:
    """A partner bank's own objects, and the loan the platform funds alone (nobody's in the partner API)."""

    partner: object
    offer: object
    loan: object
    settlement: object


def _partner_bank(user, code: str, *, offered: str, principal_each: str) -> PartnerBook:
    """``user``'s funding partner with an open offer of ``offered`` yuan and a co-funded loan of 12 instalments."""
    partner = FundingPartnerFactory(code=code, api_user=user, legal_name_en=f"{code} marker bank")
    loan = co_funded_loan(partner, principal_each=Decimal(principal_each))
    return PartnerBook(
        partner=partner,
        offer=offer_to(partner, application=offered_application(MerchantFactory(), amount=Decimal(offered))),
        loan=loan,
        settlement=repaid_and_settled(partner, loan, amount=Decimal(principal_each), reference=f"{code}-repaid"),
    )


@pytest.fixture
def platform_only_loan(catalogue):
    """A loan the platform funds alone: no partner sees it."""
    return co_funded_loan(None, principal_each=Decimal("3333.33"))


@pytest.fixture
def personas(merchant, other_merchant, partner_user, loan_officer, catalogue, platform_only_loan) -> dict[str, Persona]:
    """Merchant A and B (each with a profile and three sales days), partner banks X and Y (each a funding partner
    with its API account, a loan offered to it and a loan it co-funds), an officer, the payment platform's
    settlement feed (a system credential scoped to sending sales), anonymous.

    The loan products on offer (``catalogue``) exist too, and a loan the platform funds alone: they belong to no
    persona.
    """
    partner_y = make_user(Role.PARTNER, email="api@partner-y.example")
    bank_x = _partner_bank(partner_user, "bank-x", offered="34920.00", principal_each="1111.11")
    bank_y = _partner_bank(partner_y, "bank-y", offered="45830.00", principal_each="2222.22")
    insurer, _claim = _insurer_with_a_submitted_claim(by=loan_officer)
    feed = platform_feed_user_ensure(email="feed@platform.example", by=None)
    _sales_days(merchant, "7311.37", datetime.date(2025, 1, 1))
    _sales_days(other_merchant, "8422.48", datetime.date(2025, 1, 1))
    product = catalogue[0]
    applications = {
        owner: LoanApplication.objects.create(
            merchant=owner, product=product, amount=amount, term=12, repayment_method=product.repayment_methods[0]
        )
        for owner, amount in ((merchant, Decimal("31111.00")), (other_merchant, Decimal("42222.00")))
    }
    return {
        "merchant_a": Persona(
            "merchant_a",
            merchant.owner,
            markers=(
                merchant.owner.email,
                merchant.legal_name,
                merchant.credit_code,
                merchant.settlement_account_number,
                "7311.37",
                "31111.00",
            ),
            merchant=merchant,
            application=applications[merchant],
        ),
        "merchant_b": Persona(
            "merchant_b",
            other_merchant.owner,
            markers=(
                other_merchant.owner.email,
                other_merchant.legal_name,
                other_merchant.credit_code,
                other_merchant.settlement_account_number,
                "8422.48",
                "42222.00",
            ),
            merchant=other_merchant,
            application=applications[other_merchant],
        ),
        # Each bank's markers: its offer's amount and its loan's principal (13,333.32 and 26,666.64).
        "partner_x": Persona(
            "partner_x",
            partner_user,
            markers=(partner_user.email, "bank-x marker bank", "34920.00", "13333.32"),
            partner=bank_x.partner,
            offer=bank_x.offer,
            loan=bank_x.loan,
            settlement=bank_x.settlement,
        ),
        "partner_y": Persona(
            "partner_y",
            partner_y,
            markers=(partner_y.email, "bank-y marker bank", "45830.00", "26666.64"),
            partner=bank_y.partner,
            offer=bank_y.offer,
            loan=bank_y.loan,
            settlement=bank_y.settlement,
        ),
        # An insurer's API account: its claim on a loan it covers (of a merchant who is no persona).
        "insurer": Persona("insurer", insurer.api_user, markers=(insurer.api_user.email, INSURER_CLAIM_MARKER)),
        "officer": Persona("officer", loan_officer, markers=(loan_officer.email,)),
        "platform_feed": Persona("platform_feed", feed, markers=(feed.email,)),
        "rail_callback": Persona("rail_callback", None, signs=True),
        "anonymous": Persona("anonymous", None),
    }


__all__ = [
    "DEFAULT_PASSWORD",
    "INSURER_CLAIM_MARKER",
    "PERSONAS",
    "PRODUCT_CODE",
    "Persona",
    "api_conventions",
    "generate_schema",
    "schema_operations",
]
