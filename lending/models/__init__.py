"""Lending's models, one module per concept: products, applications (and contracts), loans."""

from lending.models.applications import OPEN_STATES, ApplicationState, Contract, LoanApplication
from lending.models.loans import Disbursement, Instalment, Loan, LoanState, SimulatedTransfer
from lending.models.products import (
    GRADES,
    INDICATIVE_GRADE,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
    RATE_QUANTUM,
    Currency,
    DayCountChoice,
    FeeTimingChoice,
    LoanProduct,
    PrepaymentPolicy,
    PriceBasis,
    ProductKind,
    RepaymentMethodChoice,
    TermUnitChoice,
    describe_terms,
)

__all__ = [
    "GRADES",
    "INDICATIVE_GRADE",
    "OPEN_STATES",
    "RATE_DECIMAL_PLACES",
    "RATE_MAX_DIGITS",
    "RATE_QUANTUM",
    "ApplicationState",
    "Contract",
    "Currency",
    "DayCountChoice",
    "Disbursement",
    "FeeTimingChoice",
    "Instalment",
    "Loan",
    "LoanApplication",
    "LoanProduct",
    "LoanState",
    "PrepaymentPolicy",
    "PriceBasis",
    "ProductKind",
    "RepaymentMethodChoice",
    "SimulatedTransfer",
    "TermUnitChoice",
    "describe_terms",
]
