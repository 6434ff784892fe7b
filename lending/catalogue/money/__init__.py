"""The money engine for loan quotes: schedules, totals and the APR. Pure arithmetic — no database, no I/O.

Public API::

    from lending.catalogue.money import FeeTerms, QuoteTerms, RepaymentMethod, quote

    q = quote(QuoteTerms(amount=Decimal("50000.00"), term=36, start_date=date(2025, 3, 10),
                         method=RepaymentMethod.EQUAL_INSTALMENT, annual_rate=Decimal("0.12"),
                         fees=FeeTerms(origination_rate=Decimal("0.01"))))
    q.apr                 # Decimal("12.68"): percent, two places, rounded up
    q.lines[0].payment    # each line: number, due_date, principal, interest, fee, payment, balance
    q.as_dict()           # {"apr": "12.68", "total_interest": ..., "schedule": [{"number": 1, ...}, ...]}

- ``quote(terms) -> Quote``: every repayment method, including sales share.
- ``project_sales_share(amount=, start_date=, fee_factor=, share_rate=, average_daily_sales=, daily_fee_rate=)``:
  the 60-day windows, payoff date and breach flags of a sales-share advance, also when it breaks the contract's
  limits (a ``quote`` for such an advance is refused).
- ``sales_share_repayments(amount=, start_date=, fee_factor=, daily_fee_rate=, deductions=)``: what each day's
  deduction pays of a sales-share advance's fee (accrued by the day on what is outstanding) and principal.
- ``QuoteTerms`` / ``FeeTerms`` / ``SalesShareTerms``: input, validated when built; bad input raises
  ``QuoteError`` (a ``ValueError``) whose ``field`` names the input and whose message says what is allowed.
- Enums: ``RepaymentMethod`` (``equal_instalment``, ``equal_principal``, ``interest_first``, ``bullet``,
  ``sales_share``), ``TermUnit``, ``DayCount``, ``FeeTiming``.

Conventions: amounts are ``Decimal`` in CNY with two places, rounded once per schedule line, half-up to the fen
(``core.money.to_fen``); rates are fractions (``Decimal("0.12")`` is 12 % a year; floats are refused); the APR is
a percentage. Arithmetic runs in its own 34-digit ``Decimal`` context whatever the caller's is. How each
schedule is built is in ``schedules`` (and ``sales_share``); how the APR is defined, solved and rounded is in
``apr``.
"""

from .quote import quote
from .sales_share import project_sales_share, sales_share_repayments
from .terms import FeeTerms, QuoteTerms, SalesShareTerms
from .types import (
    CashFlow,
    DayCount,
    FeeTiming,
    Quote,
    QuoteError,
    RepaymentMethod,
    SalesShareDay,
    SalesShareProjection,
    SalesShareWindow,
    ScheduleLine,
    TermUnit,
)

__all__ = [
    "CashFlow",
    "DayCount",
    "FeeTerms",
    "FeeTiming",
    "Quote",
    "QuoteError",
    "QuoteTerms",
    "RepaymentMethod",
    "SalesShareDay",
    "SalesShareProjection",
    "SalesShareTerms",
    "SalesShareWindow",
    "ScheduleLine",
    "TermUnit",
    "project_sales_share",
    "quote",
    "sales_share_repayments",
]
