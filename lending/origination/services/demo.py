"""The demo's portfolio history: six months of lending before today, replayed day by day through the real services.

``make run`` opens on a back office with work in it: applications the engine decided over past dates (approved,
referred and declined), referred ones still waiting for an officer, loans paid out and repaid on time, late, not at
all (defaulted after 90 days past due) or falling behind now (the collections queue), bank transfers officers
recorded, deferral requests decided and some still pending, and the monitoring page's months of decisions.

How the past is replayed. Every step is the portal's own service, called in the order the days went:

- at 01:00 the nightly jobs of ``lending.origination.services.scheduled`` (servicing: arrears, late fees,
  defaults, reminders, sales-share sweeps; and offer expiry), as beat would have run them;
- during the day: merchants apply (``application_apply``: the engine decides with the sales on file up to that
  day), officers decide referred applications (approve, counter-offer or decline), merchants accept, sign (the
  re-authentication is recorded as a password) and are paid out by the sandbox rail, officers record the bank
  transfers merchants send (``bank_transfer_record``; a second officer approves those above the four-eyes amount),
  officers call merchants in arrears and look into fraud alerts, merchants ask to defer an instalment and officers
  decide. The tasks the services queue (contracts, payouts, final schedules, emails) run when the replay commits;
  the steps that cannot wait for them (a contract to sign, a loan to pay out) are called here in their place.

What the demo does that the portal never does: it sets the clock. While a moment of the past is replayed,
``django.utils.timezone.now`` reads that moment (``demo_clock``), so every timestamp, audit row, due date, late fee
and reminder is the one that day produced. Nothing is written past the services. Two simplifications are stated
here rather than hidden: the sales history was loaded in one go (its rows say so in ``imported_at``; the engine
reads only the days before each decision), and the emails of the past are not sent (the notices are in the
merchants' inboxes; Django's dummy mail backend stands in while replaying).

The replay is one transaction: the history is there entirely or not at all. It records itself in one audit row
(``demo.history``, on the scorecard that decided it, with the days it covers), so a second load replays nothing;
a load on a later day runs the nightly jobs for the days since (``demo_days_catch_up``), as beat would have.
It is deterministic: the same merchants and seed give the same history, relative to the day it is loaded.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import User
from core.models import AuditEvent
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.selectors.applications import IN_PROGRESS_STATES, merchant_average_daily_sales
from lending.origination.services.applications import (
    ApplicationConflict,
    ApplicationError,
    application_accept,
    application_apply,
    application_approve,
    application_counter_offer,
    application_decline,
    application_withdraw,
)
from lending.origination.services.contracts import contract_newest, contract_prepare, contract_render, contract_sign
from lending.origination.services.funding import application_fund, disbursement_send
from lending.origination.services.scheduled import scheduled_day_run
from lending.servicing.models import BankTransfer, CollectionContact, DeferralRequest, Instalment, Loan, LoanState
from lending.servicing.services.bank_transfers import bank_transfer_approve, bank_transfer_record
from lending.servicing.services.collections import (
    DeferralConflict,
    collection_contact_record,
    deferral_approve,
    deferral_refuse,
    deferral_request,
    deferral_rule,
    deferral_window,
)
from lending.servicing.services.repayments import amount_due_now
from merchants.models import Merchant
from underwriting.choices import FraudSignal, ScorecardState
from underwriting.models import FraudAlert, Scorecard
from underwriting.services.fraud import fraud_alert_clear, fraud_alert_confirm

HISTORY_DAYS = 182
HISTORY_ACTION = "demo.history"
DAYS_ACTION = "demo.days"
# The nightly jobs a replayed day runs: the pre-approved limits are computed once, for today, by the loader.
NIGHTLY_JOBS = {"lending-servicing-daily", "offers-expire"}
# At most this many loans are paid out: each has a contract and a final schedule rendered to PDF, about a second.
MAX_LOANS = 14
# Sales-share advances are repaid by the nightly sweep, one payment a day each: two, taken in the last months.
MAX_SALES_SHARE = 2
SALES_SHARE_FROM_DAYS = 90
# Kept under the four-eyes threshold, so that every loan is paid out on the day it is signed.
MAX_AMOUNT = Decimal("150000.00")
# A merchant applies again only after this long (sooner, and the engine's velocity signal would fire).
DAYS_BETWEEN_APPLICATIONS = 30
# The officers review a fraud alert a couple of days after it is raised; the last fortnight's wait in the queue.
ALERT_REVIEW_DAYS = 2
ALERTS_LEFT_OPEN_DAYS = 14
# The deferral requests of the last days are still waiting for an officer.
PENDING_DEFERRAL_DAYS = 4
UNPAID = (Instalment.Status.DUE, Instalment.Status.PARTLY_PAID, Instalment.Status.OVERDUE)
OFFICER_DECLINES = (
    "近三个月销售额持续下滑，暂无法批准该金额。Sales have fallen for three months; we cannot approve this amount now.",
    "退款比例偏高，请在经营稳定后再申请。Refunds are high; please apply again once trading has settled.",
    "申请金额超出经营规模可支撑的水平。The amount is more than the business's sales can support.",
)
DEFERRAL_REASONS = (
    "春节前备货资金紧张，希望推迟几天还款。Stock for the holiday has tied up cash; a few more days would help.",
    "大客户货款延迟到账。A large customer has paid late.",
    "店面装修期间营业额下降。Sales dipped while the shop was being refitted.",
)

L = LoanState
S = ApplicationState


@contextlib.contextmanager
def demo_clock(moment: datetime.datetime) -> Iterator[None]:
    """While inside, the portal's clock (``django.utils.timezone.now``) reads ``moment``: the demo's past.

    For the demo loader only: every service reads the time through ``timezone.now`` (and ``localdate``, which calls
    it), so a service called inside runs as it would have at that moment.
    """
    original = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = original


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@dataclass
class _Borrower:
    """How one loan is repaid in the story: on time, late, stopping after some instalments, or falling behind now."""

    loan_id: int
    habit: str  # "prompt" | "late" | "stops" | "behind"
    days_late: int = 0
    pays_instalments: int = 0  # "stops": the instalments it pays before it stops
    behind_since: datetime.date | None = None  # "behind": nothing due from this day on is paid


@dataclass
class HistoryCounts:
    applications: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    loans: int = 0
    transfers: int = 0
    contacts: int = 0
    deferrals: int = 0
    days: int = 0


class _Replay:
    """One replay: the day loop, and each kind of event it runs, with one random stream for every choice."""

    def __init__(
        self,
        *,
        merchants: Sequence[Merchant],
        officer: User,
        senior: User,
        today: datetime.date,
        seed: int,
        lenders_answer: Callable[[LoanApplication], None] | None = None,
    ):
        self.merchants = list(merchants)
        self.lenders_answer = lenders_answer
        self.officer = officer
        self.senior = senior
        self.today = today
        self.start = today - datetime.timedelta(days=HISTORY_DAYS)
        self.random = random.Random(f"demo-history:{seed}")
        self.products = {product.code: product for product in LoanProduct.objects.filter(is_active=True)}
        self.counts = HistoryCounts()
        self.referred: dict[int, datetime.date] = {}  # application id -> the day the officer decides it
        self.offers: dict[int, tuple[datetime.date, bool]] = {}  # approved application -> (day to act, accepts?)
        self.borrowers: dict[int, _Borrower] = {}
        self.deferrals_to_decide: dict[int, datetime.date] = {}
        self.applied_on: dict[int, datetime.date] = {}  # merchant id -> its last application's day

    # The loop.

    def run(self) -> HistoryCounts:
        for offset in range(HISTORY_DAYS):
            day = self.start + datetime.timedelta(days=offset)
            self._night(day)
            self._review_alerts(day)
            self._decide_referred(day)
            self._decide_deferrals(day)
            self._apply(day, offset)
            self._act_on_offers(day)
            self._call_merchants_in_arrears(day)
            self._ask_for_deferrals(day, last_days=HISTORY_DAYS - offset)
            self._repay(day)
        self._night(self.today)
        return self.counts

    def _night(self, day: datetime.date) -> None:
        with demo_clock(min(_at(day, 1), timezone.now())):
            for _run in scheduled_day_run(on=day, only=NIGHTLY_JOBS):
                pass
        self.counts.days += 1

    # Applications.

    def _apply(self, day: datetime.date, offset: int) -> None:
        # More applications as the portfolio grows: from about one a day to two.
        rate = 1.2 + 1.0 * offset / HISTORY_DAYS
        wanted = int(rate) + (self.random.random() < rate - int(rate))
        # Each of the last three days, one merchant also asks for more than its sales support: referred, and still
        # waiting for an officer today.
        refer = HISTORY_DAYS - offset <= 3
        for number in range(wanted + refer):
            referral = refer and number == wanted
            merchant = self._free_merchant(day, waited=not referral)
            if merchant is None:
                continue
            with demo_clock(_at(day, 9 + number, self.random.randrange(60))):
                self._apply_for(merchant, day, refer=referral)

    def _free_merchant(self, day: datetime.date, *, waited: bool = True) -> Merchant | None:
        """A merchant with no application in progress, no loan being repaid and no fraud alert open or confirmed,
        that has not applied for a month (unless ``waited`` is False)."""
        candidates = self.merchants[:]
        self.random.shuffle(candidates)
        busy = {
            *Loan.objects.filter(state__in=(L.ACTIVE, L.OVERDUE, L.DEFAULTED)).values_list("merchant_id", flat=True),
            *FraudAlert.objects.exclude(status=FraudAlert.Status.CLEARED).values_list("merchant_id", flat=True),
            *LoanApplication.objects.filter(state__in=IN_PROGRESS_STATES).values_list("merchant_id", flat=True),
        }
        for merchant in candidates:
            last = self.applied_on.get(merchant.pk)
            if waited and last is not None and (day - last).days < DAYS_BETWEEN_APPLICATIONS:
                continue
            if merchant.pk not in busy:
                return merchant
        return None

    def _apply_for(self, merchant: Merchant, day: datetime.date, *, refer: bool) -> None:
        daily = merchant_average_daily_sales(merchant=merchant, as_of=day)
        if daily is None:
            return
        monthly = daily * 30
        if refer:
            code, share = "operating-loan", Decimal("2.2")
        else:
            code = self.random.choices(
                ["operating-loan", "instalment-loan", "short-term-working-capital", "sales-share-advance"],
                weights=[50, 20, 20, 10],
            )[0]
            # Mostly half a month to a month of sales; now and then far more than the sales support.
            share = Decimal(str(self.random.choice([0.4, 0.5, 0.6, 0.75, 0.9, 1.0, 1.2, 2.0])))
        product = self.products[code]
        # Asking for more than the sales support is how an application is referred: no cap on those.
        amount = _rounded(monthly * share, product, cap=None if refer else MAX_AMOUNT)
        if amount is None:
            return
        term = None
        if not product.is_sales_share:
            choices = {
                "operating-loan": [3, 6, 6, 9, 12, 12],
                "instalment-loan": [3, 6, 12],
                "short-term-working-capital": [14, 30, 30, 60, 90],
            }[code]
            term = self.random.choice([term for term in choices if term in product.allowed_terms])
        method = self.random.choice(product.repayment_methods)
        try:
            application = application_apply(
                merchant=merchant, product=product, amount=amount, term=term, repayment_method=method, by=merchant.owner
            )
        except (ApplicationError, ApplicationConflict):
            return  # refused before a decision (the product's terms, an application in progress): nothing to replay
        self.applied_on[merchant.pk] = day
        self.counts.applications += 1
        self.counts.outcomes[application.state] = self.counts.outcomes.get(application.state, 0) + 1
        if application.state == S.REFERRED and not refer:
            # An officer decides it a day or a few later; the last days' referrals are still waiting today.
            self.referred[application.pk] = day + datetime.timedelta(days=self.random.choice([1, 1, 2, 3]))
        elif application.state == S.APPROVED:
            self._consider(application, day)

    def _consider(self, application: LoanApplication, day: datetime.date) -> None:
        """Whether the merchant takes the offer: about half do, with the loans spread over the months (and the
        sales-share advances, repaid day by day, among the last months' loans)."""
        taken = self.counts.loans + sum(accepts for _day, accepts in self.offers.values())
        room = 2 + MAX_LOANS * (day - self.start).days / HISTORY_DAYS
        accepts = taken < min(room, MAX_LOANS) and self.random.random() < 0.6
        if application.product.is_sales_share:
            advances = Loan.objects.filter(repayment_method="sales_share").count()
            recent = (self.today - day).days <= SALES_SHARE_FROM_DAYS
            accepts = taken < MAX_LOANS and advances < MAX_SALES_SHARE and recent and self.random.random() < 0.9
        self.offers[application.pk] = (day + datetime.timedelta(days=self.random.choice([0, 1, 2])), accepts)

    def _decide_referred(self, day: datetime.date) -> None:
        for pk, on in list(self.referred.items()):
            if on != day:
                continue
            del self.referred[pk]
            application = LoanApplication.objects.select_related("decision", "product").get(pk=pk)
            if application.state != S.REFERRED:
                continue
            choice = self.random.random()
            with demo_clock(_at(day, 11, self.random.randrange(60))):
                if choice < 0.45:
                    application = application_approve(
                        application=application, by=self.officer, note="Sales history checked by phone."
                    )
                elif choice < 0.7 and self._counter_offer(application):
                    application = LoanApplication.objects.get(pk=pk)
                else:
                    application_decline(
                        application=application, by=self.officer, reason=self.random.choice(OFFICER_DECLINES)
                    )
                    continue
            if application.state == S.APPROVED:
                self._consider(application, day)

    def _counter_offer(self, application: LoanApplication) -> bool:
        """Offer what the sales support (the decision's credit line), at the decided grade's price."""
        product = application.product
        decision = application.decision
        line = decision.credit_line if decision is not None else Decimal(0)
        amount = _rounded(min(line, application.amount * Decimal("0.7")), product)
        if amount is None or amount >= application.amount:
            return False
        grade = decision.grade if decision is not None and decision.grade else "C"
        try:
            application_counter_offer(
                application=application,
                by=self.officer,
                amount=amount,
                term=application.term,
                price=product.price_for(grade),
                repayment_method=application.repayment_method,
                note="A smaller amount, within what the sales support.",
            )
        except (ApplicationError, ApplicationConflict):
            return False
        return True

    def _act_on_offers(self, day: datetime.date) -> None:
        for pk, (on, accepts) in list(self.offers.items()):
            if on != day:
                continue
            del self.offers[pk]
            application = LoanApplication.objects.select_related("merchant__owner").get(pk=pk)
            if application.state != S.APPROVED:
                continue
            owner = application.merchant.owner
            if not accepts:
                # Some merchants say no; the others let the offer lapse (the nightly job expires it).
                if self.random.random() < 0.3:
                    with demo_clock(_at(day, 13)):
                        application_withdraw(application=application, by=owner, reason="Not needed any more.")
                continue
            with demo_clock(_at(day, 14, self.random.randrange(30))):
                self._take(application, owner, day)

    def _take(self, application: LoanApplication, owner: User, day: datetime.date) -> None:
        """Accept, sign and be paid out, each step through its service (the tasks they queue find the work done)."""
        application_accept(application=application, by=owner)
        if self.lenders_answer is not None:
            # Partner banks offered the loan answer now (the caller plays them), so that the contract names them.
            self.lenders_answer(application)
        if LoanApplication.objects.filter(pk=application.pk, lenders_settled_at__isnull=True).exists():
            return  # still with a partner bank: the contract waits for its answer
        contract = contract_prepare(application_id=application.pk) or contract_newest(application=application)
        if contract.status == Contract.Status.RENDERING:
            contract = contract_render(contract_id=contract.pk)
        contract_sign(
            contract=contract,
            by=owner,
            ip="203.0.113.10",
            user_agent="Mozilla/5.0 (demo history)",
            consent=True,
            reauthenticated_with="password",
        )
        loan = application_fund(application=LoanApplication.objects.get(pk=application.pk))
        if loan is None:
            return
        disbursement_send(disbursement_id=loan.disbursement.pk)
        self.counts.loans += 1
        if loan.repayment_method != "sales_share":
            self.borrowers[loan.pk] = self._habit(loan, day)

    def _habit(self, loan: Loan, day: datetime.date) -> _Borrower:
        """How this loan will be repaid: two old loans stop paying (in time to default by today), two fall behind
        lately (the collections queue), about one in seven of the rest pays late, the others on the day."""
        habits = [borrower.habit for borrower in self.borrowers.values()]
        due_dates = list(loan.instalments.order_by("number").values_list("due_date", flat=True))
        default_after = int(loan.terms.get("default_after_days_past_due") or 90)
        if habits.count("stops") < 2:
            # It pays none, or one, of the instalments and stops early enough to be defaulted by today.
            paid = [
                number
                for number in range(len(due_dates))
                if due_dates[number] + datetime.timedelta(days=default_after + 3) <= self.today
            ]
            if paid:
                return _Borrower(loan.pk, "stops", pays_instalments=min(max(paid), 1))
        recent = [due for due in due_dates if 6 <= (self.today - due).days <= 60]
        if recent and habits.count("behind") < 2 and self.random.random() < 0.6:
            return _Borrower(loan.pk, "behind", behind_since=self.random.choice(recent))
        if self.random.random() < 0.15:
            return _Borrower(loan.pk, "late", days_late=self.random.choice([5, 8, 12, 20]))
        return _Borrower(loan.pk, "prompt")

    def _review_alerts(self, day: datetime.date) -> None:
        """An officer looks into each fraud alert: a shared identity is confirmed, anything else cleared after a
        call; the alerts of the last fortnight are still open (the officers' queue)."""
        if (self.today - day).days < ALERTS_LEFT_OPEN_DAYS:
            return
        raised_by = _at(day - datetime.timedelta(days=ALERT_REVIEW_DAYS), 23, 59)
        for alert in FraudAlert.objects.filter(status=FraudAlert.Status.OPEN, created_at__lte=raised_by):
            with demo_clock(_at(day, 10)):
                if alert.signal in (FraudSignal.SHARED_ID_NUMBER, FraudSignal.SHARED_BANK_ACCOUNT):
                    fraud_alert_confirm(
                        alert=alert,
                        by=self.officer,
                        note="Same legal representative and account as another merchant's: not a separate business.",
                    )
                else:
                    fraud_alert_clear(
                        alert=alert, by=self.officer, note="Called the owner: the applications were the shop's own."
                    )

    # Repayments, collections and deferrals.

    def _repay(self, day: datetime.date) -> None:
        """Each borrower sends what is due when its habit says; an officer records the bank transfer that day."""
        if not self.borrowers:
            return
        oldest = {}
        for loan_id, number, due_date in (
            Instalment.objects.filter(loan_id__in=self.borrowers, status__in=UNPAID, due_date__lte=day)
            .order_by("loan_id", "number")
            .values_list("loan_id", "number", "due_date")
        ):
            oldest.setdefault(loan_id, (number, due_date))
        for loan_id, (number, due_date) in oldest.items():
            borrower = self.borrowers[loan_id]
            if borrower.habit == "late" and day < due_date + datetime.timedelta(days=borrower.days_late):
                continue
            if borrower.habit == "stops" and number > borrower.pays_instalments:
                continue
            if borrower.habit == "behind" and due_date >= borrower.behind_since:
                continue
            loan = Loan.objects.get(pk=loan_id)
            if loan.state not in (L.ACTIVE, L.OVERDUE):
                continue
            with demo_clock(_at(day, 16, self.random.randrange(60))):
                amount = amount_due_now(loan=loan, on=day)
                if amount <= 0:
                    continue
                transfer = bank_transfer_record(
                    loan=loan,
                    amount=amount,
                    received_on=day,
                    bank_reference=f"DEMO-{loan_id}-{day:%Y%m%d}",
                    by=self.officer,
                    note="Transfer from the merchant's account, as on the bank statement.",
                )
                if transfer.status == BankTransfer.Status.AWAITING_APPROVAL:
                    bank_transfer_approve(transfer=transfer, by=self.senior)
            self.counts.transfers += 1

    def _call_merchants_in_arrears(self, day: datetime.date) -> None:
        """An officer calls each merchant in arrears a few days in, then every couple of weeks."""
        in_arrears = Loan.objects.filter(pk__in=self.borrowers, state__in=(L.OVERDUE, L.DEFAULTED))
        for loan in in_arrears.filter(days_past_due__in=(5, 19, 33, 61, 95)):
            owed = amount_due_now(loan=loan, on=day)
            promise = loan.state == L.OVERDUE and owed > 0 and self.random.random() < 0.6
            with demo_clock(_at(day, 11, 30)):
                collection_contact_record(
                    loan=loan,
                    by=self.officer,
                    channel=self.random.choice([CollectionContact.Channel.PHONE, CollectionContact.Channel.SMS]),
                    outcome=CollectionContact.Outcome.PROMISE_TO_PAY
                    if promise
                    else CollectionContact.Outcome.NO_ANSWER,
                    promised_amount=owed if promise else None,
                    promised_on=day + datetime.timedelta(days=7) if promise else None,
                    note="Called about the overdue instalment." if promise else "No answer; a text message was sent.",
                )
            self.counts.contacts += 1

    def _ask_for_deferrals(self, day: datetime.date, *, last_days: int) -> None:
        """Now and then a merchant paying its loan asks to move its next instalment (an officer decides the next
        day); each of the last four days one more asks, and those requests are waiting for an officer."""
        waiting = last_days <= PENDING_DEFERRAL_DAYS
        if not waiting and not ((day - self.start).days > 50 and self.random.random() < 0.05):
            return
        pending = set(
            DeferralRequest.objects.filter(status=DeferralRequest.Status.PENDING).values_list("loan_id", flat=True)
        )
        for loan_id, borrower in self.borrowers.items():
            if borrower.habit == "stops" or loan_id in pending:
                continue
            loan = Loan.objects.select_related("merchant__owner").get(pk=loan_id)
            rule = deferral_rule(loan=loan)
            upcoming = (
                Instalment.objects.filter(loan=loan, status=Instalment.Status.DUE, due_date__gte=day)
                .order_by("number")
                .first()
            )
            if loan.state != L.ACTIVE or rule.per_loan <= 0 or upcoming is None:
                continue
            if not 4 <= (upcoming.due_date - day).days <= 30:
                continue
            window = deferral_window(instalment=upcoming)
            with demo_clock(_at(day, 15)):
                try:
                    request = deferral_request(
                        loan=loan,
                        instalment=upcoming,
                        new_due_date=min(window.latest, upcoming.due_date + datetime.timedelta(days=10)),
                        reason=self.random.choice(DEFERRAL_REASONS),
                        by=loan.merchant.owner,
                    )
                except (ValidationError, DeferralConflict):
                    continue  # the loan's terms or state do not allow it today: the merchant is told so
            self.counts.deferrals += 1
            if not waiting:
                self.deferrals_to_decide[request.pk] = day + datetime.timedelta(days=1)
            return

    def _decide_deferrals(self, day: datetime.date) -> None:
        for pk, on in list(self.deferrals_to_decide.items()):
            if on != day:
                continue
            del self.deferrals_to_decide[pk]
            request = DeferralRequest.objects.get(pk=pk)
            with demo_clock(_at(day, 10, 30)):
                if self.random.random() < 0.7:
                    # No longer deferrable (paid early, say): the request stays pending, as the service leaves it.
                    with contextlib.suppress(DeferralConflict):
                        deferral_approve(request=request, by=self.officer, note="One deferral, as the contract allows.")
                else:
                    deferral_refuse(
                        request=request,
                        by=self.officer,
                        note="The instalment is small against your sales; please pay it on the day.",
                    )


def _rounded(amount: Decimal, product: LoanProduct, *, cap: Decimal | None = MAX_AMOUNT) -> Decimal | None:
    """An amount as a merchant asks for one (whole thousands, or hundreds below ten thousand), within the product
    and at most ``cap``."""
    step = Decimal(1000) if amount >= 10000 else Decimal(100)
    amount = (amount / step).to_integral_value(rounding=ROUND_DOWN) * step
    amount = min(amount, product.amount_max, cap or product.amount_max)
    if amount < product.amount_min:
        return None
    return amount.quantize(Decimal("0.01"))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


# Entry points.


def demo_history_record() -> AuditEvent | None:
    """The audit row that says the history was replayed (and up to which day), or None."""
    return AuditEvent.objects.filter(action=HISTORY_ACTION).order_by("pk").first()


def demo_history_replay(
    *,
    merchants: Sequence[Merchant],
    officer: User,
    senior: User,
    seed: int,
    today: datetime.date | None = None,
    lenders_answer: Callable[[LoanApplication], None] | None = None,
) -> HistoryCounts | None:
    """Replay the history before ``today`` with ``merchants`` as the borrowers; None when it was replayed before.

    ``lenders_answer`` plays the partner banks: called with each application just accepted, it answers the
    offers made to them (the demo's sandbox partner does), so that co-funded loans are part of the history.

    Invariant: all or nothing, once. The replay is one transaction that ends with its ``demo.history`` audit row;
    finding that row, it does nothing.
    """
    if demo_history_record() is not None:
        return None
    today = today or timezone.localdate()
    scorecard = Scorecard.objects.filter(state=ScorecardState.ACTIVE).first()
    if scorecard is None:
        raise LookupError("The demo's history is decided by the engine: activate a scorecard first.")
    # The past's emails are not sent now; the notices stay in the merchants' inboxes. The tasks the services queue
    # run when the replay commits and find their work done; what they log about it is not news.
    with (
        _quiet(),
        override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
        transaction.atomic(),
    ):
        replay = _Replay(
            merchants=merchants,
            officer=officer,
            senior=senior,
            today=today,
            seed=seed,
            lenders_answer=lenders_answer,
        )
        counts = replay.run()
        audit_record(
            subject=scorecard,
            action=HISTORY_ACTION,
            reason="Demo data: six months of lending replayed through the services by the demo loader.",
            data={
                "from": replay.start.isoformat(),
                "through": today.isoformat(),
                "seed": seed,
                "applications": counts.applications,
                "loans": counts.loans,
            },
        )
    return counts


def demo_days_catch_up(*, today: datetime.date | None = None) -> int:
    """Run the nightly jobs for the days since the demo last ran them, up to ``today``; returns how many days.

    The demo has no beat: a load on a later day does what beat would have done in between, one day after the other,
    each at its own 01:00. Recorded by a ``demo.days`` audit row on the history's scorecard, so running it again the
    same day does nothing.
    """
    record = demo_history_record()
    if record is None:
        return 0
    today = today or timezone.localdate()
    last = (
        AuditEvent.objects.filter(action__in=(HISTORY_ACTION, DAYS_ACTION), object_id=record.object_id)
        .order_by("-pk")
        .values_list("data", flat=True)
        .first()
    )
    through = datetime.date.fromisoformat(last["through"])
    days = (today - through).days
    if days <= 0:
        return 0
    with _quiet(), override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for offset in range(1, days + 1):
            day = through + datetime.timedelta(days=offset)
            with demo_clock(min(_at(day, 1), timezone.now())), transaction.atomic():
                for _run in scheduled_day_run(on=day, only=NIGHTLY_JOBS):
                    pass
        audit_record(
            subject=record.subject,
            action=DAYS_ACTION,
            reason="Demo data: the nightly jobs for the days since the demo last ran them.",
            data={"from": (through + datetime.timedelta(days=1)).isoformat(), "through": today.isoformat()},
        )
    return days


__all__ = [
    "HISTORY_DAYS",
    "HistoryCounts",
    "demo_clock",
    "demo_days_catch_up",
    "demo_history_record",
    "demo_history_replay",
]
