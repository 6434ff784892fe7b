"""The portfolio's figures and one loan's write-off figures: what is outstanding, written off, recovered and lost.

- Outstanding: the unpaid principal of the loans on the book (active, overdue, defaulted).
- Written off: what the approved write-offs took off the book, by component (stored on each loan when approved).
- Recovered: money received after a write-off, as the waterfall allocated it to the written-off loan's lines (what
  it paid of principal, interest, fees and late fees; a surplus held as credit, to be refunded, is no recovery).
  "After" is by when the payment was recorded, not the date it says it was received: a payment booked after the
  write-off is money the written-off figures did not count.
- Loss: written off less recovered; split by cause, fraud (loans an officer marked as fraud) apart from credit.

Each figure is one aggregate query in the database, whatever the number of loans.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from core.money import MoneyField
from lending.servicing.models import Allocation, Instalment, Loan, LoanState

ZERO = Decimal("0.00")
ON_BOOK = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.DEFAULTED)
# Allocation components as the write-off's components are named.
RECOVERED_COMPONENTS = {
    Allocation.Component.PRINCIPAL: "principal",
    Allocation.Component.INTEREST: "interest",
    Allocation.Component.FEE: "fees",
    Allocation.Component.PENALTY: "penalties",
}
COMPONENTS = ("principal", "interest", "fees", "penalties")


@dataclass(frozen=True)
class Components:
    """An amount split as a write-off is: principal, interest, fees, late fees."""

    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    penalties: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties


@dataclass(frozen=True)
class WriteOffFigures:
    """What a write-off (or all of them) took off the book, what came back since, and the loss that remains."""

    written_off: Components
    recovered: Components

    @property
    def loss(self) -> Decimal:
        return self.written_off.total - self.recovered.total

    def rows(self) -> list[tuple[str, Decimal, Decimal]]:
        """(component, written off, recovered) for each component, for a table."""
        return [(name, getattr(self.written_off, name), getattr(self.recovered, name)) for name in COMPONENTS]


@dataclass(frozen=True)
class PortfolioFigures:
    loans_on_book: int
    outstanding_principal: Decimal
    loans_written_off: int
    write_offs: WriteOffFigures

    @property
    def written_off(self) -> Decimal:
        return self.write_offs.written_off.total

    @property
    def recovered(self) -> Decimal:
        return self.write_offs.recovered.total

    @property
    def loss(self) -> Decimal:
        return self.write_offs.loss


def _recoveries(*, loan_id: int | None = None, loans: Q | None = None) -> Components:
    only = Q() if loan_id is None else Q(payment__loan_id=loan_id)
    if loans is not None:
        only &= Q(payment__loan__in=Loan.objects.filter(loans))
    rows = (
        Allocation.objects.filter(
            only,
            payment__loan__written_off_at__isnull=False,
            payment__created_at__gt=F("payment__loan__written_off_at"),
            component__in=list(RECOVERED_COMPONENTS),
        )
        .values("component")
        .annotate(amount=Sum("amount", output_field=MoneyField()))
    )
    return Components(**{RECOVERED_COMPONENTS[row["component"]]: row["amount"] for row in rows})


def _written_off(*, loans: Q | None = None) -> tuple[int, Components]:
    money = MoneyField()
    totals = Loan.objects.filter(loans or Q(), written_off_at__isnull=False).aggregate(
        count=Count("pk"),
        **{
            name: Coalesce(Sum(f"written_off_{name}", output_field=money), ZERO, output_field=money)
            for name in COMPONENTS
        },
    )
    return totals.pop("count"), Components(**totals)


def loan_write_off_figures(*, loan: Loan) -> WriteOffFigures | None:
    """The loan's write-off and its recoveries since; None when it was never written off."""
    if loan.written_off_at is None:
        return None
    written_off = Components(**{name: getattr(loan, f"written_off_{name}") for name in COMPONENTS})
    return WriteOffFigures(written_off=written_off, recovered=_recoveries(loan_id=loan.pk))


def portfolio_figures() -> PortfolioFigures:
    """The whole portfolio's figures, as the risk managers and the back office read them."""
    outstanding = Instalment.objects.filter(loan__state__in=ON_BOOK).aggregate(
        loans=Count("loan", distinct=True),
        principal=Coalesce(
            Sum(F("principal_due") - F("principal_paid"), output_field=MoneyField()), ZERO, output_field=MoneyField()
        ),
    )
    count, written_off = _written_off()
    return PortfolioFigures(
        loans_on_book=outstanding["loans"],
        outstanding_principal=outstanding["principal"],
        loans_written_off=count,
        write_offs=WriteOffFigures(written_off=written_off, recovered=_recoveries()),
    )


@dataclass(frozen=True)
class LossByCause:
    """The write-offs, recoveries and loss of loans marked as fraud, apart from those of the others (credit)."""

    fraud: WriteOffFigures
    credit: WriteOffFigures
    loans_marked_fraud: int


# A loan an officer marked as fraud (``lending.servicing.services.fraud``): its loss is a fraud loss.
FRAUD = Q(fraud_marked_at__isnull=False)


def portfolio_loss_by_cause() -> LossByCause:
    """The portfolio's loss split by cause: fraud (loans marked as fraud) and credit (every other loan).

    The two add up to ``portfolio_figures``' written off, recovered and loss.
    """
    _count, fraud_written_off = _written_off(loans=FRAUD)
    _count, credit_written_off = _written_off(loans=~FRAUD)
    return LossByCause(
        fraud=WriteOffFigures(written_off=fraud_written_off, recovered=_recoveries(loans=FRAUD)),
        credit=WriteOffFigures(written_off=credit_written_off, recovered=_recoveries(loans=~FRAUD)),
        loans_marked_fraud=Loan.objects.filter(FRAUD).count(),
    )


__all__ = [
    "Components",
    "LossByCause",
    "PortfolioFigures",
    "WriteOffFigures",
    "loan_write_off_figures",
    "portfolio_figures",
    "portfolio_loss_by_cause",
]
