"""Co-insurance: agreements (versions, the borrower's premium in the catalogue), cover at payout, claims opened by
the daily job, their states, and the recoveries shared with the insurer after it paid."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import with_perms
from core.exceptions import StateConflict
from core.models import AuditEvent
from lending.catalogue.models import BorrowerPremium
from lending.catalogue.services.products import quote_for_product
from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund
from lending.origination.tests.factories import signed_application
from lending.servicing.models import Loan, LoanState, PaymentSource
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import instalment, make_loan, pay_in_full
from partners.models import ClaimRecoveryShare, ClaimState, InsuranceAgreement, InsuranceClaim, InsuranceCover
from partners.selectors.exposure import insurer_exposure, loan_participations
from partners.selectors.insurance import insurance_costs, insurance_portfolio
from partners.services.insurance import (
    claim_recoveries_share,
    claim_reject,
    claim_settle,
    claim_submit,
    insurance_agreement_end,
    insurance_claims_open,
)
from partners.tasks import insurance_claims_open_task
from partners.tests.factories_insurance import InsurerFactory, agreement_make, cover_make, insurer_with_account

pytestmark = pytest.mark.django_db

ON = datetime.date(2027, 6, 1)


def _audits(obj, action: str) -> int:
    return AuditEvent.objects.filter(object_id=str(obj.pk), action=action).count()


# Agreements.


def test_a_change_is_a_new_version_and_only_the_newest_covers(risk_manager):
    insurer = InsurerFactory(code="pingan")
    product = LoanProductFactory()
    first = agreement_make(insurer, [product], by=risk_manager)
    second = agreement_make(insurer, [product], by=risk_manager, cover_share="0.7000")

    first.refresh_from_db()
    assert (first.version, first.is_active) == (1, False)
    assert (second.version, second.is_active, second.cover_share) == (2, True, Decimal("0.7000"))
    assert _audits(second, "insurance_agreement.create") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cover_share": "1.2"}, "cover_share"),
        ({"cover_share": "0"}, "cover_share"),
        ({"premium_rate": "0.5"}, "premium_rate"),
        ({"claim_after_dpd": 0}, "claim_after_dpd"),
        ({"grades": ["Z"]}, "grades"),
        ({"payer": "merchant"}, "premium_payer"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_nothing_is_saved(risk_manager, change, field):
    insurer = InsurerFactory()
    kwargs = {"cover_share": "0.8", "premium_rate": "0.008", **change}
    with pytest.raises(ValidationError) as refused:
        agreement_make(insurer, [LoanProductFactory()], by=risk_manager, **kwargs)
    assert field in refused.value.message_dict
    assert not InsuranceAgreement.objects.exists()


def test_only_a_risk_manager_sets_agreements(senior_officer):
    from partners.services.insurance import insurance_agreement_create

    with pytest.raises(PermissionDenied):
        insurance_agreement_create(
            insurer=InsurerFactory(),
            products=[LoanProductFactory()],
            grades=["A"],
            cover_share=Decimal("0.8"),
            premium_rate=Decimal("0.008"),
            premium_payer="platform",
            claim_after_dpd=60,
            by=senior_officer,
        )


def test_a_borrower_paid_agreement_puts_its_premium_in_quotes_and_ending_it_takes_it_out(risk_manager):
    insurer = InsurerFactory(code="cpic")
    product = LoanProductFactory(allowed_terms=[12, 24])
    agreement = agreement_make(insurer, [product], by=risk_manager, grades=["C"], payer="borrower")

    priced = quote_for_product(product=product, amount="50000.00", term=12)
    assert priced.insurance_premium == Decimal("400.00")
    assert priced.net_disbursement == Decimal("49100.00")  # less the 1 % fee and the 0.8 % premium

    # A platform-paid version replaces it: the borrower pays no premium on new quotes.
    agreement_make(insurer, [product], by=risk_manager, grades=["C"], payer="platform")
    assert quote_for_product(product=product, amount="50000.00", term=12).insurance_premium == Decimal("0.00")

    agreement_make(insurer, [product], by=risk_manager, grades=["C"], payer="borrower")
    insurance_agreement_end(
        agreement=InsuranceAgreement.objects.get(insurer=insurer, is_active=True),
        by=with_perms(risk_manager, "partners.manage_insurance_agreement"),
        reason="test",
    )
    assert not BorrowerPremium.objects.exists()
    with pytest.raises(StateConflict):
        insurance_agreement_end(agreement=agreement, by=risk_manager, reason="again")


def test_a_borrower_paid_premium_above_the_ceiling_refuses_the_version(risk_manager):
    insurer = InsurerFactory()
    product = LoanProductFactory(allowed_terms=[3])
    with pytest.raises(ValidationError) as refused:
        agreement_make(insurer, [product], by=risk_manager, premium_rate="0.05", payer="borrower")
    assert "premium_rate" in refused.value.message_dict
    assert not InsuranceAgreement.objects.exists()


# Cover at payout.


def _fund(application, capture) -> Loan:
    with capture(execute=True):
        loan = application_fund(application=application)
    return Loan.objects.get(pk=loan.pk)


def test_a_loan_paid_out_on_a_borrower_paid_product_is_covered_with_the_premium_it_paid(
    merchant, risk_manager, django_capture_on_commit_callbacks
):
    product = LoanProductFactory(code="insured", allowed_terms=[12, 24])
    agreement = agreement_make(InsurerFactory(code="pingan"), [product], by=risk_manager, payer="borrower")
    application = signed_application(merchant, product, amount=Decimal("20000.00"))
    assert application.offer_quote["insurance_premium"] == "160.00"

    loan = _fund(application, django_capture_on_commit_callbacks)

    assert loan.state == LoanState.ACTIVE
    assert loan.net_disbursement == Decimal("19640.00")  # 20,000 less the 1 % fee and the 0.8 % premium
    assert loan.disbursement.amount == Decimal("19640.00")
    cover = InsuranceCover.objects.get(loan=loan)
    assert (cover.agreement, cover.premium, cover.premium_payer) == (agreement, Decimal("160.00"), "borrower")
    assert cover.cover_share == Decimal("0.8000")
    assert _audits(cover, "insurance_cover.create") == 1


def test_a_platform_paid_cover_costs_the_platform_and_the_borrower_gets_the_full_payout(
    merchant, risk_manager, django_capture_on_commit_callbacks
):
    product = LoanProductFactory(code="insured-platform")
    agreement_make(InsurerFactory(code="picc"), [product], by=risk_manager, premium_rate="0.006")
    loan = _fund(signed_application(merchant, product, amount=Decimal("20000.00")), django_capture_on_commit_callbacks)

    assert loan.net_disbursement == Decimal("19800.00")
    cover = InsuranceCover.objects.get(loan=loan)
    assert (cover.premium, cover.premium_payer) == (Decimal("120.00"), "platform")
    costs = insurance_costs()
    assert costs["platform"]["total"] == Decimal("120.00")
    assert costs["platform"]["by_insurer"] == {"picc": Decimal("120.00")}
    assert costs["borrower"]["total"] == Decimal("0.00")


def test_a_loan_of_a_grade_or_product_not_covered_gets_no_cover(
    merchant, risk_manager, django_capture_on_commit_callbacks
):
    product = LoanProductFactory(code="not-insured")
    agreement_make(InsurerFactory(), [product], by=risk_manager, grades=["A"])  # the application is grade C
    loan = _fund(signed_application(merchant, product), django_capture_on_commit_callbacks)

    assert not InsuranceCover.objects.filter(loan=loan).exists()


# Claims.


@pytest.fixture
def covered(merchant, risk_manager):
    """A loan of twelve 1,000.00 + 100.00 instalments, covered at 80 % with claims after 60 days past due."""
    product = LoanProductFactory(code="claims-product")
    agreement = agreement_make(InsurerFactory(code="pingan"), [product], by=risk_manager, claim_after_dpd=60)
    loan = make_loan(merchant, product, start=datetime.date(2027, 1, 15), state=LoanState.OVERDUE)
    pay_in_full(instalment(loan, 1), datetime.date(2027, 2, 15))
    cover_make(loan, agreement)
    return loan


def _past_due(loan: Loan, days: int, state: str = LoanState.OVERDUE) -> None:
    Loan.objects.filter(pk=loan.pk).update(days_past_due=days, state=state)  # set-up: as the daily job leaves it


def test_no_claim_opens_before_the_agreements_days_past_due(covered):
    _past_due(covered, 59)
    assert insurance_claims_open(on=ON) == 0
    assert not InsuranceClaim.objects.exists()


def test_a_claim_opens_at_the_agreements_days_past_due_with_the_loss_to_the_fen(covered):
    _past_due(covered, 60)

    assert insurance_claims_open(on=ON) == 1

    claim = InsuranceClaim.objects.get(loan=covered)
    # Instalment 1 paid: 11,000.00 of principal owed; instalments 2-4 (15 March, April and May) fell due by 1 June
    # unpaid: 3 x 100.00 of interest lost.
    assert claim.principal_lost == Decimal("11000.00")
    assert claim.interest_lost == Decimal("300.00")
    assert claim.claimable == Decimal("9040.00")  # 0.8 x 11,300.00
    assert claim.state == ClaimState.OPENED
    assert _audits(claim, "insurance_claim.open") == 1


def test_a_defaulted_loan_is_claimed_whatever_its_days_past_due_and_the_claimable_is_rounded_half_up(
    merchant, risk_manager
):
    product = LoanProductFactory(code="odd-share")
    agreement = agreement_make(InsurerFactory(), [product], by=risk_manager, cover_share="0.1250")
    loan = make_loan(merchant, product, state=LoanState.DEFAULTED, months=10, principal_each=Decimal("1200.02"))
    cover_make(loan, agreement)
    _past_due(loan, 10, LoanState.DEFAULTED)

    insurance_claims_open(on=datetime.date(2027, 1, 1))  # before any instalment fell due: no interest lost

    claim = InsuranceClaim.objects.get(loan=loan)
    assert claim.principal_lost == Decimal("12000.20")
    assert claim.interest_lost == Decimal("0.00")
    assert claim.claimable == Decimal("1500.03")  # 0.125 x 12,000.20 = 1,500.025: half-up, not to the even fen


def test_running_the_job_again_opens_no_second_claim(covered, django_capture_on_commit_callbacks):
    _past_due(covered, 75)
    assert insurance_claims_open_task.delay().get() == 1
    _past_due(covered, 76, LoanState.DEFAULTED)

    assert insurance_claims_open(on=ON) == 0
    assert InsuranceClaim.objects.filter(loan=covered).count() == 1


def test_an_uncovered_loan_is_never_claimed(merchant):
    loan = make_loan(merchant, LoanProductFactory(), state=LoanState.DEFAULTED)
    _past_due(loan, 200, LoanState.DEFAULTED)
    assert insurance_claims_open(on=ON) == 0


@pytest.fixture
def claim(covered):
    _past_due(covered, 60)
    insurance_claims_open(on=ON)
    return InsuranceClaim.objects.get(loan=covered)


@pytest.fixture
def claims_officer(senior_officer):
    return with_perms(senior_officer, "partners.act_on_claim")


def test_an_officer_submits_and_the_insurer_settles_recording_its_payment(claim, claims_officer):
    insurer_user = insurer_with_account("pingan").api_user  # the covering insurer's API account
    submitted = claim_submit(claim=claim, by=claims_officer, note="documents attached")
    settled = claim_settle(claim=submitted, amount=Decimal("9040.00"), reference="PA-0042", by=insurer_user)

    assert settled.state == ClaimState.SETTLED
    assert (settled.settled_amount, settled.insurer_reference) == (Decimal("9040.00"), "PA-0042")
    assert settled.submitted_at is not None
    assert settled.settled_at is not None
    assert _audits(claim, "insurance_claim.submit") == 1
    assert _audits(claim, "insurance_claim.settle") == 1


def test_a_claim_cannot_be_settled_before_it_is_submitted_nor_twice(claim, claims_officer):
    with pytest.raises(StateConflict, match="opened"):
        claim_settle(claim=claim, amount=Decimal("100.00"), reference="X", by=claims_officer)
    claim_submit(claim=claim, by=claims_officer)
    claim_settle(claim=claim, amount=Decimal("100.00"), reference="X", by=claims_officer)
    with pytest.raises(StateConflict, match="settled"):
        claim_settle(claim=claim, amount=Decimal("100.00"), reference="Y", by=claims_officer)
    with pytest.raises(StateConflict):
        claim_submit(claim=claim, by=claims_officer)
    assert _audits(claim, "insurance_claim.settle") == 1


@pytest.mark.parametrize(
    ("amount", "reference", "field"),
    [
        (Decimal("9040.01"), "R", "amount"),
        (Decimal("0.00"), "R", "amount"),
        (Decimal("10.005"), "R", "amount"),
        (Decimal("100.00"), " ", "reference"),
    ],
)
def test_a_settlement_above_the_claimable_or_without_a_reference_is_refused(
    claim, claims_officer, amount, reference, field
):
    claim_submit(claim=claim, by=claims_officer)
    with pytest.raises(ValidationError) as refused:
        claim_settle(claim=claim, amount=amount, reference=reference, by=claims_officer)
    assert field in refused.value.message_dict
    claim.refresh_from_db()
    assert claim.state == ClaimState.SUBMITTED


def test_a_loan_officer_another_insurer_and_a_bank_may_not_act_on_a_claim(claim, loan_officer, partner_user):
    other_insurer = insurer_with_account("other").api_user
    with pytest.raises(PermissionDenied):
        claim_submit(claim=claim, by=loan_officer)
    for outsider in (other_insurer, partner_user, loan_officer):
        with pytest.raises(PermissionDenied):
            claim_settle(claim=claim, amount=Decimal("1.00"), reference="R", by=outsider)
        with pytest.raises(PermissionDenied):
            claim_reject(claim=claim, reason="no", by=outsider)
    claim.refresh_from_db()
    assert claim.state == ClaimState.OPENED


def test_the_insurer_rejects_a_submitted_claim_with_a_reason_but_not_an_opened_one(claim, claims_officer):
    insurer_user = insurer_with_account("pingan").api_user
    with pytest.raises(StateConflict):
        claim_reject(claim=claim, reason="not yet ours", by=insurer_user)
    claim_submit(claim=claim, by=claims_officer)
    with pytest.raises(ValidationError) as refused:
        claim_reject(claim=claim, reason="  ", by=insurer_user)
    assert "reason" in refused.value.message_dict

    rejected = claim_reject(claim=claim, reason="fraud at origination", reference="PA-R-1", by=insurer_user)

    assert (rejected.state, rejected.reason, rejected.insurer_reference) == (
        ClaimState.REJECTED,
        "fraud at origination",
        "PA-R-1",
    )
    assert _audits(claim, "insurance_claim.reject") == 1


# Subrogation.


def test_recoveries_after_settlement_are_shared_pro_rata_and_never_above_what_the_insurer_paid(claim, claims_officer):
    loan = claim.loan
    claim_submit(claim=claim, by=claims_officer)
    # The insurer paid 5,650.00 of a loss of 11,300.00: half of each fen of principal and interest recovered is its.
    claim_settle(claim=claim, amount=Decimal("5650.00"), reference="PA-1", by=claims_officer)

    first = payment_record(
        loan=loan,
        amount=Decimal("1100.01"),
        received_on=ON,
        source=PaymentSource.OFFICER,
        external_reference="R1",
    )
    share = ClaimRecoveryShare.objects.get(payment=first)
    assert share.recovered == Decimal("1100.01")
    assert share.amount == Decimal("550.01")  # 550.005, half-up

    # Recording it again shares nothing twice.
    assert claim_recoveries_share(loan=loan) == []
    # The rest of the loan comes in: the insurer's shares stop at what it paid.
    payment_record(
        loan=loan,
        amount=Decimal("11000.00"),
        received_on=datetime.date(2028, 2, 1),  # after maturity: every instalment, with its interest, is due
        source=PaymentSource.OFFICER,
        external_reference="R2",
    )
    # 12,100.00 in all recovered (the interest kept falling due after the claim): half would be 6,050.00, more
    # than the insurer paid; the last share takes only what is left of the 5,650.00.
    shares = list(ClaimRecoveryShare.objects.filter(claim=claim).order_by("pk"))
    assert sum(share.recovered for share in shares) == Decimal("12100.00")
    assert shares[-1].amount == Decimal("5650.00") - Decimal("550.01")
    assert sum(share.amount for share in shares) == Decimal("5650.00")
    assert AuditEvent.objects.filter(action="insurance_claim.recovery_share").count() == 2


def test_payments_before_the_settlement_are_not_shared(claim, claims_officer):
    payment_record(
        loan=claim.loan,
        amount=Decimal("500.00"),
        received_on=ON,
        source=PaymentSource.OFFICER,
        external_reference="EARLY",
    )
    claim_submit(claim=claim, by=claims_officer)
    claim_settle(claim=claim, amount=Decimal("5650.00"), reference="PA-1", by=claims_officer)
    assert not ClaimRecoveryShare.objects.exists()


# Figures.


def test_the_portfolio_shows_the_loss_before_and_after_insurance_and_the_claims_by_state(claim, claims_officer):
    claim_submit(claim=claim, by=claims_officer)
    claim_settle(claim=claim, amount=Decimal("9040.00"), reference="PA-1", by=claims_officer)
    payment_record(
        loan=claim.loan,
        amount=Decimal("1130.00"),
        received_on=ON,
        source=PaymentSource.OFFICER,
        external_reference="R1",
    )  # 1,130.00 of principal and interest: 80 % (904.00) passed back to the insurer

    figures = insurance_portfolio()

    assert figures.overall.loss_before == Decimal("11300.00")
    assert figures.overall.paid_by_insurers == Decimal("9040.00")
    assert figures.overall.passed_back == Decimal("904.00")
    assert figures.overall.loss_after == Decimal("3164.00")
    assert figures.by_lender["platform"].loss_after == Decimal("3164.00")  # a loan without shares is the platform's
    assert figures.claims_by_state["settled"] == {
        "label": "Settled",
        "claims": 1,
        "claimable": Decimal("9040.00"),
        "settled": Decimal("9040.00"),
    }
    assert figures.claims_by_state["opened"]["claims"] == 0


def test_participations_and_insurer_exposure_carry_the_insured_fraction(covered, merchant):
    other = make_loan(merchant, LoanProductFactory())
    participation = loan_participations(loan_ids=[covered.pk, other.pk])

    assert participation[covered.pk].insured_fraction == Decimal("0.8000")
    assert participation[covered.pk].insurer_code == "pingan"
    assert participation[other.pk].insurer_code is None
    # 11,000.00 principal outstanding x 0.8
    assert insurer_exposure() == {"pingan": Decimal("8800.00")}


def test_a_rejected_claim_leaves_the_loan_uninsured_in_the_participations(claim, claims_officer):
    claim_reject(claim=claim, reason="withdrawn", by=claims_officer)
    assert loan_participations(loan_ids=[claim.loan_id])[claim.loan_id].insurer_code is None
    assert timezone.now() >= claim.opened_at
