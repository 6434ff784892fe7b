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

from django.db import connection
from django.db.models import F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.money import decimal_from_db
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, Loan, LoanState
from partners.models import ClaimState, Distribution, InsuranceAgreement, InsuranceCover, LoanShare
from partners.selectors.money import loan_ids_filter, loan_ids_q, principal_distributed, shares_outstanding

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


def committed_loan_ids() -> QuerySet:
    """The committed loans' ids, as a subquery for the selectors below."""
    return Loan.objects.filter(state__in=COMMITTED_LOAN_STATES).values("pk")


def loans_outstanding_principal(*, loan_ids: Iterable[int] | QuerySet | None = None) -> dict[int, Decimal]:
    """Principal still owed per committed loan (scheduled principal less principal paid)."""
    rows = Instalment.objects.filter(loan__state__in=COMMITTED_LOAN_STATES)
    if loan_ids is not None:
        rows = rows.filter(loan_ids_q(loan_ids))
    totals = rows.values("loan_id").annotate(outstanding=Sum(F("principal_due") - F("principal_paid")))
    return dict(totals.values_list("loan_id", "outstanding"))


def lender_fractions_sql(*, loan_ids: Iterable[int] | QuerySet | range) -> tuple[str, tuple]:
    """SQL and parameters of rows ``(loan_id, lender, fraction)``: for each loan of ``loan_ids`` (ids, a queryset of
    ids, or a ``range`` of ids: ``loan_ids_q``) that has shares, each lender's fraction of it. The rule, stated once
    for every reader: a lender's outstanding share principal (its share's principal less the principal distributed to
    it) over the loan's; a loan whose principal is all repaid keeps the fractions it was funded with.
    ``loan_participations`` runs it; a stress run's chunks join it.
    """
    # The shares and the principal distributed to them, each read once by the loans' ids and joined: no per-share
    # subquery, so a chunk of a stress run reads its part of the ledger in one pass.
    shares_sql, shares_params = (
        LoanShare.objects.filter(loan_ids_q(loan_ids))
        .values("loan_id", "share", "principal", share_key=F("pk"), lender=Coalesce("partner__code", Value(PLATFORM)))
        .order_by()
        .query.sql_with_params()
    )
    distributed_sql, distributed_params = principal_distributed(
        Distribution.objects.filter(loan_ids_q(loan_ids))
    ).query.sql_with_params()
    total = "SUM(s.outstanding) OVER (PARTITION BY s.loan_id)"
    # "* 1.0": SQLite (the demo) keeps whole amounts as integers and would divide them as integers (6000 / 12000 = 0);
    # PostgreSQL's numeric stays exact either way.
    return (
        f"SELECT s.loan_id, s.lender, CASE WHEN {total} > 0 THEN s.outstanding * 1.0 / {total} ELSE s.share END "  # noqa: S608
        "AS fraction FROM (SELECT shares.loan_id, shares.lender, shares.share, "
        "shares.principal - COALESCE(distributed.amount, 0) AS outstanding "
        f"FROM ({shares_sql}) shares LEFT OUTER JOIN ({distributed_sql}) distributed "
        "ON distributed.share_id = shares.share_key) s",
        (*shares_params, *distributed_params),
    )


def insured_sql(*, loan_ids: Iterable[int] | QuerySet | range) -> tuple[str, tuple]:
    """SQL and parameters of rows ``(loan_id, cover_share, insurer)``: the loans of ``loan_ids`` an insurer covers,
    with the fraction of their loss it bears, until the insurer refused the claim on one."""
    covers = (
        InsuranceCover.objects.filter(loan_ids_q(loan_ids))
        .exclude(loan__insurance_claim__state=ClaimState.REJECTED)
        .values("loan_id", "cover_share", insurer_code=F("insurer__code"))
        .order_by()
    )
    return covers.query.sql_with_params()


def _rows(sql: str, params: tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def loan_participations(
    *, loan_ids: Iterable[int] | QuerySet | range, shared_only: bool = False
) -> dict[int, Participation]:
    """Each loan's lenders by fraction (``lender_fractions_sql``) and its insured fraction (``insured_sql``); a loan
    without shares is the platform's alone.

    ``loan_ids``: ids, a queryset of loan ids (``values("pk")``, read as a subquery) or a ``range`` of ids.
    ``shared_only``: only the loans that are not the platform's alone (a partner's share, or an insurer's cover);
    every other loan of ``loan_ids`` is the platform's alone, uninsured.
    """
    loan_ids = loan_ids_filter(loan_ids)
    fractions: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for loan_id, lender, fraction in _rows(*lender_fractions_sql(loan_ids=loan_ids)):
        fractions[loan_id][lender] = decimal_from_db(fraction)
    insured = {
        loan_id: (decimal_from_db(share), code) for loan_id, share, code in _rows(*insured_sql(loan_ids=loan_ids))
    }
    if shared_only:
        with_partner = {loan_id for loan_id, lenders in fractions.items() if set(lenders) != {PLATFORM}}
        loan_ids = sorted(with_partner | set(insured))
    elif not isinstance(loan_ids, list):
        # A queryset or a range of ids: the loans that exist among them.
        loan_ids = list(Loan.objects.filter(loan_ids_q(loan_ids, "pk")).order_by("pk").values_list("pk", flat=True))
    participations = {}
    for loan_id in loan_ids:
        fields = {}
        if loan_id in fractions:
            fields["lender_fractions"] = fractions[loan_id]
        if loan_id in insured:
            fields["insured_fraction"], fields["insurer_code"] = insured[loan_id]
        participations[loan_id] = Participation(**fields)
    return participations


def insurer_exposure() -> dict[str, Decimal]:
    """Covered principal outstanding per insurer code: each covered committed loan's principal still owed times the
    insurer's cover share (what the insurer would pay of the principal if every one defaulted now)."""
    exposure: dict[str, Decimal] = defaultdict(lambda: ZERO)
    outstanding = loans_outstanding_principal()
    for loan_id, participation in loan_participations(loan_ids=committed_loan_ids(), shared_only=True).items():
        if participation.insurer_code is not None and loan_id in outstanding:
            exposure[participation.insurer_code] += outstanding[loan_id] * participation.insured_fraction
    return {code: value.quantize(Decimal("0.01")) for code, value in sorted(exposure.items())}


def lender_exposure() -> dict[str, Decimal]:
    """Committed exposure per lender code (see the module's docstring); the platform's is always present."""
    exposure: dict[str, Decimal] = defaultdict(lambda: ZERO)
    exposure[PLATFORM] = ZERO
    outstanding = loans_outstanding_principal()
    # A co-funded loan: each lender's own outstanding share principal, exactly; any other: the platform's.
    shared = shares_outstanding(loan_ids=committed_loan_ids())
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
