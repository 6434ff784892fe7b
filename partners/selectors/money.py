"""Reads of the money between lenders: shares and what is outstanding on each, distributions, settlements, losses.

A share's outstanding principal is its principal less the principal distributed to it; the shares of a co-funded
loan together always have exactly the loan's outstanding principal outstanding (``partners.services.distributions``).
Sums computed by the database are rounded back to the fen here (SQLite adds decimals in binary floating point).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.money import MoneyField, to_fen
from lending.servicing.models import Allocation, Instalment, Loan, LoanState
from partners.models import Distribution, FundingPartner, LoanShare, PartnerSettlement

PLATFORM = "platform"
ZERO = Decimal("0.00")


def principal_distributed(rows: QuerySet[Distribution] | None = None) -> QuerySet[Distribution]:
    """``{"share_id", "amount"}`` rows: the principal distributed to each share, from ``rows`` (distribution rows
    already filtered, e.g. to some loans) or from the whole ledger. A share's outstanding principal is its principal
    less this (``shares_with_outstanding``, ``lender_fractions_sql``)."""
    rows = Distribution.objects.all() if rows is None else rows
    return (
        rows.filter(component=Allocation.Component.PRINCIPAL)
        .order_by()
        .values("share_id")
        .annotate(amount=Sum("amount"))
        .values("share_id", "amount")
    )


def shares_with_outstanding(queryset: QuerySet[LoanShare] | None = None) -> QuerySet[LoanShare]:
    """Shares annotated with ``principal_repaid`` and ``outstanding`` (share principal less principal distributed).

    The principal distributed is summed per share in a subquery, so only the shares read are summed (a page of the
    admin, one partner's portfolio), whatever the size of the ledger.
    """
    queryset = LoanShare.objects.all() if queryset is None else queryset
    distributed = principal_distributed(Distribution.objects.filter(share=OuterRef("pk"))).values("amount")
    repaid = Coalesce(Subquery(distributed), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2))
    return queryset.annotate(principal_repaid=repaid).annotate(
        outstanding=ExpressionWrapper(F("principal") - F("principal_repaid"), output_field=MoneyField())
    )


def loan_ids_filter(loan_ids: Iterable[int] | QuerySet | range) -> list[int] | QuerySet | range:
    """``loan_ids`` as it is best read: a queryset of ids stays a subquery and a ``range`` of ids stays a range
    (``loan_ids_q``), so a whole book's loans are never turned into a list of parameters (compiling a list of 100,000
    ids costs seconds); anything else becomes a list."""
    return loan_ids if isinstance(loan_ids, QuerySet | range) else list(loan_ids)


def loan_ids_q(loan_ids: Iterable[int] | QuerySet | range, field: str = "loan_id") -> Q:
    """A filter on ``field`` for ``loan_ids``: ids, a queryset of loan ids (``values("pk")``), or a ``range`` of ids
    (read as two bounds on the index, with no join to the loans)."""
    loan_ids = loan_ids_filter(loan_ids)
    if isinstance(loan_ids, range):
        return Q(**{f"{field}__gte": loan_ids.start, f"{field}__lt": loan_ids.stop})
    return Q(**{f"{field}__in": loan_ids})


def shares_outstanding(*, loan_ids: Iterable[int] | QuerySet | None = None) -> dict[int, dict[str, Decimal]]:
    """Per loan, each lender's outstanding share principal (only loans with shares). ``loan_ids``: ids, or a
    queryset of loan ids (``values("pk")``)."""
    shares = LoanShare.objects.all()
    if loan_ids is not None:
        shares = shares.filter(loan_ids_q(loan_ids))
    result: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for loan_id, code, outstanding in shares_with_outstanding(shares).values_list(
        "loan_id", "partner__code", "outstanding"
    ):
        result[loan_id][code or PLATFORM] = to_fen(outstanding)
    return dict(result)


def lender_losses(*, loan_ids: Iterable[int] | None = None) -> dict[str, Decimal]:
    """What each lender has lost on written-off loans: its outstanding share principal (recoveries reduce it as
    they are distributed). A written-off loan without shares is the platform's loss alone: its unpaid principal."""
    loans = Loan.objects.filter(state=LoanState.WRITTEN_OFF)
    if loan_ids is not None:
        loans = loans.filter(pk__in=list(loan_ids))
    written_off = list(loans.values_list("pk", flat=True))
    losses: dict[str, Decimal] = defaultdict(lambda: ZERO)
    losses[PLATFORM] = ZERO
    by_loan = shares_outstanding(loan_ids=written_off)
    alone = [loan_id for loan_id in written_off if loan_id not in by_loan]
    for lenders in by_loan.values():
        for code, outstanding in lenders.items():
            losses[code] += outstanding
    unpaid = Instalment.objects.filter(loan_id__in=alone).aggregate(
        total=Sum(F("principal_due") - F("principal_paid"), output_field=MoneyField())
    )["total"]
    losses[PLATFORM] += to_fen(unpaid or ZERO)
    return dict(losses)


def loan_distribution_totals(*, loan_id: int) -> dict[str, dict[str, Decimal]]:
    """A loan's distributions summed by lender and component."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for code, component, amount in (
        Distribution.objects.filter(loan_id=loan_id)
        .values("partner__code", "component")
        .annotate(total=Sum("amount"))
        .values_list("partner__code", "component", "total")
    ):
        totals[code or PLATFORM][component] += to_fen(amount)
    return {code: dict(components) for code, components in totals.items()}


def partner_distributions(*, partner: FundingPartner, since: date | None = None) -> QuerySet[Distribution]:
    """The partner's distributions (only its own), newest business day first; from ``since`` when given."""
    rows = Distribution.objects.filter(partner=partner).select_related("settlement")
    if since is not None:
        rows = rows.filter(business_date__gte=since)
    return rows.order_by("-business_date", "-id")


def partner_settlements(*, partner: FundingPartner) -> QuerySet[PartnerSettlement]:
    """The partner's daily settlements, newest first."""
    return PartnerSettlement.objects.filter(partner=partner).order_by("-business_date")


@dataclass(frozen=True)
class PortfolioLine:
    loan_id: int
    state: str
    days_past_due: int
    start_date: date
    maturity_date: date
    loan_principal: Decimal
    share: Decimal
    share_principal: Decimal
    outstanding_principal: Decimal
    interest_rate: Decimal | None
    agreement_version: int | None


def partner_portfolio(*, partner: FundingPartner) -> list[PortfolioLine]:
    """The loans the partner has a share of (only its own), each with its share and what is outstanding on it."""
    shares = shares_with_outstanding(
        LoanShare.objects.filter(partner=partner).select_related("loan", "agreement")
    ).order_by("-loan_id")
    return [
        PortfolioLine(
            loan_id=share.loan_id,
            state=share.loan.state,
            days_past_due=share.loan.days_past_due,
            start_date=share.loan.start_date,
            maturity_date=share.loan.maturity_date,
            loan_principal=share.loan.principal,
            share=share.share,
            share_principal=share.principal,
            outstanding_principal=to_fen(share.outstanding),
            interest_rate=share.interest_rate,
            agreement_version=share.agreement.version if share.agreement_id else None,
        )
        for share in shares
    ]
