"""Exposure under each limit, and each limit's utilisation.

Committed exposure is the principal outstanding on the book (loans awaiting payout, active, overdue or defaulted)
plus what is approved but not yet paid out (offers approved, accepted, contracted, signed or awaiting a second
approval). The two moments that check it count the candidate in:

- at approval, the committed exposure with the candidate's amount added (every promise counts);
- at payout, the book with the candidate's amount added: the others approved count at their own payout, so of two
  payouts racing for the room of one, the first is paid and the second is held.

A share limit is a share of the whole portfolio measured the same way, the candidate counted in both: an amount
limit and a share limit on the same version both bind, and the lower wins. Each figure is one grouped query.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.db.models import DecimalField, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import FEN, to_fen
from lending.catalogue.models import LoanProduct
from lending.origination.models import ApplicationState, LoanApplication
from lending.servicing.models import Instalment, Loan, LoanState
from merchants.choices import Industry, Province
from merchants.models import Merchant
from partners.models import FundingPartner
from partners.selectors.exposure import (
    application_cover,
    committed_loan_ids,
    insurer_exposure,
    lender_exposure,
    loan_participations,
    loans_outstanding_principal,
)
from risk.models import ExposureLimit, LimitKind, LimitVersion, PayoutHold

K = LimitKind
ZERO = Decimal("0.00")
NEAR = Decimal("0.90")
BOOKED_STATES = (LoanState.PENDING_DISBURSEMENT, LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)
PIPELINE_STATES = (
    ApplicationState.APPROVED,
    ApplicationState.ACCEPTED,
    ApplicationState.CONTRACTED,
    ApplicationState.SIGNED,
    ApplicationState.AWAITING_SECOND_APPROVAL,
)
APPROVAL = "approval"
PAYOUT = "payout"
# The platform's own share of every loan, as lenders are coded.
PLATFORM = "platform"
# The kinds whose exposure is read from lending's own rows (lender and insurer shares come from partners).
_PATHS: dict[str, tuple[str, ...]] = {
    K.MERCHANT: ("merchant__credit_code",),
    K.INDUSTRY: ("merchant__industry",),
    K.PROVINCE: ("merchant__province",),
    K.CITY: ("merchant__province", "merchant__city"),
    K.PRODUCT: ("product__code",),
}
CITY_SEPARATOR = "/"


class Status:
    OK = "ok"
    NEAR = "near"
    BREACH = "breach"


@dataclass(frozen=True)
class LimitUse:
    """One limit in force, what it allows now, what is committed under it, and how full it is."""

    limit_id: int
    version: int
    kind: str
    key: str
    label: str
    amount: Decimal | None  # the version's amount, if it sets one
    share_percent: Decimal | None  # the version's share of the portfolio, if it sets one
    limit_amount: Decimal  # what it allows now: the lower of the amount and the share of today's portfolio
    exposure: Decimal
    utilisation: Decimal  # exposure / limit_amount, to four places (1.0000 = full)
    status: str  # "ok", "near" (at least 90 %) or "breach" (above the limit)

    @property
    def headroom(self) -> Decimal:
        return max(self.limit_amount - self.exposure, ZERO)

    @property
    def kind_label(self) -> str:
        return str(LimitKind(self.kind).label)


@dataclass(frozen=True)
class Candidate:
    """The facts of an application a check needs: the keys it counts under, and its amount."""

    application_id: int
    amount: Decimal
    keys: dict[str, str]  # kind -> key, for lending's own kinds
    lender_amounts: dict[str, Decimal]  # lender code -> share of the amount
    insurer_amounts: dict[str, Decimal] = field(default_factory=dict)  # insurer code -> principal it would cover


def candidate_for(*, application: LoanApplication, amount: Decimal) -> Candidate:
    merchant = application.merchant
    keys = {
        K.MERCHANT: merchant.credit_code,
        K.INDUSTRY: merchant.industry,
        K.PROVINCE: merchant.province,
        K.CITY: city_key(merchant.province, merchant.city),
        K.PRODUCT: application.product.code,
        K.PORTFOLIO: "",
    }
    return Candidate(
        application_id=application.pk,
        amount=amount,
        keys={kind: key for kind, key in keys.items() if kind == K.PORTFOLIO or key},
        lender_amounts=lender_amounts_of(application=application, amount=amount),
        insurer_amounts=insurer_amounts_of(application=application, amount=amount),
    )


def insurer_amounts_of(*, application: LoanApplication, amount: Decimal) -> dict[str, Decimal]:
    """The principal of the candidate an insurer would cover once it is paid out (its cover share of the amount)."""
    cover = application_cover(application=application)
    if cover is None:
        return {}
    code, cover_share = cover
    return {code: to_fen(amount * cover_share)}


def lender_amounts_of(*, application: LoanApplication, amount: Decimal) -> dict[str, Decimal]:
    """The candidate's amount by lender: its settled lenders' shares, or all the platform's until they are settled."""
    if application.lenders_settled_at is None or not application.lenders:
        return {PLATFORM: amount}
    return {str(row["code"]): to_fen(amount * Decimal(str(row["share"]))) for row in application.lenders}


def city_key(province: str, city: str) -> str:
    city = (city or "").strip()
    return f"{province}{CITY_SEPARATOR}{city}" if province and city else ""


def _sum_expression(expression) -> Coalesce:
    money = DecimalField(max_digits=16, decimal_places=2)
    return Coalesce(Sum(expression, output_field=money), ZERO, output_field=money)


def _key_of(kind: str, row: dict, prefix: str) -> str:
    values = [row[f"{prefix}{path}"] or "" for path in _PATHS[kind]]
    return city_key(*values) if kind == K.CITY else values[0]


def _key_filter(kind: str, key: str, prefix: str) -> Q:
    if kind == K.PORTFOLIO:
        return Q()
    if kind == K.CITY:
        province, _sep, city = key.partition(CITY_SEPARATOR)
        return Q(**{f"{prefix}merchant__province": province, f"{prefix}merchant__city": city})
    return Q(**{f"{prefix}{_PATHS[kind][0]}": key})


def booked_by(kind: str, *, key: str | None = None) -> dict[str, Decimal]:
    """Principal outstanding on the book under each key of ``kind`` (only ``key`` when given)."""
    rows = Instalment.objects.filter(loan__state__in=BOOKED_STATES)
    if key is not None:
        rows = rows.filter(_key_filter(kind, key, "loan__"))
    outstanding = _sum_expression(F("principal_due") - F("principal_paid"))
    if kind == K.PORTFOLIO:
        return {"": rows.aggregate(total=outstanding)["total"]}
    paths = [f"loan__{path}" for path in _PATHS[kind]]
    totals: dict[str, Decimal] = {}
    for row in rows.values(*paths).annotate(total=outstanding).order_by():
        name = _key_of(kind, row, "loan__")
        totals[name] = totals.get(name, ZERO) + row["total"]
    return totals


def pipeline_by(kind: str, *, key: str | None = None, exclude_pk: int | None = None) -> dict[str, Decimal]:
    """Offers approved but not yet paid out under each key of ``kind``, besides the application ``exclude_pk``."""
    rows = LoanApplication.objects.filter(state__in=PIPELINE_STATES, loan__isnull=True)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    if key is not None:
        rows = rows.filter(_key_filter(kind, key, ""))
    offered = _sum_expression(Coalesce(F("offer_amount"), F("amount")))
    if kind == K.PORTFOLIO:
        return {"": rows.aggregate(total=offered)["total"]}
    totals: dict[str, Decimal] = {}
    for row in rows.values(*_PATHS[kind]).annotate(total=offered).order_by():
        name = _key_of(kind, row, "")
        totals[name] = totals.get(name, ZERO) + row["total"]
    return totals


def committed_by(kind: str, *, key: str | None = None, exclude_pk: int | None = None) -> dict[str, Decimal]:
    totals = dict(booked_by(kind, key=key))
    for name, value in pipeline_by(kind, key=key, exclude_pk=exclude_pk).items():
        totals[name] = totals.get(name, ZERO) + value
    return {name: to_fen(value) for name, value in totals.items()}


def exposure_of(kind: str, key: str, *, stage: str, exclude_pk: int | None = None) -> Decimal:
    """What is counted under one limit before the candidate, at ``stage`` (see the module's docstring)."""
    if kind in (K.LENDER, K.INSURER):
        return partner_exposure(kind, stage=stage, exclude_pk=exclude_pk).get(key, ZERO)
    if stage == PAYOUT:
        return to_fen(booked_by(kind, key=key).get(key, ZERO))
    return committed_by(kind, key=key, exclude_pk=exclude_pk).get(key, ZERO)


def partner_exposure(kind: str, *, stage: str, exclude_pk: int | None = None) -> dict[str, Decimal]:
    """Each lender's share, or each insurer's covered principal, from the partners app's figures.

    At payout, the book only: each loan's outstanding principal split by its shares. Otherwise the committed
    exposure: partners' figures (the book, and the applications whose lenders are settled, by their shares), plus
    the offers whose lenders are not settled yet, counted as the platform's until they are (the platform keeps
    whatever the partners decline).
    """
    if kind == K.INSURER:
        # The insurers' covered principal on the book, and the loans booked but not yet paid out (covered when they
        # are) by the cover they will get. Applications not yet booked count as candidates only.
        totals = dict(insurer_exposure())
        pending = Loan.objects.filter(state=LoanState.PENDING_DISBURSEMENT, insurance_cover__isnull=True)
        for loan in pending.select_related("application"):
            cover = application_cover(application=loan.application)
            if cover is not None:
                code, cover_share = cover
                totals[code] = totals.get(code, ZERO) + to_fen(loan.principal * cover_share)
        return totals
    if kind != K.LENDER:
        return {}
    if stage == PAYOUT:
        outstanding = loans_outstanding_principal()
        participations = loan_participations(loan_ids=committed_loan_ids(), shared_only=True)
        totals: dict[str, Decimal] = {PLATFORM: ZERO}
        for loan_id, principal in outstanding.items():
            fractions = participations[loan_id].lender_fractions if loan_id in participations else {PLATFORM: 1}
            for code, fraction in fractions.items():
                totals[code] = totals.get(code, ZERO) + principal * fraction
        return {code: to_fen(value) for code, value in totals.items()}
    totals = dict(lender_exposure())
    unsettled = LoanApplication.objects.filter(
        state__in=PIPELINE_STATES, loan__isnull=True, lenders_settled_at__isnull=True
    )
    if exclude_pk is not None:
        unsettled = unsettled.exclude(pk=exclude_pk)
    totals[PLATFORM] = (
        totals.get(PLATFORM, ZERO)
        + unsettled.aggregate(total=_sum_expression(Coalesce(F("offer_amount"), F("amount"))))["total"]
    )
    return totals


def limit_amount_for(version: LimitVersion, *, portfolio: Decimal) -> Decimal | None:
    """What a version allows against a portfolio of ``portfolio``: the lower of its amount and its share."""
    allowed = [version.amount] if version.amount is not None else []
    if version.share_percent is not None and version.limit.kind != K.PORTFOLIO:
        allowed.append(to_fen(portfolio * version.share_percent / 100))
    return min(allowed) if allowed else None


def headroom_for(version: LimitVersion, *, exposure: Decimal, portfolio: Decimal) -> Decimal | None:
    """The most one more application may add under the version, the portfolio growing by it too, down to the fen."""
    room: list[Decimal] = []
    if version.amount is not None:
        room.append(version.amount - exposure)
    share = version.share_percent
    if share is not None and version.limit.kind != K.PORTFOLIO and share < 100:
        fraction = share / 100
        # (exposure + x) <= fraction × (portfolio + x)  ⇔  x <= (fraction × portfolio − exposure) / (1 − fraction)
        room.append(((fraction * portfolio - exposure) / (1 - fraction)).quantize(FEN, rounding=ROUND_FLOOR))
    return max(min(room), ZERO) if room else None


def active_versions(limits: Iterable[ExposureLimit] | None = None) -> list[LimitVersion]:
    versions = LimitVersion.objects.filter(status=LimitVersion.Status.ACTIVE).select_related("limit")
    if limits is not None:
        versions = versions.filter(limit__in=list(limits))
    return [version for version in versions.order_by("limit__kind", "limit__key") if not version.lifts]


def status_of(exposure: Decimal, limit_amount: Decimal) -> tuple[Decimal, str]:
    if limit_amount <= 0:
        return (Decimal(0) if exposure <= 0 else Decimal("9.9999")), (Status.OK if exposure <= 0 else Status.BREACH)
    ratio = (exposure / limit_amount).quantize(Decimal("0.0001"))
    if exposure > limit_amount:
        return ratio, Status.BREACH
    return ratio, Status.NEAR if exposure >= NEAR * limit_amount else Status.OK


@dataclass(frozen=True)
class LimitsReport:
    as_of: datetime.datetime
    portfolio_exposure: Decimal
    limits: list[LimitUse]


def limits_report() -> LimitsReport:
    """The utilisation of every limit in force, with the portfolio the shares were measured against."""
    portfolio = committed_by(K.PORTFOLIO)[""]
    return LimitsReport(as_of=timezone.now(), portfolio_exposure=portfolio, limits=_uses(portfolio=portfolio))


def limits_utilisation() -> list[LimitUse]:
    """Every limit in force with its committed exposure today and how full it is (``ok``, ``near``, ``breach``)."""
    return _uses(portfolio=None)


def limits_utilisation_stressed(*, portfolio_loss: Decimal) -> list[LimitUse]:
    """The limits in force against a portfolio that lost ``portfolio_loss`` (a stress run's expected loss).

    Committed exposure under each limit stays as it is (the money is lent); what moves is the portfolio a limit set
    as a share of it is measured against, which shrinks by the loss, so a share limit tightens under stress.
    """
    return _uses(portfolio=None, portfolio_loss=portfolio_loss)


def _uses(*, portfolio: Decimal | None, portfolio_loss: Decimal = ZERO) -> list[LimitUse]:
    versions = active_versions()
    if not versions:
        return []  # nothing to measure: the book is not read
    if portfolio is None:
        portfolio = max(committed_by(K.PORTFOLIO)[""] - portfolio_loss, ZERO)
    by_kind: dict[str, dict[str, Decimal]] = {}
    uses = []
    for version in versions:
        limit = version.limit
        if limit.kind not in by_kind:
            by_kind[limit.kind] = (
                partner_exposure(limit.kind, stage=APPROVAL)
                if limit.kind in (K.LENDER, K.INSURER)
                else committed_by(limit.kind)
            )
        exposure = by_kind[limit.kind].get(limit.key, ZERO)
        allowed = limit_amount_for(version, portfolio=portfolio)
        utilisation, status = status_of(exposure, allowed)
        uses.append(
            LimitUse(
                limit_id=limit.pk,
                version=version.version,
                kind=limit.kind,
                key=limit.key,
                label=limit_label(limit.kind, limit.key),
                amount=version.amount,
                share_percent=version.share_percent,
                limit_amount=allowed,
                exposure=exposure,
                utilisation=utilisation,
                status=status,
            )
        )
    return uses


def limit_label(kind: str, key: str) -> str:
    """What a limit is on, as a risk manager reads it (in the active language)."""
    if kind == K.PORTFOLIO:
        return _("The whole portfolio")
    if kind == K.MERCHANT:
        merchant = Merchant.objects.filter(credit_code=key).only("legal_name").first()
        return f"{merchant.legal_name} ({key})" if merchant and merchant.legal_name else key
    if kind == K.INDUSTRY:
        return f"{Industry(key).label} ({key})" if key in Industry.values else key
    if kind == K.PROVINCE:
        return f"{Province(key).label} ({key})" if key in Province.values else key
    if kind == K.CITY:
        province, _sep, city = key.partition(CITY_SEPARATOR)
        return f"{Province(province).label} {city}" if province in Province.values else key
    if kind == K.PRODUCT:
        product = LoanProduct.objects.filter(code=key).only("name_zh", "name_en").first()
        return f"{product.name} ({key})" if product else key
    if kind == K.LENDER:
        if key == PLATFORM:
            return _("The platform's own share")
        partner = FundingPartner.objects.filter(code=key).only("legal_name_zh", "legal_name_en").first()
        if partner is not None:
            return f"{partner.legal_name_zh} {partner.legal_name_en} ({key})"
    return key


def payout_holds_open_count() -> int:
    return PayoutHold.objects.filter(status=PayoutHold.Status.HELD).count()


__all__ = [
    "APPROVAL",
    "NEAR",
    "PAYOUT",
    "PLATFORM",
    "Candidate",
    "LimitUse",
    "LimitsReport",
    "Status",
    "active_versions",
    "booked_by",
    "candidate_for",
    "city_key",
    "committed_by",
    "exposure_of",
    "headroom_for",
    "limit_amount_for",
    "limit_label",
    "limits_report",
    "limits_utilisation",
    "partner_exposure",
    "payout_holds_open_count",
    "pipeline_by",
    "status_of",
]
