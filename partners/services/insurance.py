"""Co-insurance: insurers' agreements, each covered loan's cover, claims and the recoveries shared after a claim.

- ``insurance_agreement_create``: a risk manager sets an insurer's terms; every change is a new version, the
  previous versions stop covering new loans. A borrower-paid premium is written into the catalogue
  (``borrower_premium_set``) so every quote and offer carries it; ending or changing it takes it out again.
- ``insurance_cover_create``: when a loan is paid out (``loan_activated``), its cover under the agreement that fits.
- ``insurance_claims_open``: the daily job's claims, one per covered loan that reached the agreement's days past due
  or defaulted; ``claim_submit`` / ``claim_settle`` / ``claim_reject``: the claim's states.
- ``claim_recoveries_share``: what is recovered on a loan after its claim was settled is shared with the insurer.

Every state change: ``transaction.atomic()`` → lock the row → permission → transition → save → one audit row.
"""

import logging
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.exceptions import StateConflict
from core.money import FEN
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from lending.catalogue.services.premiums import borrower_premium_set
from lending.servicing.models import Allocation, Instalment, Loan, LoanState, Payment
from partners.models import (
    ClaimRecoveryShare,
    ClaimState,
    InsuranceAgreement,
    InsuranceClaim,
    InsuranceCover,
    Insurer,
    PremiumPayer,
)
from partners.models.insurance import MAX_CLAIM_AFTER_DPD, MAX_PREMIUM_RATE
from underwriting.choices import GRADES

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "partners.manage_insurance_agreement"
CLAIM_PERMISSION = "partners.act_on_claim"
ZERO = Decimal("0.00")
# Loans whose loss can be claimed: behind on payments, defaulted, or written off after defaulting.
CLAIMABLE_LOAN_STATES = (LoanState.OVERDUE, LoanState.DEFAULTED, LoanState.WRITTEN_OFF)


def _fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def premium_source(insurer: Insurer) -> str:
    """How the catalogue names the insurer's borrower-paid premium (``BorrowerPremium.source``)."""
    return f"insurer:{insurer.code}"


# Agreements.


def _agreement_errors(
    *, products: list[LoanProduct], grades: list, cover_share, premium_rate, premium_payer, claim_after_dpd
) -> dict[str, list]:
    errors: dict[str, list] = {}
    if not products:
        errors["products"] = [_("Choose at least one product the agreement covers.")]
    if not isinstance(grades, list) or not grades or not set(map(str, grades)) <= set(GRADES):
        errors["grades"] = [_("Choose one or more of the grades %(grades)s.") % {"grades": ", ".join(GRADES)}]
    if not isinstance(cover_share, Decimal) or not Decimal(0) < cover_share <= 1:
        # xgettext:no-python-format
        errors["cover_share"] = [_("The cover share must be above 0 and at most 1 (0.8 is 80 % of the loss).")]
    if not isinstance(premium_rate, Decimal) or not 0 <= premium_rate <= MAX_PREMIUM_RATE:
        errors["premium_rate"] = [
            _("The premium rate must be from 0 to %(max)s of the amount lent (0.008 is 0.8 %%).")
            % {"max": MAX_PREMIUM_RATE}
        ]
    if premium_payer not in PremiumPayer.values:
        errors["premium_payer"] = [_("Choose who pays the premium: borrower or platform.")]
    if not isinstance(claim_after_dpd, int) or not 1 <= claim_after_dpd <= MAX_CLAIM_AFTER_DPD:
        errors["claim_after_dpd"] = [
            _("A claim opens after 1 to %(max)d days past due.") % {"max": MAX_CLAIM_AFTER_DPD}
        ]
    return errors


def _premiums_sync(*, insurer: Insurer, agreement: InsuranceAgreement | None, previous: set[int], by: User) -> None:
    """Make the catalogue's borrower-paid premiums of ``insurer`` exactly what ``agreement`` says (none when it is
    empty, inactive or platform-paid); ``previous`` are the products an earlier version may have priced."""
    source = premium_source(insurer)
    priced: set[int] = set()
    if agreement is not None and agreement.is_active and agreement.premium_payer == PremiumPayer.BORROWER:
        for product in agreement.products.order_by("pk"):
            borrower_premium_set(
                product=product, grades=list(agreement.grades), rate=agreement.premium_rate, by=by, source=source
            )
            priced.add(product.pk)
    for product in LoanProduct.objects.filter(pk__in=previous - priced).order_by("pk"):
        borrower_premium_set(product=product, grades=[], rate=Decimal(0), by=by, source=source)


def insurance_agreement_create(
    *,
    insurer: Insurer,
    products: list[LoanProduct],
    grades: list[str],
    cover_share: Decimal,
    premium_rate: Decimal,
    premium_payer: str,
    claim_after_dpd: int,
    note: str = "",
    by: User,
) -> InsuranceAgreement:
    """A new version of ``insurer``'s agreement, active at once; the versions before it stop covering new loans.

    Invariants: versions are numbered 1, 2, 3… per insurer (the insurer's row is locked while numbering); at most one
    version per insurer is active; a borrower-paid premium is in the catalogue exactly for the active version's
    products and grades, and one that would put a loan above the annual-cost ceiling refuses the whole version
    (``premium_rate``). Bad values are refused naming the field, with nothing saved.
    """
    if not by.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager may set insurance agreements."))
    products = list(products)
    errors = _agreement_errors(
        products=products,
        grades=grades,
        cover_share=cover_share,
        premium_rate=premium_rate,
        premium_payer=premium_payer,
        claim_after_dpd=claim_after_dpd,
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Insurer.objects.select_for_update().get(pk=insurer.pk)
        if not locked.is_active:
            raise ValidationError({"insurer": [_("%(code)s is not active.") % {"code": locked.code}]})
        versions = InsuranceAgreement.objects.filter(insurer=locked)
        previous = set(versions.filter(is_active=True).values_list("products", flat=True)) - {None}
        for old in versions.filter(is_active=True):
            old.is_active = False
            old.save(update_fields=["is_active"])
        agreement = InsuranceAgreement.objects.create(
            insurer=locked,
            version=(versions.aggregate(last=Max("version"))["last"] or 0) + 1,
            grades=sorted(set(map(str, grades))),
            cover_share=cover_share,
            premium_rate=premium_rate,
            premium_payer=premium_payer,
            claim_after_dpd=claim_after_dpd,
            note=note,
            created_by=by,
        )
        agreement.products.set(products)
        _premiums_sync(insurer=locked, agreement=agreement, previous=previous, by=by)
        audit_record(
            subject=agreement,
            action="insurance_agreement.create",
            by=by,
            reason=note,
            data={
                "insurer": locked.code,
                "version": agreement.version,
                "products": sorted(product.code for product in products),
                "grades": agreement.grades,
                "cover_share": str(cover_share),
                "premium_rate": str(premium_rate),
                "premium_payer": premium_payer,
                "claim_after_dpd": claim_after_dpd,
            },
        )
    return agreement


def insurance_agreement_end(*, agreement: InsuranceAgreement, by: User, reason: str) -> InsuranceAgreement:
    """Stop ``agreement`` covering new loans (loans already covered keep their cover); its borrower-paid premium
    leaves the catalogue, so new quotes no longer carry it."""
    if not by.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager may set insurance agreements."))
    with transaction.atomic():
        locked = InsuranceAgreement.objects.select_for_update().get(pk=agreement.pk)
        if not locked.is_active:
            raise StateConflict(_("This agreement version has already ended."), code="agreement_ended")
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        previous = set(locked.products.values_list("pk", flat=True))
        _premiums_sync(insurer=locked.insurer, agreement=None, previous=previous, by=by)
        audit_record(subject=locked, action="insurance_agreement.end", by=by, reason=reason)
    return locked


def insurer_save(*, insurer: Insurer, by: User) -> Insurer:
    """Create or change an insurer's details (its terms are in its agreements), with one audit row."""
    if not by.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only a risk manager may set insurers."))
    insurer.full_clean()
    with transaction.atomic():
        created = insurer.pk is None
        if not created:
            Insurer.objects.select_for_update().get(pk=insurer.pk)
        insurer.save()
        audit_record(
            subject=insurer,
            action="insurer.create" if created else "insurer.update",
            by=by,
            data={"code": insurer.code, "is_active": insurer.is_active},
        )
    return insurer


# Cover.


def _covering_agreement(loan: Loan) -> tuple[InsuranceAgreement, str] | None:
    """The agreement a paid-out loan is covered under, and who pays its premium.

    The rule: a loan whose offer carried a borrower-paid premium is covered by that insurer (the borrower paid for
    it), under its newest version that covers the product and grade (or its newest version at all, should it have
    ended since the offer). Otherwise the newest active version that covers the loan's product and grade, insurers
    taken by code; the platform pays its premium (also when that agreement is borrower-paid but the offer was made
    before it).
    """
    fees = (loan.terms or {}).get("fees") or {}
    source = fees.get("insurance_premium_source") or ""

    def fitting(versions):
        # Grades are a JSON list: matched here, as SQLite (the demo's database) has no JSON containment lookup.
        return [version for version in versions.filter(products=loan.product) if loan.grade in version.grades]

    if Decimal(fees.get("insurance_premium_rate") or "0") > 0 and source.startswith("insurer:"):
        versions = InsuranceAgreement.objects.filter(insurer__code=source.removeprefix("insurer:"))
        candidates = fitting(versions.order_by("-is_active", "-version")) or list(versions[:1])
        if candidates:
            return candidates[0], PremiumPayer.BORROWER
        logger.error("Loan %s paid a premium to %s, which has no agreement.", loan.pk, source)
    candidates = fitting(
        InsuranceAgreement.objects.filter(is_active=True, insurer__is_active=True).order_by("insurer__code", "-version")
    )
    return (candidates[0], PremiumPayer.PLATFORM) if candidates else None


def insurance_cover_create(*, loan: Loan, by: User | None = None) -> InsuranceCover | None:
    """Cover a loan just paid out, once (a second call returns the first cover); None when no agreement fits.

    The premium is the one-off fraction of the amount lent: what the borrower paid, from its offer, when the borrower
    pays it; else the agreement's rate on the amount, half-up to the fen, a cost to the platform. Called inside the
    payout's transaction (``loan_activated``), so the cover commits with the payout.
    """
    existing = InsuranceCover.objects.filter(loan=loan).first()
    if existing is not None:
        return existing
    found = _covering_agreement(loan)
    if found is None:
        return None
    agreement, payer = found
    application = loan.application
    if payer == PremiumPayer.BORROWER:
        premium = Decimal((application.offer_quote or {}).get("insurance_premium") or "0")
    else:
        premium = _fen((application.offer_amount or loan.principal) * agreement.premium_rate)
    cover = InsuranceCover.objects.create(
        loan=loan,
        insurer=agreement.insurer,
        agreement=agreement,
        cover_share=agreement.cover_share,
        premium=premium,
        premium_payer=payer,
        covered_principal=loan.principal,
    )
    audit_record(
        subject=cover,
        action="insurance_cover.create",
        by=by,
        data={
            "loan_id": loan.pk,
            "insurer": agreement.insurer.code,
            "agreement_version": agreement.version,
            "cover_share": str(cover.cover_share),
            "premium": str(premium),
            "premium_payer": payer,
        },
    )
    return cover


# Claims.


def claim_loss(*, loan: Loan, on: date) -> tuple[Decimal, Decimal]:
    """The loss a claim counts on ``on``: the principal still owed, and the interest due by then and unpaid."""
    rows = Instalment.objects.filter(loan=loan)
    principal = rows.aggregate(total=Sum("principal_due") - Sum("principal_paid"))["total"] or ZERO
    due = rows.filter(due_date__lte=on)
    interest = due.aggregate(total=Sum("interest_due") - Sum("interest_paid"))["total"] or ZERO
    return max(principal, ZERO), max(interest, ZERO)


def _claims_due(on: date):
    """Covered loans without a claim whose loss can now be claimed."""
    return (
        InsuranceCover.objects.filter(loan__state__in=CLAIMABLE_LOAN_STATES, loan__insurance_claim__isnull=True)
        .filter(
            Q(loan__state__in=(LoanState.DEFAULTED, LoanState.WRITTEN_OFF))
            | Q(loan__days_past_due__gte=F("agreement__claim_after_dpd"))
        )
        .order_by("loan_id")
    )


def insurance_claim_open(*, cover: InsuranceCover, on: date, by: User | None = None) -> InsuranceClaim | None:
    """Open the claim of ``cover``'s loan on ``on``; None when it has one already or no longer qualifies.

    ``claimable`` = cover share x (principal lost + interest lost), half-up to the fen, fixed when the claim opens.
    One claim per loan: the loan's row is locked, and the unique loan on the claim backs it up.
    """
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=cover.loan_id)
        if InsuranceClaim.objects.filter(loan=loan).exists():
            return None
        agreement = cover.agreement
        defaulted = loan.state in (LoanState.DEFAULTED, LoanState.WRITTEN_OFF)
        if loan.state not in CLAIMABLE_LOAN_STATES or not (
            defaulted or loan.days_past_due >= agreement.claim_after_dpd
        ):
            return None
        principal, interest = claim_loss(loan=loan, on=on)
        claim = InsuranceClaim.objects.create(
            loan=loan,
            cover=cover,
            loss_on=on,
            days_past_due=loan.days_past_due,
            principal_lost=principal,
            interest_lost=interest,
            claimable=_fen(cover.cover_share * (principal + interest)),
        )
        audit_record(
            subject=claim,
            action="insurance_claim.open",
            by=by,
            to_state=claim.state,
            data={
                "loan_id": loan.pk,
                "insurer": cover.insurer.code,
                "days_past_due": loan.days_past_due,
                "loan_state": loan.state,
                "principal_lost": str(principal),
                "interest_lost": str(interest),
                "cover_share": str(cover.cover_share),
                "claimable": str(claim.claimable),
            },
        )
    return claim


def insurance_claims_open(*, on: date | None = None) -> int:
    """The daily job: open a claim for every covered loan that reached its agreement's days past due or defaulted.
    Idempotent: a loan with a claim is skipped, so running it again the same day opens nothing."""
    on = on or timezone.localdate()
    opened = 0
    for cover in _claims_due(on).select_related("agreement", "insurer").iterator():
        try:
            if insurance_claim_open(cover=cover, on=on) is not None:
                opened += 1
        except IntegrityError:  # another run opened it between the check and the insert
            continue
    return opened


def _locked_claim(claim: InsuranceClaim) -> InsuranceClaim:
    return InsuranceClaim.objects.select_for_update().select_related("cover__insurer").get(pk=claim.pk)


def _is_claims_officer(by: User | None) -> bool:
    return by is not None and by.has_perm(CLAIM_PERMISSION)


def _is_claim_insurer(by: User, claim: InsuranceClaim) -> bool:
    insurer = getattr(by, "insurer", None) if getattr(by, "is_authenticated", False) else None
    return insurer is not None and insurer.pk == claim.cover.insurer_id


def _wrong_state(claim: InsuranceClaim, doing: str) -> StateConflict:
    return StateConflict(
        _("Claim #%(id)s is %(state)s: it cannot be %(doing)s.")
        % {"id": claim.pk, "state": claim.get_state_display().lower(), "doing": doing},
        code="wrong_state",
    )


def claim_submit(*, claim: InsuranceClaim, by: User, note: str = "") -> InsuranceClaim:
    """An officer sends an opened claim to the insurer (senior officers: ``partners.act_on_claim``)."""
    with transaction.atomic():
        locked = _locked_claim(claim)
        if not _is_claims_officer(by):
            raise PermissionDenied(_("Only a senior officer may act on insurance claims."))
        if locked.state != ClaimState.OPENED:
            raise _wrong_state(locked, _("submitted"))
        from_state = locked.state
        locked.submit(at=timezone.now())
        locked.save()
        audit_record(
            subject=locked,
            action="insurance_claim.submit",
            by=by,
            from_state=from_state,
            to_state=locked.state,
            reason=note,
        )
    return locked


def claim_settle(*, claim: InsuranceClaim, amount: Decimal, reference: str, by: User) -> InsuranceClaim:
    """The insurer paid a submitted claim: the payment it made (``amount``, at most the claimable amount, and its
    ``reference``) is recorded. The insurer itself (through the API) or a senior officer in the back office."""
    with transaction.atomic():
        locked = _locked_claim(claim)
        if not (_is_claim_insurer(by, locked) or _is_claims_officer(by)):
            raise PermissionDenied(_("Only the claim's insurer or a senior officer may settle it."))
        errors = {}
        if not isinstance(amount, Decimal) or not ZERO < amount <= locked.claimable or amount != amount.quantize(FEN):
            errors["amount"] = [
                _("The amount paid must be above 0.00 and at most the claimable %(claimable)s, in yuan and fen.")
                % {"claimable": locked.claimable}
            ]
        if not (reference or "").strip():
            errors["reference"] = [_("Give the insurer's reference for the payment.")]
        if errors:
            raise ValidationError(errors)
        if locked.state != ClaimState.SUBMITTED:
            raise _wrong_state(locked, _("settled"))
        from_state = locked.state
        locked.settle(at=timezone.now(), amount=amount, reference=reference.strip())
        locked.save()
        audit_record(
            subject=locked,
            action="insurance_claim.settle",
            by=by,
            from_state=from_state,
            to_state=locked.state,
            data={"amount": str(amount), "reference": locked.insurer_reference, "claimable": str(locked.claimable)},
        )
    return locked


def claim_reject(*, claim: InsuranceClaim, reason: str, by: User, reference: str = "") -> InsuranceClaim:
    """The insurer refuses a submitted claim, or an officer withdraws an opened or submitted one, with a reason."""
    with transaction.atomic():
        locked = _locked_claim(claim)
        insurer = _is_claim_insurer(by, locked)
        if not (insurer or _is_claims_officer(by)):
            raise PermissionDenied(_("Only the claim's insurer or a senior officer may reject it."))
        if not (reason or "").strip():
            raise ValidationError({"reason": [_("Say why the claim is rejected.")]})
        # The insurer sees a claim only once it is submitted; an opened one is the platform's to withdraw.
        if locked.state not in ((ClaimState.SUBMITTED,) if insurer else (ClaimState.OPENED, ClaimState.SUBMITTED)):
            raise _wrong_state(locked, _("rejected"))
        from_state = locked.state
        locked.reject(at=timezone.now(), reason=reason.strip(), reference=(reference or "").strip())
        locked.save()
        audit_record(
            subject=locked,
            action="insurance_claim.reject",
            by=by,
            from_state=from_state,
            to_state=locked.state,
            reason=locked.reason,
            data={"reference": locked.insurer_reference},
        )
    return locked


# Subrogation.

RECOVERED_COMPONENTS = (Allocation.Component.PRINCIPAL, Allocation.Component.INTEREST)


def claim_recoveries_share(*, loan: Loan) -> list[ClaimRecoveryShare]:
    """Share with the insurer what was recovered on ``loan`` after its claim was settled (subrogation).

    The rule: of each payment received after the settlement, the principal and interest it pays go to the insurer
    in the proportion it bore the loss, ``settled_amount / (principal lost + interest lost)``, half-up to the fen per
    payment, and never more in all than the insurer paid (the last share takes what is left). Fees and late fees
    stay with the lenders. Called inside the payment's transaction (``allocations_booked``), with the loan locked;
    each payment is shared once.
    """
    claim = InsuranceClaim.objects.filter(loan=loan, state=ClaimState.SETTLED).first()
    if claim is None or not claim.loss:
        return []
    done = set(claim.recovery_shares.values_list("payment_id", flat=True))
    payments = Payment.objects.filter(loan=loan, created_at__gte=claim.settled_at).exclude(pk__in=done).order_by("pk")
    shared = claim.recovery_shares.aggregate(total=Sum("amount"))["total"] or ZERO
    rows = []
    for payment in payments:
        recovered = (
            Allocation.objects.filter(payment=payment, component__in=RECOVERED_COMPONENTS).aggregate(
                total=Sum("amount")
            )["total"]
            or ZERO
        )
        if recovered <= 0:
            continue
        amount = min(_fen(recovered * claim.settled_amount / claim.loss), claim.settled_amount - shared)
        if amount <= 0:
            continue
        shared += amount
        row = ClaimRecoveryShare.objects.create(claim=claim, payment=payment, recovered=recovered, amount=amount)
        audit_record(
            subject=claim,
            action="insurance_claim.recovery_share",
            data={"payment_id": payment.pk, "recovered": str(recovered), "amount": str(amount)},
        )
        rows.append(row)
    return rows


# The demo.

DEMO_INSURER_CODE = "demo-insurer"
DEMO_PRODUCT_CODE = "operating-loan"


def insurance_demo_seed(*, api_user: User, by: User) -> dict[str, int]:
    """The demo's insurer (with ``api_user`` as its API account) and a platform-paid agreement on the operating
    loan, covering every grade at 80 % with claims after 60 days past due; loans of that product paid out before it
    existed (the demo's history) are covered as if it had been in force, and the claims due today are opened.

    Idempotent: the insurer, its agreement and each cover are made once; a second run opens only new claims.
    """
    product = LoanProduct.objects.filter(code=DEMO_PRODUCT_CODE).first()
    if product is None:
        return {"covers": 0, "claims": 0}
    with transaction.atomic():
        insurer = Insurer.objects.filter(code=DEMO_INSURER_CODE).first()
        if insurer is None:
            insurer = insurer_save(
                insurer=Insurer(
                    code=DEMO_INSURER_CODE,
                    legal_name_zh="示范财产保险股份有限公司（演示）",
                    legal_name_en="Demo Property Insurance Co., Ltd. (fictional)",
                    licence_number="DEMO-000001",
                    api_user=api_user,
                ),
                by=by,
            )
        if not insurer.agreements.exists():
            insurance_agreement_create(
                insurer=insurer,
                products=[product],
                grades=list(GRADES),
                cover_share=Decimal("0.8000"),
                premium_rate=Decimal("0.006000"),
                premium_payer=PremiumPayer.PLATFORM,
                claim_after_dpd=60,
                note="Demo data",
                by=by,
            )
        covers = 0
        paid_out = Loan.objects.filter(product=product, activated_at__isnull=False, insurance_cover__isnull=True)
        for loan in paid_out.order_by("pk"):
            covers += insurance_cover_create(loan=loan, by=by) is not None
    return {"covers": covers, "claims": insurance_claims_open()}


# Receivers of lending's signals (connected in ``PartnersConfig.ready``): they run in the sender's transaction.


def insurance_on_loan_activated(sender, *, loan: Loan, paid_on: date, **kwargs) -> None:
    insurance_cover_create(loan=loan)


def insurance_on_allocations_booked(sender, *, loan: Loan, on: date, **kwargs) -> None:
    claim_recoveries_share(loan=loan)


__all__ = [
    "CLAIM_PERMISSION",
    "MANAGE_PERMISSION",
    "claim_loss",
    "claim_recoveries_share",
    "claim_reject",
    "claim_settle",
    "claim_submit",
    "insurance_agreement_create",
    "insurance_agreement_end",
    "insurance_claim_open",
    "insurance_claims_open",
    "insurance_cover_create",
    "insurance_demo_seed",
    "insurance_on_allocations_booked",
    "insurance_on_loan_activated",
    "insurer_save",
    "premium_source",
]
