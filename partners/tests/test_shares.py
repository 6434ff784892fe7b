"""Shares at payout: partners' principals rounded down to the fen, the platform takes the rest, and the payout
debits each lender's funding account at the sandbox bank."""

from decimal import ROUND_DOWN, Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund, disbursement_send
from lending.origination.services.lenders import LendersError, co_lending, co_lending_register
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Disbursement, Loan, LoanState
from lending.servicing.tests.factories import active_loan
from partners.models import LoanShare, PartnerOffer, WebhookEvent
from partners.services.shares import loan_shares_create
from partners.tests.factories_money import PartnerTerms, co_funded_loan, partners_accept
from sandbox.models import SandboxTransfer
from sandbox.rails import PLATFORM_FUNDING_ACCOUNT, funding_leg_key

pytestmark = pytest.mark.django_db
D = Decimal


def shares(loan) -> dict[str, tuple[Decimal, Decimal]]:
    return {share.lender_code: (share.share, share.principal) for share in LoanShare.objects.filter(loan=loan)}


def test_partners_are_rounded_down_to_the_fen_and_the_platform_takes_the_rest(merchant):
    loan = co_funded_loan(
        merchant,
        [PartnerTerms(D("0.3333"), code="icbc-sz"), PartnerTerms(D("0.2500"), code="cmb-hz")],
        amount=D("12345.67"),
    )

    # 12,345.67 x 0.3333 = 4,114.811811 -> 4,114.81; x 0.25 = 3,086.4175 -> 3,086.41; the platform 5,144.45.
    assert shares(loan) == {
        "platform": (D("0.4167"), D("5144.45")),
        "icbc-sz": (D("0.3333"), D("4114.81")),
        "cmb-hz": (D("0.2500"), D("3086.41")),
    }
    share = LoanShare.objects.get(loan=loan, partner__code="icbc-sz")
    offer = PartnerOffer.objects.get(application=loan.application, partner__code="icbc-sz")
    assert (share.agreement, share.agreement.version, share.interest_rate) == (offer.agreement, 1, D("0.060000"))


def test_the_funding_legs_are_each_partners_share_and_a_second_call_records_nothing(merchant):
    loan = co_funded_loan(merchant, [PartnerTerms(D("0.7000"), code="icbc-sz")], amount=D("10000.01"))
    before = list(LoanShare.objects.filter(loan=loan).values_list("pk", "principal"))

    legs = loan_shares_create(loan=loan, application=loan.application)

    assert [(leg.lender, leg.amount) for leg in legs] == [("icbc-sz", D("7000.00"))]
    assert legs[0].account_number.startswith("6222")
    assert list(LoanShare.objects.filter(loan=loan).values_list("pk", "principal")) == before
    assert LoanShare.objects.get(loan=loan, partner=None).principal == D("3000.01")


def test_a_lender_without_an_accepted_offer_gets_no_share_and_nothing_is_saved(merchant):
    loan = active_loan(merchant)
    partners_accept(loan.application, [PartnerTerms(D("0.4000"), code="icbc-sz")])
    PartnerOffer.objects.filter(application=loan.application).delete()

    with pytest.raises(LendersError, match=r"no accepted offer.*icbc-sz"):
        loan_shares_create(loan=loan, application=loan.application)
    assert not LoanShare.objects.filter(loan=loan).exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=st.decimals(min_value=D("10000.00"), max_value=D("500000.00"), places=2),
    parts=st.lists(st.integers(min_value=1, max_value=3500), min_size=1, max_size=3),
)
def test_shares_sum_exactly_to_the_principal_for_any_loan(merchant, amount, parts):
    total = sum(parts)
    fractions = [D(part) / D(10000) for part in parts]
    if total > 7000:  # the agreements leave the platform at least 30 %
        fractions = [(f * 7000 / total).quantize(D("0.0001"), rounding=ROUND_DOWN) for f in fractions]
    fractions = [f for f in fractions if f > 0]
    loan = co_funded_loan(merchant, [PartnerTerms(f) for f in fractions], amount=amount, term=6)

    rows = LoanShare.objects.filter(loan=loan)
    assert rows.aggregate(s=Sum("principal"))["s"] == loan.principal
    assert rows.aggregate(s=Sum("share"))["s"] == D(1)
    for row in rows.exclude(partner=None):
        assert row.principal == (loan.principal * row.share).quantize(D("0.01"), rounding=ROUND_DOWN)
    assert rows.get(partner=None).principal >= loan.principal * D("0.30")


# The journey: booking asks the co-lending hook, the payout debits each lender.


class SharesHook:
    """The partners app's hook as far as this part needs it: at booking, record the shares."""

    def offer(self, *, application) -> bool:
        return False

    def loan_booked(self, *, loan, application):
        return loan_shares_create(loan=loan, application=application)


@pytest.fixture
def hook():
    installed = co_lending()
    co_lending_register(SharesHook())
    yield
    co_lending_register(installed)


def test_a_co_funded_payout_debits_each_lenders_funding_account_once(
    merchant, hook, django_capture_on_commit_callbacks
):
    product = LoanProductFactory(code="co-funded", origination_fee_rate=D("0.010000"))
    application = signed_application(merchant, product, amount=D("20000.00"))
    partners_accept(application, [PartnerTerms(D("0.6000"), code="icbc-sz")])

    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application)
    loan = Loan.objects.get(pk=loan.pk)

    assert loan.state == LoanState.ACTIVE
    assert shares(loan) == {"platform": (D("0.4000"), D("8000.00")), "icbc-sz": (D("0.6000"), D("12000.00"))}
    disbursement = Disbursement.objects.get(loan=loan)
    assert [(leg["lender"], leg["amount"]) for leg in disbursement.funding_legs] == [("icbc-sz", "12000.00")]
    debits = {
        row.lender: (row.amount, row.account_number)
        for row in SandboxTransfer.objects.filter(kind=SandboxTransfer.Kind.FUNDING)
    }
    # The 1 % origination fee (200.00) comes off the platform's own part: 20,000 - 200 - 12,000.
    assert disbursement.amount == D("19800.00")
    assert debits == {
        "icbc-sz": (D("12000.00"), disbursement.funding_legs[0]["account_number"]),
        "platform": (D("7800.00"), PLATFORM_FUNDING_ACCOUNT),
    }
    assert SandboxTransfer.objects.get(lender="icbc-sz").idempotency_key == funding_leg_key(
        payout_key=disbursement.idempotency_key, lender="icbc-sz"
    )
    funded = WebhookEvent.objects.get(partner__code="icbc-sz", event="loan.funded")
    assert (funded.key, funded.payload["principal"], funded.payload["share"]) == (
        f"funded:{loan.pk}",
        "12000.00",
        "0.6000",
    )

    disbursement_send(disbursement_id=disbursement.pk)
    assert SandboxTransfer.objects.filter(kind=SandboxTransfer.Kind.FUNDING).count() == 2
    assert WebhookEvent.objects.filter(event="loan.funded").count() == 1


def test_a_loan_the_platform_lends_alone_debits_no_funding_account(merchant, hook, django_capture_on_commit_callbacks):
    application = signed_application(merchant, LoanProductFactory(code="alone"), amount=D("20000.00"))

    with django_capture_on_commit_callbacks(execute=True):
        loan = application_fund(application=application)

    assert not LoanShare.objects.filter(loan=loan).exists()
    assert not SandboxTransfer.objects.filter(kind=SandboxTransfer.Kind.FUNDING).exists()
    assert SandboxTransfer.objects.filter(kind=SandboxTransfer.Kind.PAYOUT).count() == 1
