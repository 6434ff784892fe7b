"""Each partner's daily settlement: what the platform owes it for a business day's collections, less its fee.

A settlement for (partner, day) is made once, after the day is over, from the partner's distributions of that
business day (and any of earlier days not yet settled: a payment booked late is settled the next time, never
lost). Each distribution settled points at its settlement, so a settlement's totals always equal the sum of its
distributions (reconciled). Making the same day again returns the settlement already made and changes nothing.

The platform's service fee for the day: for each of the partner's shares of a loan paid out by the end of the day
and not yet closed, the agreement's ``service_fee_rate`` / 365 x the share's outstanding principal at the end of the
day (its principal less the principal distributed to it up to that day); summed, then rounded half-up to the fen
once. Net payable = collected − service fee (negative: the partner owes the platform that amount).
"""

from __future__ import annotations

import csv
import datetime
import io
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.exceptions import StateConflict
from core.money import to_fen
from core.pdf import DOCUMENT_LANGUAGE, FONT_FAMILY, RenderedPdf, html_to_pdf
from core.services.audit import audit_record
from lending.servicing.models import Allocation
from partners.models import (
    Distribution,
    FundingPartner,
    LoanShare,
    PartnerSettlement,
    SettlementStatus,
    WebhookEventType,
)
from partners.services.webhooks import webhook_event_record

ZERO = Decimal("0.00")
DAYS_IN_YEAR = 365
C = Allocation.Component
COMPONENT_FIELDS = {C.PRINCIPAL: "principal", C.INTEREST: "interest", C.FEE: "fees", C.PENALTY: "penalties"}
STATEMENT_TEMPLATE = "partners/settlement_statement.html"


def partner_outstanding_at(*, partner: FundingPartner, on: date) -> list[tuple[LoanShare, Decimal]]:
    """The partner's shares of loans paid out by the end of ``on`` and not closed by then, each with its
    outstanding principal at the end of that day (share principal less principal distributed up to that day)."""
    shares = (
        LoanShare.objects.filter(partner=partner, loan__activated_at__date__lte=on)
        .filter(Q(loan__closed_at__isnull=True) | Q(loan__closed_at__date__gt=on))
        .select_related("agreement")
        .annotate(
            repaid=Sum(
                "distributions__amount",
                filter=Q(distributions__component=C.PRINCIPAL, distributions__business_date__lte=on),
                default=ZERO,
            )
        )
        .order_by("loan_id")
    )
    # Rounded back to the fen: SQLite adds decimals in binary floating point.
    return [(share, to_fen(share.principal - share.repaid)) for share in shares]


def service_fee_for(*, partner: FundingPartner, on: date) -> tuple[Decimal, Decimal]:
    """The partner's outstanding principal at the end of ``on`` and the platform's service fee for that day."""
    outstanding = ZERO
    fee = Decimal(0)
    for share, balance in partner_outstanding_at(partner=partner, on=on):
        outstanding += balance
        rate = share.agreement.service_fee_rate if share.agreement_id else Decimal(0)
        fee += balance * rate / DAYS_IN_YEAR
    return outstanding, to_fen(fee)


def partner_settlement_make(*, partner: FundingPartner, business_date: date, by=None) -> PartnerSettlement:
    """Settle ``partner``'s ``business_date`` (a day that is over); the same day again returns the first settlement.

    Invariants: one settlement per partner and day (the partner's row is locked, and a unique constraint backs
    it); its totals are the sums of exactly the distributions it links; a distribution is settled once.
    Records the "settlement.ready" webhook and one audit row in the same transaction.
    """
    if not isinstance(business_date, date) or business_date >= timezone.localdate():
        raise ValidationError({"business_date": [_("Settle a day that is over: a date before today.")]})
    with transaction.atomic():
        FundingPartner.objects.select_for_update().get(pk=partner.pk)
        existing = PartnerSettlement.objects.filter(partner=partner, business_date=business_date).first()
        if existing is not None:
            return existing
        rows = list(
            Distribution.objects.select_for_update(of=("self",))
            .filter(partner=partner, business_date__lte=business_date, settlement__isnull=True)
            .order_by("pk")
            .values_list("pk", "component", "amount")
        )
        totals = dict.fromkeys(COMPONENT_FIELDS.values(), ZERO)
        for _pk, component, amount in rows:
            totals[COMPONENT_FIELDS[component]] += amount
        count = len(rows)
        collected = sum(totals.values(), ZERO)
        outstanding, fee = service_fee_for(partner=partner, on=business_date)
        settlement = PartnerSettlement.objects.create(
            partner=partner,
            business_date=business_date,
            **totals,
            collected=collected,
            distribution_count=count,
            outstanding_principal=outstanding,
            service_fee=fee,
            net_payable=collected - fee,
        )
        # A plain foreign key, not a state field: which settlement paid a distribution.
        settled = Distribution.objects.filter(pk__in=[row[0] for row in rows]).update(settlement=settlement)
        if settled != count:
            raise RuntimeError("The distributions changed while they were being settled.")
        figures = settlement_figures(settlement)
        audit_record(subject=settlement, action="settlement.make", by=by, to_state=settlement.status, data=figures)
        webhook_event_record(
            partner=partner,
            event=WebhookEventType.SETTLEMENT,
            key=f"settlement:{business_date.isoformat()}",
            payload={"settlement_id": settlement.pk, **figures},
        )
    return settlement


def partners_settle_day(*, business_date: date) -> list[PartnerSettlement]:
    """Settle ``business_date`` for every partner with a loan outstanding at the end of it, or money distributed to
    it and not yet settled (the daily task)."""
    with_loans = LoanShare.objects.filter(loan__activated_at__date__lte=business_date).filter(
        Q(loan__closed_at__isnull=True) | Q(loan__closed_at__date__gt=business_date)
    )
    unsettled = Distribution.objects.filter(business_date__lte=business_date, settlement__isnull=True)
    partners = FundingPartner.objects.filter(
        Q(pk__in=with_loans.values("partner_id")) | Q(pk__in=unsettled.values("partner_id"))
    ).order_by("pk")
    return [partner_settlement_make(partner=partner, business_date=business_date) for partner in partners]


class SettlementConflict(StateConflict):
    """The settlement is not ready to be paid (it was paid already)."""


def partner_settlement_pay(*, settlement: PartnerSettlement, by, note: str) -> PartnerSettlement:
    """Record that the platform paid a settlement to the partner (ready -> paid), with the officer's note (the
    transfer's reference). Needs ``partners.pay_settlement``; the figures never change; one audit row."""
    if by is None or not by.has_perm("partners.pay_settlement"):
        raise PermissionDenied(_("Only an officer who may pay partners' settlements can record one as paid."))
    if not isinstance(note, str) or not note.strip():
        raise ValidationError({"note": [_("Give the transfer's reference or a note for the record.")]})
    with transaction.atomic():
        locked = PartnerSettlement.objects.select_for_update().get(pk=settlement.pk)
        if locked.status != SettlementStatus.READY:
            raise SettlementConflict(
                _("The settlement of %(date)s is %(status)s: it is paid once.")
                % {"date": locked.business_date.isoformat(), "status": locked.get_status_display()},
                code="settlement_paid",
            )
        from_state = locked.status
        locked.pay(by=by)
        locked.save()
        audit_record(
            subject=locked,
            action="settlement.pay",
            by=by,
            from_state=from_state,
            to_state=locked.status,
            reason=note.strip(),
            data={"net_payable": f"{locked.net_payable:.2f}"},
        )
    return locked


def partners_settle_previous_day(on: date) -> dict[str, int]:
    """The scheduled job of ``on`` (beat runs it after midnight): settle the day before with every partner."""
    return {"settlements": len(partners_settle_day(business_date=on - datetime.timedelta(days=1)))}


def settlement_figures(settlement: PartnerSettlement) -> dict[str, object]:
    return {
        "partner": settlement.partner.code,
        "business_date": settlement.business_date.isoformat(),
        "principal": f"{settlement.principal:.2f}",
        "interest": f"{settlement.interest:.2f}",
        "fees": f"{settlement.fees:.2f}",
        "penalties": f"{settlement.penalties:.2f}",
        "collected": f"{settlement.collected:.2f}",
        "distribution_count": settlement.distribution_count,
        "outstanding_principal": f"{settlement.outstanding_principal:.2f}",
        "service_fee": f"{settlement.service_fee:.2f}",
        "net_payable": f"{settlement.net_payable:.2f}",
    }


# The statement: a record sent outside the portal, so its labels are bilingual (Chinese first) in every language.

CSV_HEADER = [
    "贷款编号 Loan",
    "还款编号 Payment",
    "起息日 Value date",
    "入账日 Business date",
    "项目 Component",
    "金额 Amount",
]
COMPONENT_LABELS = {
    C.PRINCIPAL: "本金 Principal",
    C.INTEREST: "利息 Interest",
    C.FEE: "费用 Fees",
    C.PENALTY: "罚息 Late fees",
}


def _statement_lines(settlement: PartnerSettlement) -> list[Distribution]:
    return list(settlement.distributions.order_by("loan_id", "payment_id", "allocation_id"))


def settlement_statement_csv(*, settlement: PartnerSettlement) -> str:
    """The statement as CSV: one line per distribution, then the totals, the service fee and the net payable."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["结算单 Settlement", settlement.partner.code, settlement.business_date.isoformat()])
    writer.writerow(CSV_HEADER)
    for row in _statement_lines(settlement):
        writer.writerow(
            [
                row.loan_id,
                row.payment_id,
                row.value_date.isoformat(),
                row.business_date.isoformat(),
                COMPONENT_LABELS.get(row.component, row.component),
                f"{row.amount:.2f}",
            ]
        )
    for label, value in (
        ("本金合计 Principal", settlement.principal),
        ("利息合计 Interest", settlement.interest),
        ("费用合计 Fees", settlement.fees),
        ("罚息合计 Late fees", settlement.penalties),
        ("代收合计 Collected", settlement.collected),
        ("日终未还本金 Outstanding principal at day end", settlement.outstanding_principal),
        ("平台服务费 Platform service fee", settlement.service_fee),
        ("应付净额 Net payable", settlement.net_payable),
    ):
        writer.writerow([label, "", "", "", "", f"{value:.2f}"])
    return out.getvalue()


def settlement_statement_html(*, settlement: PartnerSettlement) -> str:
    with translation.override(DOCUMENT_LANGUAGE):
        return render_to_string(
            STATEMENT_TEMPLATE,
            {
                "settlement": settlement,
                "partner": settlement.partner,
                "lines": [
                    {
                        "loan_id": row.loan_id,
                        "payment_id": row.payment_id,
                        "value_date": row.value_date.isoformat(),
                        "component": COMPONENT_LABELS.get(row.component, row.component),
                        "amount": f"{row.amount:,.2f}",
                    }
                    for row in _statement_lines(settlement)
                ],
                "figures": {
                    key: f"{getattr(settlement, key):,.2f}"
                    for key in (
                        "principal",
                        "interest",
                        "fees",
                        "penalties",
                        "collected",
                        "outstanding_principal",
                        "service_fee",
                        "net_payable",
                    )
                },
                "font_family": FONT_FAMILY,
            },
        )


def settlement_statement_pdf(*, settlement: PartnerSettlement) -> RenderedPdf:
    return html_to_pdf(settlement_statement_html(settlement=settlement))
