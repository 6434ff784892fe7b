"""How much each lender has committed: read by the risk firewall's limits and the portfolio figures.

A lender is "platform" (the platform's own share) or a funding partner's ``code``. Committed exposure is the share
principal outstanding (each share's principal less the principal distributed to it, exact to the fen) on loans
awaiting payout, active, overdue or defaulted (not yet written off), plus each lender's share of applications whose
lenders are settled but that are not yet paid out.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Sum

from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, LoanState
from partners.models import ClaimState, InsuranceAgreement, InsuranceCover, LoanShare
from partners.selectors.money import shares_outstanding

PLATFORM = "platform"
ZERO = Decimal("0.00")
COMMITTED_LOAN_STATES = (
    LoanState.PENDING_DISBURSEMENT,
    LoanState.ACTIVE,
    LoanState.OVERDUE,
    LoanState.DEFAULTED,
)
SETTLED_UNFUNDED_STATES = (
    ApplicationState.ACCEPTED,
    ApplicationState.CONTRACTED,
    ApplicationState.SIGNED,
    ApplicationState.AWAITING_SECOND_APPROVAL,
)


@dataclass(frozen=True)
class Participation:
    """Who carries a loan: each lender's fraction of its outstanding principal, and the insured fraction."""

    lender_fractions: dict[str, Decimal] = field(default_factory=lambda: {PLATFORM: Decimal(1)})
    insured_fraction: Decimal = Decimal(0)
    insurer_code: str | None = None


def loans_outstanding_principal(*, loan_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Principal still owed per committed loan (scheduled principal less principal paid)."""
    rows = Instalment.objects.filter(loan__state__in=COMMITTED_LOAN_STATES)
    if loan_ids is not None:
        rows = rows.filter(loan_id__in=list(loan_ids))
    totals = rows.values("loan_id").annotate(outstanding=Sum(F("principal_due") - F("principal_paid")))
    return dict(totals.values_list("loan_id", "outstanding"))


def loan_participations(*, loan_ids: Iterable[int]) -> dict[int, Participation]:
    """Each loan's lenders by fraction of its outstanding principal: each share's outstanding share principal (its
    principal less the principal distributed to it) over the loan's; a loan without shares is the platform's alone.
    A loan whose principal is all repaid keeps the fractions it was funded with."""
    loan_ids = list(loan_ids)
    outstanding = shares_outstanding(loan_ids=loan_ids)
    funded: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for loan_id, code, share in LoanShare.objects.filter(loan_id__in=loan_ids).values_list(
        "loan_id", "partner__code", "share"
    ):
        funded[loan_id][code or PLATFORM] = share
    # The insured fraction of a covered loan's loss, and its insurer, until the insurer refused the claim on it.
    insured = {
        loan_id: (share, code)
        for loan_id, share, code in InsuranceCover.objects.filter(loan_id__in=loan_ids)
        .exclude(loan__insurance_claim__state=ClaimState.REJECTED)
        .values_list("loan_id", "cover_share", "insurer__code")
    }
    participations = {}
    for loan_id in loan_ids:
        fields = {}
        if loan_id in funded:
            balances = outstanding.get(loan_id, {})
            total = sum(balances.values(), ZERO)
            fields["lender_fractions"] = (
                {code: balance / total for code, balance in balances.items()} if total > 0 else funded[loan_id]
            )
        if loan_id in insured:
            fields["insured_fraction"], fields["insurer_code"] = insured[loan_id]
        participations[loan_id] = Participation(**fields)
    return participations


def insurer_exposure() -> dict[str, Decimal]:
    """Covered principal outstanding per insurer code: each covered committed loan's principal still owed times the
    insurer's cover share (what the insurer would pay of the principal if every one defaulted now)."""
    exposure: dict[str, Decimal] = defaultdict(lambda: ZERO)
    outstanding = loans_outstanding_principal()
    for loan_id, participation in loan_participations(loan_ids=outstanding).items():
        if participation.insurer_code is not None:
            exposure[participation.insurer_code] += outstanding[loan_id] * participation.insured_fraction
    return {code: value.quantize(Decimal("0.01")) for code, value in sorted(exposure.items())}


def lender_exposure() -> dict[str, Decimal]:
    """Committed exposure per lender code (see the module's docstring); the platform's is always present."""
    exposure: dict[str, Decimal] = defaultdict(lambda: ZERO)
    exposure[PLATFORM] = ZERO
    outstanding = loans_outstanding_principal()
    # A co-funded loan: each lender's own outstanding share principal, exactly; any other: the platform's.
    shared = shares_outstanding(loan_ids=outstanding)
    for loan_id, principal in outstanding.items():
        if loan_id in shared:
            for code, balance in shared[loan_id].items():
                exposure[code] += balance
        else:
            exposure[PLATFORM] += principal
    settled = LoanApplication.objects.filter(
        state__in=SETTLED_UNFUNDED_STATES, lenders_settled_at__isnull=False
    ).values_list("offer_amount", "lenders")
    for amount, lenders in settled:
        for lender in lenders or [{"code": PLATFORM, "share": "1"}]:
            exposure[lender["code"]] += (amount or ZERO) * Decimal(lender["share"])
    return {code: value.quantize(Decimal("0.01")) for code, value in exposure.items()}


def application_cover(*, application: LoanApplication) -> tuple[str, Decimal] | None:
    """The insurer that would cover ``application`` once paid out, and its cover share; None when none would.

    The same rule as cover at payout (``partners.services.insurance``): the insurer the borrower pays a premium to,
    if its offer carries one; otherwise the first insurer by code whose active agreement covers the product and the
    grade.
    """
    grade = application.offer_grade or ""
    source = ((application.offer_terms or {}).get("fees") or {}).get("insurance_premium_source") or ""
    versions = InsuranceAgreement.objects.filter(
        is_active=True, insurer__is_active=True, products=application.product_id
    )
    if source.startswith("insurer:"):
        versions = versions.filter(insurer__code=source.removeprefix("insurer:"))
    # Grades are a JSON list: matched here, as SQLite (the demo's database) has no JSON containment lookup.
    for version in versions.select_related("insurer").order_by("insurer__code", "-version"):
        if grade in version.grades:
            return version.insurer.code, version.cover_share
    return None
