"""Partner banks are offered accepted loans one at a time; their answers settle the lenders and make the contract."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from lending.catalogue.services.demo import products_seed
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.services.applications import application_accept
from lending.origination.services.contracts import contract_terms_for
from partners.models import CoLendingAgreement, OfferState, PartnerOffer, WebhookEvent
from partners.services.agreements import agreement_version_create
from partners.services.offers import (
    OfferConflict,
    partner_offer_accept,
    partner_offer_decline,
    partner_offers_lapse,
)
from partners.tests.factories import AGREEMENT_DEFAULTS, agreement, funding_partner, offered_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def operating_loan(db):
    return {product.code: product for product in products_seed()}["operating-loan"]


@pytest.fixture
def bank_a(operating_loan, risk_manager):
    partner = funding_partner("bank-a", priority=1)
    agreement(partner, [operating_loan], by=risk_manager)
    return partner


@pytest.fixture
def bank_b(operating_loan, risk_manager):
    partner = funding_partner("bank-b", priority=2)
    agreement(partner, [operating_loan], by=risk_manager, share=Decimal("0.5000"))
    return partner


def _accept(application, capture):
    with capture(execute=False) as callbacks:
        application_accept(application=application, by=application.merchant.owner)
    return [callback.__qualname__ for callback in callbacks], callbacks


# Agreements.


def test_an_agreement_leaving_the_platform_under_thirty_percent_is_refused_naming_the_share(
    bank_a, operating_loan, risk_manager
):
    with pytest.raises(ValidationError) as refused:
        agreement(bank_a, [operating_loan], by=risk_manager, share=Decimal("0.7100"))
    assert "share" in refused.value.message_dict
    assert "at least 30 %" in refused.value.message_dict["share"][0]
    assert CoLendingAgreement.objects.filter(partner=bank_a).count() == 1


def test_a_change_is_a_new_version_and_only_the_newest_takes_loans(bank_a, operating_loan, risk_manager):
    second = agreement(bank_a, [operating_loan], by=risk_manager, share=Decimal("0.6000"), note="lower share")
    versions = list(
        CoLendingAgreement.objects.filter(partner=bank_a).order_by("version").values_list("version", "is_active")
    )
    assert versions == [(1, False), (2, True)]
    assert second.exposure_cap == Decimal("1000000.00")  # 25 % of 4,000,000.00 tier-1 capital
    assert AuditEvent.objects.filter(action="agreement.create", object_id=str(second.pk)).count() == 1


def test_bad_terms_are_refused_field_by_field(bank_a, operating_loan, risk_manager):
    with pytest.raises(ValidationError) as refused:
        agreement(
            bank_a,
            [],
            by=risk_manager,
            grades=["Z"],
            min_amount=Decimal("9000"),
            max_amount=Decimal("100"),
            interest_rate="4.5",
            answer_window_hours=0,
        )
    assert set(refused.value.message_dict) == {
        "products",
        "grades",
        "max_amount",
        "interest_rate",
        "answer_window_hours",
    }


def test_only_a_risk_manager_sets_an_agreement(bank_a, operating_loan, loan_officer):
    with pytest.raises(PermissionDenied):
        agreement_version_create(partner=bank_a, by=loan_officer, products=[operating_loan], **AGREEMENT_DEFAULTS)


# Offers at acceptance.


def test_accepting_an_offer_that_fits_an_agreement_offers_it_to_the_partner_and_waits(
    bank_a, bank_b, operating_loan, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", queued.append)
    application = offered_application(operating_loan)

    _names, callbacks = _accept(application, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()

    application.refresh_from_db()
    assert application.state == ApplicationState.ACCEPTED
    assert application.lenders_settled_at is None
    assert queued == []  # no contract until the partner answers
    offer = PartnerOffer.objects.get(application=application)
    assert (offer.partner, offer.state, offer.share, offer.principal) == (
        bank_a,
        OfferState.OFFERED,
        Decimal("0.7000"),
        Decimal("14000.00"),
    )
    assert WebhookEvent.objects.get(partner=bank_a, key=f"offer:{offer.pk}").payload["principal"] == "14000.00"


def test_no_agreement_for_the_grade_means_the_platform_lends_alone_at_once(
    bank_a, operating_loan, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", queued.append)
    application = offered_application(operating_loan, grade="E")

    _names, callbacks = _accept(application, django_capture_on_commit_callbacks)
    for callback in callbacks:
        callback()

    application.refresh_from_db()
    assert application.lenders_settled_at is not None
    assert [lender["code"] for lender in application.lenders] == ["platform"]
    assert queued == [application.pk]
    assert not PartnerOffer.objects.exists()


def test_the_partner_accepting_settles_the_lenders_and_the_contract_names_them(
    bank_a, operating_loan, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", queued.append)
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    offer = PartnerOffer.objects.get(application=application)

    with django_capture_on_commit_callbacks(execute=True):
        partner_offer_accept(offer=offer, by=bank_a.api_user, reference="BK-001")

    offer.refresh_from_db()
    application.refresh_from_db()
    assert (offer.state, offer.partner_reference) == (OfferState.ACCEPTED, "BK-001")
    assert queued == [application.pk]
    assert [(lender["code"], lender["share_percent"]) for lender in application.lenders] == [
        ("platform", "30.00"),
        ("bank-a", "70.00"),
    ]
    terms = contract_terms_for(application=application)
    assert terms["platform_share_percent"] == "30.00"
    assert [(p["legal_name_zh"], p["legal_name_en"], p["share_percent"]) for p in terms["funding_partners"]] == [
        ("bank-a银行股份有限公司", "Bank-A Bank Co., Ltd.", "70.00")
    ]


def test_a_decline_offers_the_next_partner_and_the_last_decline_leaves_the_platform_alone(
    bank_a, bank_b, operating_loan, django_capture_on_commit_callbacks
):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    first = PartnerOffer.objects.get(application=application)

    partner_offer_decline(offer=first, by=bank_a.api_user, reference="A-9", reason="Sector outside our appetite")
    second = PartnerOffer.objects.get(application=application, state=OfferState.OFFERED)
    assert (second.partner, second.principal) == (bank_b, Decimal("10000.00"))

    partner_offer_decline(offer=second, by=bank_b.api_user, reference="B-3", reason="Quota for grade C used")
    application.refresh_from_db()
    assert [lender["code"] for lender in application.lenders] == ["platform"]
    first.refresh_from_db()
    assert (first.state, first.reason, first.partner_reference) == (
        OfferState.DECLINED,
        "Sector outside our appetite",
        "A-9",
    )


def test_a_decline_needs_a_reason_and_a_reference(bank_a, operating_loan, django_capture_on_commit_callbacks):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    offer = PartnerOffer.objects.get(application=application)
    with pytest.raises(ValidationError) as refused:
        partner_offer_decline(offer=offer, by=bank_a.api_user, reference="X", reason="  ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        partner_offer_accept(offer=offer, by=bank_a.api_user, reference="")
    assert "reference" in refused.value.message_dict
    offer.refresh_from_db()
    assert offer.state == OfferState.OFFERED


def test_another_partner_cannot_answer_an_offer_it_was_not_made(
    bank_a, bank_b, operating_loan, django_capture_on_commit_callbacks, merchant_owner
):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    offer = PartnerOffer.objects.get(application=application)
    for stranger in (bank_b.api_user, merchant_owner):
        with pytest.raises(PermissionDenied):
            partner_offer_accept(offer=offer, by=stranger, reference="X")
    offer.refresh_from_db()
    assert offer.state == OfferState.OFFERED


def test_an_answer_after_the_window_is_refused_and_the_loan_moves_on(
    bank_a, bank_b, operating_loan, django_capture_on_commit_callbacks
):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    offer = PartnerOffer.objects.get(application=application)
    PartnerOffer.objects.filter(pk=offer.pk).update(answer_by=timezone.now() - datetime.timedelta(minutes=1))

    with pytest.raises(OfferConflict) as refused:
        partner_offer_accept(offer=offer, by=bank_a.api_user, reference="late")
    assert refused.value.code == "offer_lapsed"
    offer.refresh_from_db()
    assert offer.state == OfferState.LAPSED
    assert PartnerOffer.objects.get(application=application, state=OfferState.OFFERED).partner == bank_b


def test_the_lapse_job_moves_unanswered_offers_on_once(bank_a, operating_loan, django_capture_on_commit_callbacks):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    later = timezone.now() + datetime.timedelta(hours=25)

    assert partner_offers_lapse(now=later) == 1
    assert partner_offers_lapse(now=later) == 0
    application.refresh_from_db()
    assert [lender["code"] for lender in application.lenders] == ["platform"]


def test_an_offer_answered_twice_is_refused_the_second_time(bank_a, operating_loan, django_capture_on_commit_callbacks):
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    offer = PartnerOffer.objects.get(application=application)
    partner_offer_accept(offer=offer, by=bank_a.api_user, reference="1")
    with pytest.raises(OfferConflict) as refused:
        partner_offer_decline(offer=offer, by=bank_a.api_user, reference="2", reason="changed our mind")
    assert refused.value.code == "offer_answered"


def test_a_partner_without_room_under_its_cap_is_skipped(
    operating_loan, risk_manager, django_capture_on_commit_callbacks
):
    small = funding_partner("bank-small", priority=1)
    # 25 % of 40,000.00 is a cap of 10,000.00: a 70 % share of 20,000.00 (14,000.00) does not fit.
    agreement(small, [operating_loan], by=risk_manager, tier1_capital=Decimal("40000.00"))
    application = offered_application(operating_loan)
    _accept(application, django_capture_on_commit_callbacks)
    assert not PartnerOffer.objects.exists()
    application.refresh_from_db()
    assert [lender["code"] for lender in application.lenders] == ["platform"]


# Caps under concurrency.


def _race(offers, partner, *, threads_done):
    outcomes = []
    barrier = threading.Barrier(len(offers))

    def answer(offer):
        try:
            barrier.wait()
            partner_offer_accept(offer=offer, by=partner.api_user, reference=f"R{offer.pk}")
            outcomes.append("accepted")
        except OfferConflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    workers = [threading.Thread(target=answer, args=(offer,)) for offer in offers]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    threads_done.extend(outcomes)
    return sorted(outcomes)


def _open_offers(partner, product, count, monkeypatch):
    monkeypatch.setattr("lending.origination.tasks.contract_prepare_task.delay", lambda *args: None)
    offers = []
    for _ in range(count):
        application = offered_application(product)
        application_accept(application=application, by=application.merchant.owner)
        offers.append(PartnerOffer.objects.get(application=application, partner=partner))
    return offers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_loans_racing_for_the_last_room_under_a_cap_cannot_all_get_in(operating_loan, risk_manager, monkeypatch):
    partner = funding_partner("bank-race")
    # A cap of 30,000.00 (25 % of 120,000.00): each loan's share is 14,000.00, so two fit and the third does not.
    agreement(partner, [operating_loan], by=risk_manager, tier1_capital=Decimal("120000.00"))
    offers = _open_offers(partner, operating_loan, 5, monkeypatch)

    outcomes = _race(offers, partner, threads_done=[])

    assert outcomes == ["accepted", "accepted", "partner_cap_reached", "partner_cap_reached", "partner_cap_reached"]
    assert PartnerOffer.objects.filter(partner=partner, state=OfferState.ACCEPTED).count() == 2
    settled = LoanApplication.objects.filter(lenders_settled_at__isnull=False)
    assert sorted(len(application.lenders) for application in settled) == [1, 1, 1, 2, 2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_loans_racing_for_the_last_of_the_daily_quota_cannot_all_get_in(operating_loan, risk_manager, monkeypatch):
    partner = funding_partner("bank-quota")
    # Today's quota of 42,000.00 takes three shares of 14,000.00; the cap (1,000,000.00) is far away.
    agreement(partner, [operating_loan], by=risk_manager, daily_quota=Decimal("42000.00"))
    offers = _open_offers(partner, operating_loan, 6, monkeypatch)

    outcomes = _race(offers, partner, threads_done=[])

    assert outcomes.count("accepted") == 3
    assert outcomes.count("partner_cap_reached") == 3
