"""The arithmetic of a stress run: each chunk's sums over the live book, and the run's figures from the sums.

The rules, as the admin page and the tests state them too:

- EAD (exposure at default): a loan's outstanding principal on the day of the run (principal due less principal
  paid over its instalments); interest, fees and late fees not yet paid are not exposure. Loans on the book only:
  active, overdue and defaulted.
- PD: the probability of default of the decision the loan was approved on (``fallback_pd_percent`` when that
  decision gave none), adjusted for the loan's current delinquency by its bucket of days past due:
  current × 1, 1-30 × 2, 31-60 × 4, 61-90 × 8; 90 or more days past due, or defaulted: PD = 1.
- The scenario on top: a sales fall of s (a fraction) multiplies the PD of the loans it hits (all, or one
  industry's, or one region's) by 1 + sensitivity × s; every PD is multiplied by the PD multiplier. A PD never
  exceeds 1, and a loan already at PD = 1 stays there.
- LGD: stated by the scenario. Expected loss (EL) = PD × LGD × EAD, per loan.
- Insurance: an insurer bears its cover share of a covered loan's loss; what is left is shared by the lenders in
  proportion to their shares of the loan's outstanding principal (the platform's own share is lender "platform").
  Who holds which share comes from the partners' ``lender_fractions_sql`` and ``insured_sql``.
- Funding rate shock: partners' floating funding costs the platform the shock on their share of the outstanding
  principal, for the years left to each loan's maturity (days / 365): the borrower's rate is fixed, so the platform
  bears it.
- Capital the platform would need: its stressed loss (its share of the credit loss after insurance, plus the funding
  cost) and the capital ratio on what it still lends after that loss.

Sums are kept unrounded until the run is summed up; each reported figure is then rounded half-up to the fen once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Case, DecimalField, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Least

from core.money import decimal_from_db, to_fen
from lending.servicing.selectors.book import (
    BOOK_LOAN_FIELDS,
    DEFAULTED,
    book_loans,
    book_outstanding_by_loan,
)
from partners.selectors.exposure import PLATFORM, insured_sql, lender_fractions_sql
from risk.models.stress import SalesShockScope

HUNDRED = Decimal(100)
ONE = Decimal(1)
ZERO = Decimal(0)
# The delinquency rule: (bucket, first day past due, PD factor); from DEFAULT_FROM_DPD on, or defaulted, PD = 1.
DELINQUENCY_PD_FACTORS: tuple[tuple[str, int, Decimal], ...] = (
    ("current", 0, Decimal(1)),
    ("1-30", 1, Decimal(2)),
    ("31-60", 31, Decimal(4)),
    ("61-90", 61, Decimal(8)),
)
DEFAULT_FROM_DPD = 91
DIMENSIONS = ("industry", "region", "product", "grade")
# Enough places for products of PDs, factors and fen on both databases; rounding to the fen happens at the end.
EXACT = DecimalField(max_digits=38, decimal_places=12)


def delinquency_rule() -> dict[str, str]:
    """The delinquency adjustment as a run records it among its inputs."""
    rule = {bucket: f"× {factor}" for bucket, _first, factor in DELINQUENCY_PD_FACTORS}
    rule[f"{DEFAULT_FROM_DPD}+ or defaulted"] = "PD = 1"
    return rule


@dataclass(frozen=True)
class StressInputs:
    """The scenario's inputs as a run recorded them (``inputs`` on the run), parsed."""

    sales_shock: Decimal  # a fraction, 0.2 for 20 %
    sales_shock_scope: str
    sales_shock_industry: str
    sales_shock_region: str
    sales_pd_elasticity: Decimal
    pd_multiplier: Decimal
    lgd: Decimal  # a fraction
    fallback_pd: Decimal  # a fraction
    funding_rate_shock: Decimal  # a fraction a year, 0.02 for 200 bp
    capital_ratio: Decimal  # a fraction
    as_of: datetime.date

    @classmethod
    def from_recorded(cls, inputs: Mapping[str, object]) -> StressInputs:
        return cls(
            sales_shock=Decimal(str(inputs["sales_shock_percent"])) / HUNDRED,
            sales_shock_scope=str(inputs["sales_shock_scope"]),
            sales_shock_industry=str(inputs.get("sales_shock_industry") or ""),
            sales_shock_region=str(inputs.get("sales_shock_region") or ""),
            sales_pd_elasticity=Decimal(str(inputs["sales_pd_elasticity"])),
            pd_multiplier=Decimal(str(inputs["pd_multiplier"])),
            lgd=Decimal(str(inputs["lgd_percent"])) / HUNDRED,
            fallback_pd=Decimal(str(inputs["fallback_pd_percent"])) / HUNDRED,
            funding_rate_shock=Decimal(int(inputs["funding_rate_shock_bp"])) / Decimal(10_000),
            capital_ratio=Decimal(str(inputs["capital_ratio_percent"])) / HUNDRED,
            as_of=datetime.date.fromisoformat(str(inputs["as_of"])),
        )

    def sales_shock_applies(self) -> Q | None:
        """Which loans the sales fall hits, as a filter on the book's instalments (None: no sales shock)."""
        if not self.sales_shock:
            return None
        if self.sales_shock_scope == SalesShockScope.INDUSTRY:
            return Q(**{BOOK_LOAN_FIELDS["industry"]: self.sales_shock_industry})
        if self.sales_shock_scope == SalesShockScope.REGION:
            return Q(**{BOOK_LOAN_FIELDS["region"]: self.sales_shock_region})
        return Q()


def _value(number: Decimal) -> Value:
    return Value(number, output_field=EXACT)


def _pd_expressions(inputs: StressInputs) -> tuple[Case, Case]:
    """The delinquency-adjusted PD (before the scenario) and the stressed PD, per instalment row of a loan."""
    decision_pd = Coalesce(F(BOOK_LOAN_FIELDS["decision_pd"]), _value(inputs.fallback_pd), output_field=EXACT)
    dpd = BOOK_LOAN_FIELDS["days_past_due"]
    certain = Q(**{BOOK_LOAN_FIELDS["state"]: DEFAULTED}) | Q(**{f"{dpd}__gte": DEFAULT_FROM_DPD})
    hit = inputs.sales_shock_applies()
    sales_factor = ONE + inputs.sales_pd_elasticity * inputs.sales_shock
    if hit is None:
        shock = _value(inputs.pd_multiplier)
    elif not hit:  # the whole portfolio
        shock = _value(inputs.pd_multiplier * sales_factor)
    else:
        shock = Case(
            When(hit, then=_value(inputs.pd_multiplier * sales_factor)),
            default=_value(inputs.pd_multiplier),
            output_field=EXACT,
        )

    def adjusted(extra=None) -> Case:
        whens = [When(certain, then=_value(ONE))]
        for _bucket, first, factor in reversed(DELINQUENCY_PD_FACTORS):
            pd = decision_pd * _value(factor)
            if extra is not None:
                pd = pd * extra
            whens.append(When(Q(**{f"{dpd}__gte": first}), then=Least(pd, _value(ONE), output_field=EXACT)))
        return Case(*whens, output_field=EXACT)

    return adjusted(), adjusted(shock)


def _loan_facts(*, inputs: StressInputs, first_loan_id: int, last_loan_id: int) -> QuerySet:
    """One row per loan of the range: its dimensions, maturity, and its PD before and under the scenario."""
    base_pd, stressed_pd = _pd_expressions(inputs)
    return (
        book_loans(first_loan_id=first_loan_id, last_loan_id=last_loan_id)
        # Aliased: "product" and "grade" are the loan's own field names.
        .values(loan_key=F("pk"), **{f"by_{name}": F(BOOK_LOAN_FIELDS[name]) for name in DIMENSIONS})
        .annotate(pd_base=base_pd, pd_stressed=stressed_pd, maturity=F(BOOK_LOAN_FIELDS["maturity_date"]))
        .order_by()
    )


LENDERS = len(DIMENSIONS)  # the statement's row kinds after the dimensions' positions
INSURERS = LENDERS + 1


def _date(value) -> datetime.date:
    # PostgreSQL answers dates as dates; SQLite (the demo) as ISO text.
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def stress_chunk_sums(*, inputs: StressInputs, first_loan_id: int, last_loan_id: int) -> dict:
    """The partial sums of one chunk of loans (ids from ``first_loan_id`` to ``last_loan_id``), unrounded, as
    strings.

    One statement does the work. Its table of loans: the chunk's instalments summed per loan
    (``book_outstanding_by_loan``) joined to one row per loan with its PDs (``_loan_facts``), so the PDs are computed
    once per loan, not once per instalment. From that table: the sums by industry, by region, by product and by
    grade; the partner banks' part of the loss and exposure, by bank and maturity (``lender_fractions_sql``); the
    insurers' part (``insured_sql``). A few hundred rows come back whatever the chunk's size. The tables are built
    by the ORM from lending's and partners' selectors; only the joins and the sums are written here.

    The platform's loss and exposure are what is left: a loan's lenders' fractions add up to 1, so the platform
    carries the chunk's loss less the partners' and the insurers', and its exposure less the partners'.
    """
    facts_sql, facts_params = _loan_facts(
        inputs=inputs, first_loan_id=first_loan_id, last_loan_id=last_loan_id
    ).query.sql_with_params()
    ead_sql, ead_params = book_outstanding_by_loan(
        first_loan_id=first_loan_id, last_loan_id=last_loan_id
    ).query.sql_with_params()
    # The chunk's ids as bounds: the shares and covers of loans off the book drop out in the join to ``per_loan``.
    chunk_loans = range(first_loan_id, last_loan_id + 1)
    fractions_sql, fractions_params = lender_fractions_sql(loan_ids=chunk_loans)
    covers_sql, covers_params = insured_sql(loan_ids=chunk_loans)
    keys = ", ".join(f"facts.by_{name}" for name in DIMENSIONS)
    # Only names written here and the ORM's own SQL go into the statement; every value travels as a parameter.
    per_loan = (
        f"SELECT facts.loan_key, facts.maturity, {keys}, ead.outstanding AS ead, "  # noqa: S608
        "ead.outstanding * facts.pd_base AS pd_ead_base, ead.outstanding * facts.pd_stressed AS pd_ead_stressed, "
        "c.insurer_code, COALESCE(c.cover_share, 0) AS cover_share "
        f"FROM ({facts_sql}) facts INNER JOIN ({ead_sql}) ead ON ead.loan_id = facts.loan_key "
        f"LEFT OUTER JOIN ({covers_sql}) c ON c.loan_id = facts.loan_key"
    )
    # Every branch: kind, key, maturity, loans, EAD, PD × EAD before the scenario, PD × EAD under it.
    branches = [
        f"SELECT {position}, by_{name}, CAST(NULL AS DATE), COUNT(*), SUM(ead), SUM(pd_ead_base), "  # noqa: S608
        "SUM(pd_ead_stressed) "
        f"FROM per_loan GROUP BY by_{name}"
        for position, name in enumerate(DIMENSIONS)
    ]
    branches.append(
        f"SELECT {LENDERS}, f.lender, p.maturity, COUNT(*), SUM(p.ead * f.fraction), NULL, "  # noqa: S608
        "SUM(p.pd_ead_stressed * (1 - p.cover_share) * f.fraction) "
        f"FROM per_loan p INNER JOIN ({fractions_sql}) f ON f.loan_id = p.loan_key "
        "WHERE f.lender <> %s GROUP BY f.lender, p.maturity"
    )
    branches.append(
        f"SELECT {INSURERS}, insurer_code, NULL, COUNT(*), NULL, NULL, SUM(pd_ead_stressed * cover_share) "  # noqa: S608
        "FROM per_loan WHERE cover_share > 0 GROUP BY insurer_code"
    )
    statement = f"WITH per_loan AS ({per_loan}) " + " UNION ALL ".join(branches)
    params = (*facts_params, *ead_params, *covers_params, *fractions_params, PLATFORM)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        grouped = cursor.fetchall()

    by: dict[str, dict[str, list]] = {name: {} for name in DIMENSIONS}
    lenders_loss: dict[str, Decimal] = {}
    lenders_ead: dict[str, Decimal] = {}
    insurers: dict[str, Decimal] = {}
    funding_cost = ZERO
    for kind, key, maturity, count, ead, pd_ead_base, pd_ead_stressed in grouped:
        if kind == LENDERS:
            lenders_loss[key] = lenders_loss.get(key, ZERO) + decimal_from_db(pd_ead_stressed) * inputs.lgd
            lenders_ead[key] = lenders_ead.get(key, ZERO) + decimal_from_db(ead)
            # The partner's floating funding costs the platform the shock on its share until the loan matures.
            years_left = max((_date(maturity) - inputs.as_of).days, 0) / Decimal(365)
            funding_cost += decimal_from_db(ead) * inputs.funding_rate_shock * years_left
        elif kind == INSURERS:
            insurers[key] = insurers.get(key, ZERO) + decimal_from_db(pd_ead_stressed) * inputs.lgd
        else:
            # A missing key (NULL) and an empty one are the same group.
            slot = by[DIMENSIONS[kind]].setdefault(key or "", [0, ZERO, ZERO, ZERO])
            slot[0] += int(count)
            slot[1] += decimal_from_db(ead)
            slot[2] += decimal_from_db(pd_ead_base) * inputs.lgd
            slot[3] += decimal_from_db(pd_ead_stressed) * inputs.lgd
    # Every loan is in exactly one group of each dimension: any one dimension's groups add up to the chunk.
    groups = by[DIMENSIONS[-1]].values()
    loans = sum((slot[0] for slot in groups), 0)
    ead_total = sum((slot[1] for slot in groups), ZERO)
    el_base = sum((slot[2] for slot in groups), ZERO)
    el_stressed = sum((slot[3] for slot in groups), ZERO)
    lenders_loss[PLATFORM] = el_stressed - sum(lenders_loss.values(), ZERO) - sum(insurers.values(), ZERO)
    lenders_ead[PLATFORM] = ead_total - sum(lenders_ead.values(), ZERO)
    return {
        "loans": loans,
        "ead": str(ead_total),
        "el_base": str(el_base),
        "el_stressed": str(el_stressed),
        # {dimension: {key: [loans, EAD, EL before the scenario, EL under it]}}
        "by": {
            name: {key: [slot[0], *(str(number) for number in slot[1:])] for key, slot in keys.items()}
            for name, keys in by.items()
        },
        "lenders_loss": {code: str(amount) for code, amount in lenders_loss.items()},
        "lenders_ead": {code: str(amount) for code, amount in lenders_ead.items()},
        "insurers": {code: str(amount) for code, amount in insurers.items()},
        "funding_cost": str(funding_cost),
    }


@dataclass
class _Totals:
    loans: int = 0
    ead: Decimal = ZERO
    el_base: Decimal = ZERO
    el_stressed: Decimal = ZERO

    def add(self, loans: int, ead: Decimal, el_base: Decimal, el_stressed: Decimal) -> None:
        self.loans += loans
        self.ead += ead
        self.el_base += el_base
        self.el_stressed += el_stressed

    def row(self, key: str) -> list:
        return [key, self.loans, str(to_fen(self.ead)), str(to_fen(self.el_base)), str(to_fen(self.el_stressed))]


@dataclass
class _RunSums:
    totals: _Totals = field(default_factory=_Totals)
    by: dict[str, dict[str, _Totals]] = field(default_factory=lambda: {name: {} for name in DIMENSIONS})
    lenders_loss: dict[str, Decimal] = field(default_factory=dict)
    lenders_ead: dict[str, Decimal] = field(default_factory=dict)
    insurers: dict[str, Decimal] = field(default_factory=dict)
    funding_cost: Decimal = ZERO


def _add_into(target: dict[str, Decimal], source: Mapping[str, str]) -> None:
    for code, amount in source.items():
        target[code] = target.get(code, ZERO) + Decimal(amount)


def stress_results(*, inputs: StressInputs, partials: Iterable[Mapping]) -> dict:
    """The run's figures from its chunks' partial sums, each rounded to the fen once (amounts as strings)."""
    sums = _RunSums()
    for partial in partials:
        sums.totals.loans += int(partial["loans"])
        sums.totals.add(0, Decimal(partial["ead"]), Decimal(partial["el_base"]), Decimal(partial["el_stressed"]))
        for name in DIMENSIONS:
            for key, (loans, ead, el_base, el_stressed) in partial["by"][name].items():
                sums.by[name].setdefault(key, _Totals()).add(
                    int(loans), Decimal(ead), Decimal(el_base), Decimal(el_stressed)
                )
        _add_into(sums.lenders_loss, partial["lenders_loss"])
        _add_into(sums.lenders_ead, partial["lenders_ead"])
        _add_into(sums.insurers, partial["insurers"])
        sums.funding_cost += Decimal(partial["funding_cost"])
    insured = sum(sums.insurers.values(), ZERO)
    platform_credit_loss = sums.lenders_loss.get(PLATFORM, ZERO)
    platform_loss = platform_credit_loss + sums.funding_cost
    platform_ead = sums.lenders_ead.get(PLATFORM, ZERO)
    capital = platform_loss + inputs.capital_ratio * max(platform_ead - platform_credit_loss, ZERO)
    losses = {PLATFORM: platform_loss} | {
        code: amount for code, amount in sorted(sums.lenders_loss.items()) if code != PLATFORM
    }
    return {
        "loans": sums.totals.loans,
        "exposure": str(to_fen(sums.totals.ead)),
        "el_before_scenario": str(to_fen(sums.totals.el_base)),
        "el_before_insurance": str(to_fen(sums.totals.el_stressed)),
        "insured_loss": str(to_fen(insured)),
        "el_after_insurance": str(to_fen(sums.totals.el_stressed - insured)),
        "funding_cost": str(to_fen(sums.funding_cost)),
        "losses": {code: str(to_fen(amount)) for code, amount in losses.items()},
        "insurers": {code: str(to_fen(amount)) for code, amount in sorted(sums.insurers.items())},
        "exposure_by_lender": {code: str(to_fen(amount)) for code, amount in sorted(sums.lenders_ead.items())},
        "capital": {
            "platform_loss": str(to_fen(platform_loss)),
            "platform_exposure": str(to_fen(platform_ead)),
            "ratio": str(inputs.capital_ratio),
            "required": str(to_fen(capital)),
        },
        # [key, loans, exposure, EL before the scenario, EL under it], largest stressed loss first.
        "by": {
            name: [
                totals.row(key)
                for key, totals in sorted(groups.items(), key=lambda item: (-item[1].el_stressed, item[0]))
            ]
            for name, groups in sums.by.items()
        },
    }
