"""The daily servicing jobs: overdue and days past due, late fees, default, reminders, sales-share sweeps.

``servicing_run_day(*, on)`` runs them in order for the business date ``on`` (beat calls it at 01:00 Shanghai time
for the day that begins). Each job is a service ``servicing_<job>(*, on) -> counts``.

Invariants this module protects:

- Set-based: every job works with a fixed number of SQL statements per batch, never with a Python loop over the
  portfolio's loans. The only per-loan work is posting a sales-share deduction as a payment (the repayment
  waterfall is Python), booking the sales-share fee accrued and the sales-share window check, all over the
  sales-share loans only.
- Idempotent: running a job twice on the same day changes nothing. Overdue marking, days past due and default are
  pure functions of the rows; late fees are charged only to loans with ``serviced_on < on`` and the same
  transaction sets ``serviced_on = on``; reminders and sales-share deductions are unique rows inserted with
  ``ON CONFLICT DO NOTHING`` and only the rows actually inserted are acted on.
- Resumable: each batch is its own transaction, and what is left to do is derived from the rows again, so a crash
  loses nothing and repeats nothing.
- Audited: every loan state change (active -> overdue, overdue -> active, overdue -> defaulted) gets its own audit
  row, written in the same transaction as the state change.

How: each job reads the rows it acts on with the ORM and writes them back in a fixed number of statements per
batch (``update`` by id, ``bulk_update``, ``bulk_create``), the same code on PostgreSQL and on SQLite (``make run``).
Money is computed in Python ``Decimal`` and rounded half-up to the fen once per charge (``core.money.to_fen``), never
by the database, so a late fee or a sales-share deduction is exact to the fen on both. Only the loans that have
something to do are read: the overdue ones for days past due and late fees, the instalments falling due for
reminders, the sales-share advances for the sweep. The reminders' insert is one SQL statement (``INSERT … SELECT …
ON CONFLICT DO NOTHING RETURNING``, the same on both databases), because the ORM cannot say which rows a conflicting
insert actually added, and only those may send a notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import F, IntegerField, Min, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.middleware import current_request_id
from core.models import AuditEvent, Notice
from core.money import FEN, to_fen
from core.services.audit import audit_record
from core.services.notices import notify, notify_many
from lending.catalogue.models import RepaymentMethodChoice
from lending.catalogue.money.sales_share import (
    WINDOW_DAYS,
    WINDOW_SHARE,
    maximum_fee,
)
from lending.catalogue.services.products import annual_cost_ceiling
from lending.servicing.models import (
    Instalment,
    Loan,
    LoanState,
    Payment,
    PaymentSource,
    Reminder,
    SalesShareDeduction,
    instalment_owed_expression,
)
from lending.servicing.services.sales_share_fees import principal_repaid, sales_share_fee_earned, sales_share_fee_lines
from lending.servicing.signals import loans_transitioned
from merchants.models import SalesDay

logger = logging.getLogger(__name__)

L = LoanState
I = Instalment.Status  # noqa: E741 - the house's short alias for a choices class, as ``L`` above
R = Reminder.Kind
# Loans still owed: overdue marking and days past due run over them (the collections queue needs the days past
# due of a defaulted loan too). Late fees stop at default: a defaulted loan is in recovery, not accruing.
OWED_STATES = (L.ACTIVE, L.OVERDUE, L.DEFAULTED)
ACCRUING_STATES = (L.ACTIVE, L.OVERDUE)
UNPAID = (I.DUE, I.PARTLY_PAID, I.OVERDUE)
BATCH_SIZE = 5000
ZERO = Decimal("0.00")
NEAR_BREACH_DAY = 45
SALES_AVERAGE_DAYS = 30
BREACH_ACTION = "sales_share.breach"
NEAR_BREACH_ACTION = "sales_share.near_breach"
# Reminders: the kind, and the due dates it is for as (first, last) days relative to ``on`` (due_date - on). A
# range, not one day: a day the job did not run still gets its reminder the next day, once (the unique row).
REMINDER_WINDOWS: tuple[tuple[str, int, int], ...] = (
    (R.DUE_SOON, 1, 3),
    (R.DUE_TODAY, 0, 0),
    (R.OVERDUE_1, -6, -1),
    (R.OVERDUE_7, -29, -7),
    (R.OVERDUE_30, -3650, -30),
)


def _in(values) -> str:
    """A literal SQL list of choice values (constants of this module, never user input)."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _chunks(ids: list[int], size: int = BATCH_SIZE):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# 1. Overdue and days past due.


def servicing_overdue(*, on: date) -> dict[str, int]:
    """Mark instalments overdue after their grace, compute each loan's days past due, move loans active <-> overdue.

    An unpaid instalment is overdue once ``due_date + grace_days < on``; a loan's days past due are ``on`` minus the
    due date of its oldest overdue instalment (0 without one). A loan with days past due becomes overdue, an
    overdue loan without them is cured. Days past due are written only where they change, so a second run on the
    same day writes nothing.
    """
    with transaction.atomic():
        # Unpaid instalments past their due date but not yet overdue: those still inside their grace, and those
        # whose grace ended since the last run. A small set whatever the size of the book.
        candidates = Instalment.objects.filter(
            status__in=(I.DUE, I.PARTLY_PAID), due_date__lt=on, loan__state__in=OWED_STATES
        ).values_list("pk", "due_date", "loan__terms__grace_days")
        late = [pk for pk, due_date, grace in candidates if due_date + timedelta(days=int(grace or 0)) < on]
        # An instalment's status is bookkeeping derived from its dates and payments, not a state machine with an
        # audit trail: the loan's move to overdue below is the audited change, with one row per loan.
        marked = sum(Instalment.objects.filter(pk__in=chunk).update(status=I.OVERDUE) for chunk in _chunks(late))

        oldest_overdue = dict(
            Instalment.objects.filter(status=I.OVERDUE, loan__state__in=OWED_STATES)
            .values("loan_id")
            .annotate(oldest=Min("due_date"))
            .values_list("loan_id", "oldest")
        )
        delinquent = Loan.objects.filter(state__in=OWED_STATES).filter(
            Q(days_past_due__gt=0) | Q(pk__in=Instalment.objects.filter(status=I.OVERDUE).values("loan_id"))
        )
        changed = []
        for loan_id, days_past_due in delinquent.values_list("pk", "days_past_due"):
            oldest = oldest_overdue.get(loan_id)
            now_due = (on - oldest).days if oldest is not None else 0
            if now_due != days_past_due:
                changed.append(Loan(pk=loan_id, days_past_due=now_due))
        Loan.objects.bulk_update(changed, ["days_past_due"], batch_size=1000)
    became_overdue = _loans_transition(
        on=on,
        source=L.ACTIVE,
        target=L.OVERDUE,
        action="loan.mark_overdue",
        condition={"days_past_due__gt": 0},
    )
    cured = _loans_transition(
        on=on, source=L.OVERDUE, target=L.ACTIVE, action="loan.cure", condition={"days_past_due": 0}
    )
    return {
        "instalments_overdue": marked,
        "loans_days_past_due_changed": len(changed),
        "loans_overdue": became_overdue,
        "loans_cured": cured,
    }


def _loans_transition(
    *, on: date, source: str, target: str, action: str, condition: dict, extra_fields: dict | None = None
) -> int:
    """Move every ``source`` loan matching ``condition`` to ``target``, in batches, with one audit row each.

    The house rule forbids ``QuerySet.update()`` on an audited state field because it skips the state machine and
    the audit row. Here the audit rows are written by this function, in the same transaction as the UPDATE, for
    exactly the rows it changes (locked first): a per-loan ``transition() + save()`` would be a Python loop over
    the portfolio, and the protected FSM field cannot be assigned on an instance anyway. The transitions' own side
    effects are applied by the UPDATE (``cure`` zeroes the days past due, which ``condition`` already requires;
    ``default`` sets ``defaulted_at``, passed in ``extra_fields``).
    """
    content_type = ContentType.objects.get_for_model(Loan, for_concrete_model=False)
    reason = _("daily servicing %(date)s") % {"date": on.isoformat()}
    request_id = current_request_id() or ""
    changed = 0
    while True:
        with transaction.atomic():
            rows = list(
                Loan.objects.select_for_update()
                .filter(state=source, **condition)
                .order_by("id")
                .values_list("id", "days_past_due")[:BATCH_SIZE]
            )
            if not rows:
                return changed
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    actor=None,
                    action=action,
                    from_state=source,
                    to_state=target,
                    reason=reason,
                    content_type=content_type,
                    object_id=str(loan_id),
                    request_id=request_id,
                    data={"days_past_due": days_past_due, "serviced_for": on.isoformat()},
                )
                for loan_id, days_past_due in rows
            )
            loan_ids = [loan_id for loan_id, _dpd in rows]
            Loan.objects.filter(id__in=loan_ids).update(state=target, **(extra_fields or {}))
            loans_transitioned.send(sender=Loan, action=action, loan_ids=loan_ids, on=on)
            changed += len(rows)


# 2. Late fees.


def servicing_late_fees(*, on: date) -> dict[str, int]:
    """Charge late fees by each loan's terms into ``Instalment.penalty_due``, once per loan and day.

    For an overdue instalment: ``late_fee.daily_rate`` x the overdue amount (principal, interest and fee still
    unpaid; late fees never earn late fees) for each day past ``due_date + grace_days`` since the loan was last
    serviced, rounded half-up to the fen once per charge; plus ``late_fee.fixed`` once, on the first day past grace.
    Never more in all than ``late_fee.cost_cap`` a year (365 days) of the overdue amount for the days since the due
    date, grace days included (see ``_late_fee``).
    Only loans with ``serviced_on`` before ``on`` are charged; the same transaction sets ``serviced_on = on``, batch
    by batch, so a second run charges nothing and a run after a crash charges only what was left.
    """
    counts = {"loans_serviced": 0, "instalments_charged": 0}
    while True:
        with transaction.atomic():
            loan_ids = list(
                Loan.objects.select_for_update()
                .filter(state__in=ACCRUING_STATES)
                .exclude(serviced_on__gte=on)
                .order_by("id")
                .values_list("id", flat=True)[:BATCH_SIZE]
            )
            if not loan_ids:
                return counts
            # The batch as an id range: the loans in it still to service are exactly the ones just locked (the first
            # ones by id), and a range is an index range scan where a list of 5,000 ids is tested row by row.
            first, last = loan_ids[0], loan_ids[-1]
            due_for_service = Q(state__in=ACCRUING_STATES, id__gte=first, id__lte=last) & ~Q(serviced_on__gte=on)
            overdue = (
                Instalment.objects.filter(
                    loan_id__gte=first, loan_id__lte=last, status=I.OVERDUE, loan__state__in=ACCRUING_STATES
                )
                .exclude(loan__serviced_on__gte=on)
                .only(*LATE_FEE_FIELDS)
                .annotate(
                    serviced_on=F("loan__serviced_on"),
                    grace_days=F("loan__terms__grace_days"),
                    daily_rate=F("loan__terms__late_fee__daily_rate"),
                    fixed_fee=F("loan__terms__late_fee__fixed"),
                    cost_cap=F("loan__terms__late_fee__cost_cap"),
                )
            )
            charged = []
            ceiling = annual_cost_ceiling() / 100
            for instalment in overdue:
                charge = _late_fee(instalment, on=on, ceiling=ceiling)
                if charge > 0:
                    instalment.penalty_due += charge
                    charged.append(instalment)
            Instalment.objects.bulk_update(charged, ["penalty_due"], batch_size=1000)
            Loan.objects.filter(due_for_service).update(serviced_on=on)
            counts["loans_serviced"] += len(loan_ids)
            counts["instalments_charged"] += len(charged)


# What a late fee is computed from (the loan's terms come along as annotations).
LATE_FEE_FIELDS = (
    "pk",
    "due_date",
    "principal_due",
    "interest_due",
    "fee_due",
    "penalty_due",
    "principal_paid",
    "interest_paid",
    "fee_paid",
)


def _late_fee(instalment: Instalment, *, on: date, ceiling: Decimal) -> Decimal:
    """The late fee one overdue instalment earns for the days since its loan was last serviced, to the fen.

    Day by day, as daily runs would charge it (so one late run charges what daily runs would have): the daily rate
    on the overdue amount, the fixed fee on the first day past grace, and after each day the late fees so far held
    to the cap: ``cost_cap`` (the terms', or ``ceiling`` for loans made before terms carried one: a cap only ever
    lowers a fee) a year of the overdue amount for the days since the due date, grace days included, over a
    365-day year; the total is never above that cap rounded down to the fen. What the cap holds back is not
    charged later. The overdue amount is today's: a part paid since only lowers the cap, never raises it.
    """
    grace_end = instalment.due_date + timedelta(days=int(instalment.grace_days or 0))
    if grace_end >= on:
        return ZERO
    serviced_on = instalment.serviced_on
    since = grace_end if serviced_on is None or serviced_on < grace_end else serviced_on
    overdue = sum((instalment.owed(component) for component in ("principal", "interest", "fee")), ZERO)
    daily = overdue * Decimal(str(instalment.daily_rate or 0))
    cap_rate = Decimal(str(instalment.cost_cap)) if instalment.cost_cap else ceiling
    cap_a_day = overdue * cap_rate / 365
    charged = instalment.penalty_due
    total = charged
    if since == grace_end:
        total += Decimal(str(instalment.fixed_fee or 0))
    for days_late in range((since - instalment.due_date).days + 1, (on - instalment.due_date).days + 1):
        total = max(min(total + daily, cap_a_day * days_late), charged)
    allowed = (cap_a_day * (on - instalment.due_date).days).quantize(FEN, rounding=ROUND_DOWN)
    return max(min(to_fen(total - charged), allowed - charged), ZERO)


# 3. Default.


def servicing_defaults(*, on: date) -> dict[str, int]:
    """Default every overdue loan whose days past due reached its terms' ``default_after_days_past_due``.

    A loan whose terms name no threshold never defaults by this job (an officer decides). Runs after
    ``servicing_overdue`` so that the days past due are today's.
    """
    threshold = Cast(KT("terms__default_after_days_past_due"), IntegerField())
    defaulted = _loans_transition(
        on=on,
        source=L.OVERDUE,
        target=L.DEFAULTED,
        action="loan.default",
        condition={"days_past_due__gte": threshold},
        extra_fields={"defaulted_at": timezone.now()},
    )
    return {"loans_defaulted": defaulted}


# 4. Reminders.


def servicing_reminders(*, on: date) -> dict[str, int]:
    """Remind merchants of instalments due in three days, due today and overdue (1, 7, 30 days): each kind once.

    Reminder rows are inserted with ``ON CONFLICT DO NOTHING ... RETURNING``, so only the rows this run actually
    inserted get a notice, and a second run (or a concurrent one) finds every row there and sends nothing. The
    in-app notices are made in the same transaction; their emails are queued after it commits, in batches.
    """
    counts: dict[str, int] = {}
    with transaction.atomic():
        inserted: list[tuple[int, str]] = []
        for kind, first, last in REMINDER_WINDOWS:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                INSERT INTO lending_reminder (instalment_id, kind, sent_on)
                SELECT i.id, %s, %s
                FROM lending_instalment i JOIN lending_loan l ON l.id = i.loan_id
                WHERE l.state IN {_in(ACCRUING_STATES)} AND i.status IN {_in(UNPAID)}
                  AND i.due_date BETWEEN %s AND %s
                ON CONFLICT (instalment_id, kind) DO NOTHING
                RETURNING instalment_id
                """,  # noqa: S608 - only module constants and placeholders are interpolated
                    [kind, on, on + timedelta(days=first), on + timedelta(days=last)],
                )
                rows = cursor.fetchall()
            inserted.extend((instalment_id, kind) for (instalment_id,) in rows)
            counts[f"reminders_{kind}"] = len(rows)
        notices = _reminder_notices(inserted)
    counts["notices"] = len(notices)
    return counts


def _reminder_notices(inserted: list[tuple[int, str]]) -> list[Notice]:
    """One in-app notice per reminder inserted (one query for the instalments, one bulk insert), emails on commit."""
    if not inserted:
        return []
    instalments = {
        instalment.pk: instalment
        for instalment in Instalment.objects.filter(pk__in={pk for pk, _kind in inserted}).select_related(
            "loan__merchant"
        )
    }
    notices = []
    for instalment_id, kind in sorted(inserted):
        instalment = instalments[instalment_id]
        title, body = _reminder_text(kind, instalment)
        notices.append(
            Notice(
                user_id=instalment.loan.merchant.owner_id,
                title=title,
                body=body,
                url=_loan_url(instalment.loan_id),
            )
        )
    return notify_many(notices=notices)


def _reminder_text(kind: str, instalment: Instalment) -> tuple[str, str]:
    owed = instalment.owed()
    params = {
        "number": instalment.number,
        "loan": instalment.loan_id,
        "due": instalment.due_date.isoformat(),
        "amount": f"{owed:,.2f}",
    }
    if kind == R.DUE_SOON:
        title = _("Instalment %(number)s of loan #%(loan)s is due on %(due)s") % params
        body = _("%(amount)s yuan is due on %(due)s. Please make sure your account can cover it.") % params
    elif kind == R.DUE_TODAY:
        title = _("Instalment %(number)s of loan #%(loan)s is due today") % params
        body = _("%(amount)s yuan is due today (%(due)s). You can pay it now from your loan page.") % params
    else:
        days = {R.OVERDUE_1: 1, R.OVERDUE_7: 7, R.OVERDUE_30: 30}[kind]
        params["days"] = days
        title = _("Instalment %(number)s of loan #%(loan)s is overdue") % params
        body = (
            ngettext(
                "%(amount)s yuan was due on %(due)s and is now more than %(days)s day late. Late fees are charged "
                "by your contract's terms; please pay now from your loan page or contact us.",
                "%(amount)s yuan was due on %(due)s and is now more than %(days)s days late. Late fees are charged "
                "by your contract's terms; please pay now from your loan page or contact us.",
                days,
            )
            % params
        )
    return title, body


def _loan_url(loan_id: int) -> str:
    return reverse("lending:loan-detail", kwargs={"pk": loan_id})


# 5. Sales-share sweeps.


def servicing_sales_share(*, on: date) -> dict[str, int]:
    """Deduct the agreed share of yesterday's gross sales from every active sales-share advance, then check windows.

    ``sales_share_fees_book`` first books the fee accrued to ``on`` (so a deduction never collects more than that
    fee and the principal), ``sales_share_deductions_compute`` makes the day's deduction rows (set-based),
    ``sales_share_deductions_post`` posts each non-zero one as a payment, and ``sales_share_windows_check`` warns
    at day 45 and marks breaches.
    """
    counts = {"sales_share_fees_booked": sales_share_fees_book(on=on)}
    counts["deductions"] = sales_share_deductions_compute(on=on)
    counts.update(sales_share_deductions_post(on=on))
    counts.update(sales_share_windows_check(on=on))
    return counts


def sales_share_fees_book(*, on: date) -> int:
    """Book the fee every sales-share advance still accruing has earned by ``on``; returns how many loans changed.

    The contract's rule (``lending.catalogue.money.sales_share``): the fee accrues every day at the daily fee rate
    on the principal outstanding (principal repaid by a payment stops accruing the day after it was received),
    rounded down to the fen, and never comes to more than the maximum fee (``(fee factor - 1)`` x the principal).
    The rate is the terms' fee factor spread over their ``fee_days`` (``sales_share_daily_fee_rate``; loans signed
    before that accrue at the ceiling's daily rate, still capped at the fee they were signed with).

    The instalments hold that fee: their ``fee_due`` adds up to it (or to what was paid already, if more: money
    paid is never taken back here). The part not yet paid sits on the first line with principal still owed, so the
    waterfall pays it before principal, and no other line owes any fee. At funding the lines carry the quote's
    projected fee; the first run books it down to what has accrued. Idempotent: a second run on the same day
    computes the same fee and writes nothing. Each batch is one transaction with its loans locked, so a payment
    being booked at the same time waits for it (or it for the payment).
    """
    sales_date = on - timedelta(days=1)
    changed_loans = 0
    ids = list(
        Loan.objects.filter(
            repayment_method=RepaymentMethodChoice.SALES_SHARE, state__in=ACCRUING_STATES, start_date__lte=sales_date
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    for chunk in _chunks(ids):
        with transaction.atomic():
            loans = list(
                Loan.objects.select_for_update()
                .filter(id__in=chunk, state__in=ACCRUING_STATES)
                .order_by("id")
                .annotate(fee_factor=KT("terms__price"), fee_days=KT("terms__sales_share__fee_days"))
                .values_list("id", "start_date", "price", "fee_factor", "fee_days")
            )
            repaid = principal_repaid(loan_ids=chunk, before=on)
            lines: dict[int, list[Instalment]] = {}
            for row in Instalment.objects.filter(loan_id__in=chunk).order_by("loan_id", "number"):
                lines.setdefault(row.loan_id, []).append(row)
            changed: list[Instalment] = []
            for loan_id, start_date, price, fee_factor, fee_days in loans:
                earned = sales_share_fee_earned(
                    instalments=lines.get(loan_id, []),
                    start_date=start_date,
                    fee_factor=fee_factor or price,
                    fee_days=fee_days,
                    repaid=repaid.get(loan_id, []),
                    on=on,
                )
                rows = sales_share_fee_lines(lines.get(loan_id, []), earned=earned, on=on)
                changed.extend(rows)
                changed_loans += bool(rows)
            Instalment.objects.bulk_update(changed, ["fee_due", "status", "paid_on"], batch_size=1000)
    return changed_loans


def sales_share_deductions_compute(*, on: date) -> int:
    """Insert one deduction per active sales-share loan for the sales of ``on - 1``; returns how many were inserted.

    The amount is ``share_rate`` x the day's gross sales, rounded half-up to the fen, capped at what is still owed
    (less credit held and deductions not yet posted). A day without sales, or a day with none recorded, makes a
    zero row: the day was looked at. Unique per loan and day, so a second run inserts nothing.
    """
    sales_date = on - timedelta(days=1)
    owed = (
        Instalment.objects.filter(loan=OuterRef("pk"))
        .values("loan")
        .annotate(total=Sum(instalment_owed_expression()))
        .values("total")
    )
    unposted = (
        SalesShareDeduction.objects.filter(loan=OuterRef("pk"), payment__isnull=True)
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    with transaction.atomic():
        loans = list(
            Loan.objects.filter(
                repayment_method=RepaymentMethodChoice.SALES_SHARE,
                state__in=ACCRUING_STATES,
                start_date__lte=sales_date,
            )
            .exclude(sales_deductions__sales_date=sales_date)
            .annotate(
                owed=Coalesce(Subquery(owed), ZERO),
                unposted=Coalesce(Subquery(unposted), ZERO),
                share_rate=KT("terms__sales_share__share_rate"),
            )
            .values_list("pk", "merchant_id", "credit_balance", "owed", "unposted", "share_rate")
        )
        gross_sales = dict(
            SalesDay.objects.filter(merchant_id__in={row[1] for row in loans}, date=sales_date).values_list(
                "merchant_id", "gross_sales"
            )
        )
        deductions = []
        for loan_id, merchant_id, credit, owed_total, unposted_total, share_rate in loans:
            gross = gross_sales.get(merchant_id, ZERO)
            share = to_fen(gross * Decimal(str(share_rate or 0)))
            remaining = owed_total - credit - unposted_total
            amount = share if share <= remaining else max(remaining, ZERO)
            deductions.append(
                SalesShareDeduction(loan_id=loan_id, sales_date=sales_date, gross_sales=gross, amount=amount)
            )
        SalesShareDeduction.objects.bulk_create(deductions, ignore_conflicts=True)
    return len(deductions)


def sales_share_deductions_post(*, on: date) -> dict[str, int]:
    """Post every non-zero deduction not yet posted as a ``sales_share`` payment received on ``on``.

    One transaction per deduction: the payment (``payment_record``, idempotent by the external reference
    ``sales-share:<loan>:<sales date>``) and the link to it commit together, so a crash between two deductions
    leaves the rest for the next run, and a repeat finds the payment it made.
    """
    from lending.servicing.services.repayments import payment_record

    pending = list(
        SalesShareDeduction.objects.filter(payment__isnull=True, amount__gt=0, sales_date__lt=on)
        .order_by("loan_id", "sales_date")
        .values_list("pk", flat=True)
    )
    posted = failed = 0
    for pk in pending:
        try:
            with transaction.atomic():
                deduction = SalesShareDeduction.objects.select_for_update().select_related("loan").get(pk=pk)
                if deduction.payment_id is not None:
                    continue
                deduction.payment = payment_record(
                    loan=deduction.loan,
                    amount=deduction.amount,
                    received_on=on,
                    source=PaymentSource.SALES_SHARE,
                    external_reference=f"sales-share:{deduction.loan_id}:{deduction.sales_date.isoformat()}",
                )
                deduction.save(update_fields=["payment"])
                posted += 1
        except Exception:
            # One loan's refusal (paid off meanwhile, a conflict) must not stop the sweep of the others; the row
            # stays unposted and is tried again tomorrow, and the log says why.
            logger.exception("Sales-share deduction %s was not posted", pk)
            failed += 1
    return {"deductions_posted": posted, "deductions_failed": failed}


@dataclass(frozen=True)
class SalesShareWindowStatus:
    number: int
    start_date: date
    end_date: date
    minimum: Decimal
    paid: Decimal

    @property
    def behind(self) -> bool:
        return self.paid < self.minimum


def sales_share_window(
    *,
    start_date: date,
    total: Decimal,
    number: int,
    payments: list[tuple[date, Decimal]],
    maximum_total: Decimal | None = None,
):
    """Window ``number`` (days 60(n-1)+1 .. 60n after the start) with its minimum and what was paid in it.

    The minimum is 1/18 of the most that can be owed (``maximum_total``: the principal and the maximum fee; the
    contract prints it), or what was left at the window's start when that is less, ``total`` being what is owed
    in all so far (the fee booked to date) (the engine's rule, ``lending.catalogue.money.sales_share``).
    """
    first = start_date + timedelta(days=WINDOW_DAYS * (number - 1) + 1)
    last = start_date + timedelta(days=WINDOW_DAYS * number)
    paid_before = sum((amount for day, amount in payments if day < first), Decimal("0.00"))
    paid = sum((amount for day, amount in payments if first <= day <= last), Decimal("0.00"))
    base = total if maximum_total is None else maximum_total
    minimum = min(to_fen(base / WINDOW_SHARE), max(total - paid_before, Decimal("0.00")))
    return SalesShareWindowStatus(number=number, start_date=first, end_date=last, minimum=minimum, paid=paid)


def sales_share_windows_check(*, on: date) -> dict[str, int]:
    """Warn a merchant behind its 60-day minimum at day 45 of the window, and mark a breach once the window ends.

    Each is done once per loan and window: the audit row (``sales_share.near_breach`` / ``sales_share.breach``,
    with the window in ``data``) is the record, and its presence stops a repeat. The window that ended most
    recently is checked every day until it is marked, so a day the job did not run is caught up.
    """
    loans = list(
        Loan.objects.filter(repayment_method=RepaymentMethodChoice.SALES_SHARE, state__in=ACCRUING_STATES)
        .annotate(
            total=Sum(F("instalments__principal_due") + F("instalments__interest_due") + F("instalments__fee_due")),
            principal_total=Sum("instalments__principal_due"),
            fee_factor=KT("terms__price"),
        )
        .values_list("pk", "start_date", "total", "principal_total", "price", "fee_factor")
    )
    if not loans:
        return {"near_breaches": 0, "breaches": 0}
    ids = [row[0] for row in loans]
    payments: dict[int, list[tuple[date, Decimal]]] = {pk: [] for pk in ids}
    for loan_id, received_on, amount in Payment.objects.filter(loan_id__in=ids, received_on__lte=on).values_list(
        "loan_id", "received_on", "amount"
    ):
        payments[loan_id].append((received_on, amount))
    content_type = ContentType.objects.get_for_model(Loan, for_concrete_model=False)
    done = {
        (int(object_id), action, (data or {}).get("window"))
        for object_id, action, data in AuditEvent.objects.filter(
            content_type=content_type,
            object_id__in=[str(pk) for pk in ids],
            action__in=[NEAR_BREACH_ACTION, BREACH_ACTION],
        ).values_list("object_id", "action", "data")
    }
    actions: list[tuple[int, str, SalesShareWindowStatus]] = []
    for pk, start_date, total, principal, price, fee_factor in loans:
        day = (on - start_date).days
        if day < 1:
            continue
        # The lines hold the fee booked so far; the contract's minimum is 1/18 of the most that can be owed.
        maximum_total = principal + maximum_fee(principal, Decimal(str(fee_factor or price)))
        window_of = partial(
            sales_share_window, start_date=start_date, total=total, payments=payments[pk], maximum_total=maximum_total
        )
        current, day_in_window = (day - 1) // WINDOW_DAYS + 1, (day - 1) % WINDOW_DAYS + 1
        if day_in_window >= NEAR_BREACH_DAY and (pk, NEAR_BREACH_ACTION, current) not in done:
            window = window_of(number=current)
            if window.behind:
                actions.append((pk, NEAR_BREACH_ACTION, window))
        ended = day // WINDOW_DAYS
        if ended >= 1 and (pk, BREACH_ACTION, ended) not in done:
            window = window_of(number=ended)
            if window.behind:
                actions.append((pk, BREACH_ACTION, window))
    counts = {"near_breaches": 0, "breaches": 0}
    for pk, action, window in actions:
        with transaction.atomic():
            loan = Loan.objects.select_for_update(of=("self",)).select_related("merchant").get(pk=pk)
            _window_record(loan=loan, action=action, window=window, on=on)
        counts["breaches" if action == BREACH_ACTION else "near_breaches"] += 1
    return counts


def _window_record(*, loan: Loan, action: str, window: SalesShareWindowStatus, on: date) -> None:
    params = {
        "loan": loan.pk,
        "start": window.start_date.isoformat(),
        "end": window.end_date.isoformat(),
        "minimum": f"{window.minimum:,.2f}",
        "paid": f"{window.paid:,.2f}",
        "short": f"{window.minimum - window.paid:,.2f}",
    }
    if action == BREACH_ACTION:
        reason = _("The 60-day minimum was not met: %(paid)s of %(minimum)s yuan from %(start)s to %(end)s.") % params
        title = _("Advance #%(loan)s: the 60-day minimum was not met") % params
        body = (
            _(
                "From %(start)s to %(end)s, %(paid)s yuan was repaid from your sales; your contract requires at least "
                "%(minimum)s yuan in every 60-day window. Please pay the %(short)s yuan short now, or contact us."
            )
            % params
        )
    else:
        reason = _("Behind the 60-day minimum at day 45: %(paid)s of %(minimum)s yuan.") % params
        title = _("Advance #%(loan)s is behind its 60-day minimum") % params
        body = (
            _(
                "Since %(start)s, %(paid)s yuan has been repaid from your sales; by %(end)s your contract requires "
                "%(minimum)s yuan. Pay the %(short)s yuan short from your loan page to stay within your contract."
            )
            % params
        )
    audit_record(
        subject=loan,
        action=action,
        from_state=loan.state,
        to_state=loan.state,
        reason=reason,
        data={
            "window": window.number,
            "start_date": window.start_date.isoformat(),
            "end_date": window.end_date.isoformat(),
            "minimum": str(window.minimum),
            "paid": str(window.paid),
            "checked_on": on.isoformat(),
        },
    )
    notify(user_id=loan.merchant.owner_id, title=title, body=body, url=_loan_url(loan.pk))


# Credit held.


def servicing_credit_apply(*, on: date) -> dict[str, int]:
    """Spend credit held (overpayments) on instalments that fell due, through ``repayments.credit_apply``.

    Only loans holding credit with something due are visited (``loans_with_credit_due``), one transaction each;
    ``credit_apply`` changes nothing when there is nothing to do, so a repeat is harmless.
    """
    from lending.servicing.selectors.repayments import loans_with_credit_due
    from lending.servicing.services.repayments import credit_apply

    applied = 0
    for loan in loans_with_credit_due(on=on).order_by("pk").iterator():
        if credit_apply(loan=loan, on=on):
            applied += 1
    return {"credit_applied": applied}


# The day.


def servicing_run_day(*, on: date) -> dict[str, int]:
    """Run the day's jobs in order; returns their counts. Safe to run again, and to resume after a crash.

    Sales first and credit held next (either can pay what fell due and cure a loan), then overdue and days past
    due, late fees on the result, default on today's days past due, and reminders last (they must not remind of
    what the sweep just paid).
    """
    counts: dict[str, int] = {}
    for job in (
        servicing_sales_share,
        servicing_credit_apply,
        servicing_overdue,
        servicing_late_fees,
        servicing_defaults,
        servicing_reminders,
    ):
        counts.update(job(on=on))
    return counts


__all__ = [
    "BREACH_ACTION",
    "NEAR_BREACH_ACTION",
    "SalesShareWindowStatus",
    "sales_share_deductions_compute",
    "sales_share_deductions_post",
    "sales_share_fees_book",
    "sales_share_window",
    "sales_share_windows_check",
    "servicing_credit_apply",
    "servicing_defaults",
    "servicing_late_fees",
    "servicing_overdue",
    "servicing_reminders",
    "servicing_run_day",
    "servicing_sales_share",
]
