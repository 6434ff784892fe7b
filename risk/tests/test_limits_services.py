"""Exposure limits: changing them (two risk managers), and lending held to them at approval and at payout."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.catalogue.services.demo import products_seed
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import (
    ApplicationError,
    application_approve,
    application_counter_offer,
    application_exposures,
)
from lending.origination.services.exposure import exposure_checkers
from lending.origination.services.funding import application_fund, applications_resume_stalled
from lending.origination.tests.factories import apply_for, signed_application
from lending.servicing.models import Loan
from lending.servicing.tests.factories import active_loan
from merchants.tests.factories import MerchantFactory, make_verified_merchant
from partners.models import Insurer, LoanShare
from partners.tests.factories import funding_partner
from risk.models import ExposureLimit, LimitKind, LimitVersion, PayoutHold
from risk.selectors.limits import limits_utilisation
from risk.services.limits import (
    LIMIT_FIREWALL,
    LimitConflict,
    LimitError,
    limit_propose,
    limit_version_activate,
    limit_version_reject,
    payout_hold_release,
)
from risk.tests.factories import limit_in_force
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import Scorecard
from underwriting.services.demo import underwriting_seed

pytestmark = pytest.mark.django_db
K = LimitKind
V = LimitVersion.Status


@pytest.fixture
def second_risk_manager(db):
    return make_user(Role.RISK_MANAGER, email="risk2@loanportal.example", staff=True)


@pytest.fixture
def officer(loan_officer):
    return with_perms(loan_officer, "lending.decide_application")


def referred(merchant, product, amount: str = "30000.00") -> LoanApplication:
    return LoanApplication.objects.create(
        merchant=merchant,
        product=product,
        amount=Decimal(amount),
        term=12,
        repayment_method=product.repayment_methods[0],
        state=ApplicationState.REFERRED,
    )


# Changing a limit: maker and checker.


def test_a_proposed_limit_is_not_in_force_until_a_second_risk_manager_activates_it(risk_manager, second_risk_manager):
    version = limit_propose(
        kind=K.INDUSTRY, key="H6210", amount="5,000,000", share_percent="25", reason="Restaurants", by=risk_manager
    )

    assert (version.status, version.version, version.amount, version.share_percent) == (
        V.PROPOSED,
        1,
        Decimal("5000000.00"),
        Decimal("25"),
    )
    assert limits_utilisation() == []

    limit_version_activate(version=version, by=second_risk_manager, note="Within the board's appetite")

    [use] = limits_utilisation()
    assert (use.kind, use.key, use.label, use.version) == ("industry", "H6210", "Restaurants (H6210)", 1)
    limit = ExposureLimit.objects.get(kind=K.INDUSTRY, key="H6210")
    assert [(event.action, event.actor_id, event.reason) for event in audit_trail(limit)] == [
        ("limit.propose", risk_manager.pk, "Restaurants"),
        ("limit.activate", second_risk_manager.pk, "Within the board's appetite"),
    ]


def test_a_change_makes_a_new_version_and_keeps_the_old_one_superseded(risk_manager, second_risk_manager):
    first = limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=risk_manager)
    limit_version_activate(version=first, by=second_risk_manager, note="ok")
    second = limit_propose(kind=K.PORTFOLIO, key="", amount="800000", share_percent="", reason="b", by=risk_manager)

    assert limits_utilisation()[0].limit_amount == Decimal("1000000.00")  # still the first until activated
    limit_version_activate(version=second, by=second_risk_manager, note="ok")

    versions = list(LimitVersion.objects.order_by("version").values_list("version", "status", "amount"))
    assert versions == [(1, V.SUPERSEDED, Decimal("1000000.00")), (2, V.ACTIVE, Decimal("800000.00"))]
    assert limits_utilisation()[0].limit_amount == Decimal("800000.00")


def test_the_proposer_cannot_activate_their_own_change(risk_manager):
    version = limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=risk_manager)

    with pytest.raises(PermissionDenied, match="another risk manager"):
        limit_version_activate(version=version, by=risk_manager, note="me again")

    assert LimitVersion.objects.get().status == V.PROPOSED


def test_a_loan_officer_can_neither_propose_nor_activate(loan_officer, risk_manager):
    with pytest.raises(PermissionDenied):
        limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=loan_officer)
    version = limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=risk_manager)
    with pytest.raises(PermissionDenied):
        limit_version_activate(version=version, by=loan_officer, note="ok")


def test_only_a_proposed_version_can_be_activated_or_rejected(risk_manager, second_risk_manager):
    version = limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=risk_manager)
    limit_version_reject(version=version, by=second_risk_manager, note="Too high for this year")

    with pytest.raises(LimitConflict, match="Only a proposed change"):
        limit_version_activate(version=version, by=second_risk_manager, note="after all")
    assert LimitVersion.objects.get().status == V.REJECTED
    assert limits_utilisation() == []


def test_one_change_waits_at_a_time(risk_manager):
    limit_propose(kind=K.PORTFOLIO, key="", amount="1000000", share_percent=None, reason="a", by=risk_manager)

    with pytest.raises(LimitConflict, match="already awaits"):
        limit_propose(kind=K.PORTFOLIO, key="", amount="900000", share_percent=None, reason="b", by=risk_manager)


@pytest.mark.parametrize(
    ("kind", "key", "amount", "share", "field", "text"),
    [
        ("sector", "x", "1", None, "kind", "Choose one of"),
        (K.INDUSTRY, "Z9999", "1000", None, "key", "industry code"),
        (K.PROVINCE, "999999", "1000", None, "key", "six-digit division code"),
        (K.CITY, "330000", "1000", None, "key", "330000/杭州"),
        (K.MERCHANT, "91330100MA00000000", "1000", None, "key", "No merchant has this credit code"),
        (K.PRODUCT, "no-such-product", "1000", None, "key", "No loan product"),
        (K.PORTFOLIO, "", "1000", "10", "share_percent", "no share of itself"),
        (K.PORTFOLIO, "", "0", None, "amount", "above 0.00"),
        (K.INDUSTRY, "H6210", None, "120", "share_percent", "at most 100"),
        (K.INDUSTRY, "H6210", None, None, "amount", "Set an amount, a share"),
    ],
)
def test_bad_figures_are_refused_naming_the_field(risk_manager, kind, key, amount, share, field, text):
    with pytest.raises(LimitError) as caught:
        limit_propose(kind=kind, key=key, amount=amount, share_percent=share, reason="why", by=risk_manager)

    assert text in " ".join(caught.value.message_dict[field])
    assert not LimitVersion.objects.exists()


# Utilisation.


def test_utilisation_counts_the_book_and_the_offers_not_yet_paid_out_with_near_and_breach(db):
    product = LoanProductFactory(code="operating-risk")
    shop = MerchantFactory(industry="H6210", province="330000", city="杭州")
    active_loan(shop, amount=Decimal("12000.00"), product=product)  # 12,000.00 outstanding
    signed_application(shop, product, amount=Decimal("10000.00"))  # approved, not yet paid out
    limit_in_force(K.INDUSTRY, "H6210", amount="24000")  # 22,000 of 24,000: near
    limit_in_force(K.CITY, "330000/杭州", amount="50000")  # 44 %: ok
    limit_in_force(K.MERCHANT, shop.credit_code, amount="15000")  # above: breach
    limit_in_force(K.PRODUCT, "operating-risk", share_percent="50")  # all of the portfolio against half: breach

    uses = {use.kind: use for use in limits_utilisation()}

    assert (uses["industry"].exposure, uses["industry"].utilisation, uses["industry"].status) == (
        Decimal("22000.00"),
        Decimal("0.9167"),
        "near",
    )
    assert (uses["city"].utilisation, uses["city"].status, uses["city"].label) == (
        Decimal("0.4400"),
        "ok",
        "Zhejiang 杭州",
    )
    assert (uses["merchant"].status, uses["merchant"].headroom) == ("breach", Decimal("0.00"))
    assert (uses["product"].limit_amount, uses["product"].status) == (Decimal("11000.00"), "breach")


# The engine's headroom.


def test_the_headroom_under_each_limit_caps_the_credit_line(db):
    product = LoanProductFactory(code="operating-headroom")
    shop = MerchantFactory(industry="H6210", province="330000", city="杭州")
    active_loan(shop, amount=Decimal("12000.00"), product=product)
    application = referred(shop, product, amount="5000.00")
    limit_in_force(K.MERCHANT, shop.credit_code, amount="20000")
    limit_in_force(K.PROVINCE, "330000", amount="100000")
    limit_in_force(K.CITY, "330000/杭州", amount="15000")
    limit_in_force(K.PORTFOLIO, "", amount="1000000")

    exposures = application_exposures(application=application)

    assert exposures.as_dict() == {
        "merchant": "8000.00",
        "industry": None,
        "region": "3000.00",  # the lower of the province's and the city's
        "partner": None,
        "portfolio": "988000.00",
    }


# At approval.


@pytest.fixture
def approving_engine(db):
    """The shipped scorecard and rules, set so that every score approves."""
    scorecard_cache_clear()
    underwriting_seed()
    Scorecard.objects.filter(state="active").update(approve_min_score=0, refer_min_score=0)
    scorecard_cache_clear()
    yield
    scorecard_cache_clear()


def test_an_approval_over_a_limit_is_referred_with_the_limit_named(merchant_owner, approving_engine):
    shop = make_verified_merchant(merchant_owner, legal_name="杭州甲商贸有限公司")
    operating = products_seed()[0]
    limit_in_force(K.PRODUCT, operating.code, amount="15000")

    application = apply_for(shop, operating, amount=Decimal("20000.00"))

    assert application.state == ApplicationState.REFERRED
    [event] = [row for row in audit_trail(application) if row.action == "application.refer"]
    assert event.reason == (
        f"Product limit on {operating.name_en} ({operating.code}) (version 1): 20,000.00 yuan would be committed "
        "against a limit of 15,000.00 yuan."
    )
    assert event.data["limits"][0]["code"] == f"limit.product.{operating.code}"
    assert event.data["limits"][0]["message_zh"] == (
        f"{operating.name_zh} ({operating.code})的产品限额（第 1 版）：承诺敞口将达 20,000.00 元，限额为 15,000.00 元。"
    )
    assert Notice.objects.filter(user=merchant_owner, title__contains="being reviewed").exists()


def test_an_officer_approval_over_a_limit_is_refused_naming_it_and_stays_referred(officer):
    product = LoanProductFactory(code="operating-officer")
    shop = MerchantFactory(industry="H6210")
    limit_in_force(K.INDUSTRY, "H6210", amount="25000")
    signed_application(MerchantFactory(industry="H6210"), product, amount=Decimal("10000.00"))
    application = referred(shop, product, amount="20000.00")

    with pytest.raises(ApplicationError) as caught:
        application_approve(application=application, by=officer)

    assert caught.value.code == "exposure_limit"
    assert (
        "Industry limit on Restaurants (H6210) (version 1): 30,000.00 yuan would be committed against a limit "
        in (caught.value.messages[0])
    )
    application.refresh_from_db()
    assert application.state == ApplicationState.REFERRED
    assert not AuditEvent.objects.filter(action="application.approve").exists()


def test_a_counter_offer_within_the_limit_is_made(officer):
    product = LoanProductFactory(code="operating-counter")
    shop = MerchantFactory(industry="H6210")
    limit_in_force(K.INDUSTRY, "H6210", amount="25000")
    application = referred(shop, product, amount="30000.00")

    with pytest.raises(ApplicationError):
        application_approve(application=application, by=officer)
    application_counter_offer(
        application=application, by=officer, amount="25000", term=12, price=product.price_for("E"), note="fits"
    )

    application.refresh_from_db()
    assert (application.state, application.offer_amount) == (ApplicationState.APPROVED, Decimal("25000.00"))


# At payout.


def test_a_payout_over_a_limit_is_held_and_released_when_room_returns(officer, risk_manager, second_risk_manager):
    product = LoanProductFactory(code="operating-payout")
    shop = MerchantFactory()
    active_loan(MerchantFactory(), amount=Decimal("12000.00"), product=product)
    application = signed_application(shop, product, amount=Decimal("10000.00"))
    first = limit_propose(kind=K.PORTFOLIO, key="", amount="20000", share_percent=None, reason="a", by=risk_manager)
    limit_version_activate(version=first, by=second_risk_manager, note="ok")

    assert application_fund(application=application) is None

    hold = PayoutHold.objects.get(application=application)
    assert hold.status == PayoutHold.Status.HELD
    assert hold.reason_en == (
        "Whole portfolio limit on The whole portfolio (version 1): 22,000.00 yuan would be committed against a "
        "limit of 20,000.00 yuan."
    )
    assert not Loan.objects.filter(application=application).exists()
    assert Notice.objects.filter(user=officer, title="A payout is held by an exposure limit").count() == 1
    # Another attempt (the stalled-application sweep) finds no room either: still one hold, one notice.
    assert application_fund(application=application) is None
    assert PayoutHold.objects.filter(application=application).count() == 1
    with pytest.raises(LimitError, match="still no room"):
        payout_hold_release(hold=hold, by=officer)

    raised = limit_propose(kind=K.PORTFOLIO, key="", amount="30000", share_percent=None, reason="b", by=risk_manager)
    limit_version_activate(version=raised, by=second_risk_manager, note="ok")
    loan = payout_hold_release(hold=hold, by=officer)

    hold.refresh_from_db()
    assert (hold.status, hold.released_by) == (PayoutHold.Status.RELEASED, officer)
    assert loan.application_id == application.pk
    assert [event.action for event in audit_trail(hold)] == ["payout.hold", "payout.release"]


def test_releasing_a_payout_needs_the_permission_to_fund(merchant, senior_officer, risk_manager):
    product = LoanProductFactory(code="operating-release")
    limit_in_force(K.PORTFOLIO, "", amount="1000")
    application = signed_application(merchant, product, amount=Decimal("10000.00"))
    application_fund(application=application)
    hold = PayoutHold.objects.get()
    nobody = make_user(Role.PARTNER, email="partner@bank.example")

    with pytest.raises(PermissionDenied):
        payout_hold_release(hold=hold, by=nobody)
    assert PayoutHold.objects.get().status == PayoutHold.Status.HELD


def test_the_sweep_of_signed_applications_pays_a_held_payout_once_room_returns(merchant):
    application = signed_application(merchant, LoanProductFactory(code="operating-sweep"), amount=Decimal("10000.00"))
    limit_in_force(K.PORTFOLIO, "", amount="5000")
    application_fund(application=application)

    applications_resume_stalled(older_than=datetime.timedelta(0))
    assert PayoutHold.objects.get().status == PayoutHold.Status.HELD
    assert not Loan.objects.exists()

    limit_in_force(K.PORTFOLIO, "", amount="50000")
    applications_resume_stalled(older_than=datetime.timedelta(0))

    hold = PayoutHold.objects.get()
    assert (hold.status, hold.released_by) == (PayoutHold.Status.RELEASED, None)
    assert Loan.objects.get().application_id == application.pk


def test_the_firewall_is_registered_with_lending_and_without_it_nothing_is_limited(merchant, monkeypatch):
    assert LIMIT_FIREWALL in exposure_checkers()
    limit_in_force(K.PORTFOLIO, "", amount="1000")
    monkeypatch.setattr("lending.origination.services.exposure._checkers", [])

    application = signed_application(merchant, LoanProductFactory(code="operating-bare"), amount=Decimal("10000.00"))

    assert application_fund(application=application) is not None
    assert not PayoutHold.objects.exists()


def test_without_limits_lending_proceeds_as_before(merchant):
    application = signed_application(merchant, LoanProductFactory(code="operating-free"), amount=Decimal("10000.00"))

    assert application_fund(application=application) is not None
    assert not PayoutHold.objects.exists()


# A partner bank's share.


def test_a_partner_banks_limit_counts_its_share_of_the_book_and_of_the_loan_paid_out(merchant, risk_manager):
    bank = funding_partner("bank-a")
    product = LoanProductFactory(code="operating-colend")
    booked = active_loan(MerchantFactory(), amount=Decimal("20000.00"), product=product)
    LoanShare.objects.create(loan=booked, partner=bank, share=Decimal("0.7000"), principal=Decimal("14000.00"))
    LoanShare.objects.create(loan=booked, share=Decimal("0.3000"), principal=Decimal("6000.00"))
    application = signed_application(merchant, product, amount=Decimal("10000.00"))
    LoanApplication.objects.filter(pk=application.pk).update(
        lenders=[
            {"code": "bank-a", "legal_name_zh": "", "legal_name_en": "", "share": "0.7000"},
            {"code": "platform", "legal_name_zh": "", "legal_name_en": "", "share": "0.3000"},
        ],
        lenders_settled_at=timezone.now(),
    )
    limit_in_force(K.LENDER, "bank-a", amount="20000")
    limit_in_force(K.LENDER, "platform", amount="20000")

    assert application_fund(application=application) is None

    hold = PayoutHold.objects.get()
    # The bank's 70 % of the 20,000.00 outstanding and of the 10,000.00 paid out; the platform's 30 % fits.
    assert [row["code"] for row in hold.limits] == ["limit.lender.bank-a"]
    assert "21,000.00 yuan would be committed against a limit of 20,000.00 yuan" in hold.reason_en
    assert "bank-a银行股份有限公司 Bank-A Bank Co., Ltd. (bank-a)" in hold.reason_en
    assert [use.exposure for use in limits_utilisation() if use.kind == K.LENDER] == [
        Decimal("21000.00"),  # bank-a: the book's 14,000.00 and the signed loan's 7,000.00
        Decimal("9000.00"),  # the platform: 6,000.00 and 3,000.00
    ]


def test_an_insurer_limit_names_a_known_insurer(risk_manager):
    with pytest.raises(LimitError) as caught:
        limit_propose(kind=K.INSURER, key="ins-a", amount="1000", share_percent=None, reason="x", by=risk_manager)
    assert caught.value.message_dict["key"] == ["Enter an insurer's code."]

    Insurer.objects.create(code="ins-a", legal_name_zh="甲保险", legal_name_en="A Insurance", licence_number="1")
    limit_propose(kind=K.INSURER, key="ins-a", amount="1000", share_percent=None, reason="x", by=risk_manager)
