"""Two approvals, or two payouts, racing for the room of one under a limit: one passes, the other does not.

Real PostgreSQL, real commits (``transaction=True``) and two threads released together, each with its own
connection, for every kind of limit lending's rows carry (merchant, industry, province, city, product, the
platform's lending share, the whole portfolio; at payout also an insurer's cover). The limit allows 50,000.00 and
each candidate is 30,000.00: without the lock on the limit both would read an empty book and pass.
"""

from decimal import Decimal

import pytest

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import ApplicationError, application_approve
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan
from merchants.tests.factories import MerchantFactory
from partners.models import InsuranceAgreement, Insurer
from risk.models import LimitKind, PayoutHold
from risk.tests.factories import limit_in_force
from tests.concurrency import CONFLICT, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
K = LimitKind
PRODUCT = "operating-race"
AMOUNT = Decimal("30000.00")
# Both candidates' merchants share an industry, a province and a city (MerchantFactory's: grocery, 深圳).
KEYS = {
    K.MERCHANT: None,  # the one merchant both applications are from
    K.INDUSTRY: "F5211",
    K.PROVINCE: "440000",
    K.CITY: "440000/深圳",
    K.PRODUCT: PRODUCT,
    K.LENDER: "platform",
    K.PORTFOLIO: "",
}
INSURER = "race-insurer"


def _candidates(kind: str, make) -> list[LoanApplication]:
    product = LoanProductFactory(code=PRODUCT)
    first = MerchantFactory()
    second = first if kind == K.MERCHANT else MerchantFactory()
    key = first.credit_code if kind == K.MERCHANT else KEYS.get(kind, INSURER)
    if kind == K.INSURER:
        _insurer_covering(product)
    limit_in_force(kind, key, amount="50000")
    return [make(first, product), make(second, product)]


def _insurer_covering(product) -> None:
    """An insurer covering the product's grade C at 100 %: each 30,000.00 payout is 30,000.00 it would cover."""
    insurer = Insurer.objects.create(
        code=INSURER, legal_name_zh="竞速保险", legal_name_en="Race Insurance", licence_number="00000001"
    )
    agreement = InsuranceAgreement.objects.create(
        insurer=insurer,
        version=1,
        grades=["C"],
        cover_share=Decimal("1.0000"),
        premium_rate=Decimal("0.005"),
        premium_payer="platform",
        claim_after_dpd=90,
        created_by=make_user(Role.RISK_MANAGER, email="insurer-setter@loanportal.example"),
    )
    agreement.products.set([product])


def _referred(merchant, product) -> LoanApplication:
    return LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=AMOUNT,
        term=12,
        repayment_method=product.repayment_methods[0],
        state=ApplicationState.REFERRED,
    )


@pytest.mark.parametrize("kind", list(KEYS))
def test_two_approvals_against_room_for_one_approve_one(kind):
    applications = _candidates(kind, _referred)
    officer = with_perms(make_user(Role.LOAN_OFFICER, email="racer@loanportal.example"), "lending.decide_application")

    outcomes = race(
        lambda: application_approve(application=applications.pop(), by=officer).state,
        times=2,
        conflicts=(ApplicationError,),
    )

    assert sorted(outcomes) == sorted([ApplicationState.APPROVED, CONFLICT])
    states = sorted(LoanApplication.objects.values_list("state", flat=True))
    assert states == sorted([ApplicationState.APPROVED, ApplicationState.REFERRED])


@pytest.mark.parametrize("kind", [*KEYS, K.INSURER])
def test_two_payouts_against_room_for_one_pay_one_and_hold_the_other(kind):
    applications = _candidates(kind, lambda merchant, product: signed_application(merchant, product, amount=AMOUNT))

    outcomes = race(lambda: application_fund(application=applications.pop()), times=2)

    assert sorted(outcome is None for outcome in outcomes) == [False, True]
    assert Loan.objects.count() == 1
    hold = PayoutHold.objects.get()
    assert hold.status == PayoutHold.Status.HELD
    assert hold.application_id != Loan.objects.get().application_id
    assert hold.limits[0]["code"].startswith(f"limit.{kind}")
