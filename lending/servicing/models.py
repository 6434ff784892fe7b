"""Loans, their schedules and their one disbursement; and the concessions a second officer must approve.

Loan: pending_disbursement -> active <-> overdue -> paid_off | defaulted -> written_off | recovered,
written_off -> recovered (everything written off was collected after all).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import ExpressionWrapper, F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, transition

from core.money import MoneyField
from lending.catalogue.models import RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, LoanProduct, RepaymentMethodChoice
from merchants.models import Merchant


class LoanState(models.TextChoices):
    PENDING_DISBURSEMENT = "pending_disbursement", _("Awaiting payout")
    ACTIVE = "active", _("Active")
    OVERDUE = "overdue", _("Overdue")
    PAID_OFF = "paid_off", _("Paid off")
    DEFAULTED = "defaulted", _("Defaulted")
    WRITTEN_OFF = "written_off", _("Written off")
    RECOVERED = "recovered", _("Recovered")


L = LoanState


def _paid_off_or_recovered(loan: Loan) -> str:
    # A written-off loan whose every line is paid after all was recovered, not paid off: the book lost it once.
    return L.RECOVERED if loan.state == L.WRITTEN_OFF else L.PAID_OFF


class Loan(ConcurrentTransitionMixin, models.Model):
    """Money lent on a signed contract, with the terms fixed at signing."""

    application = models.OneToOneField("lending.LoanApplication", on_delete=models.PROTECT, related_name="loan")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    principal = MoneyField(_("principal"))
    term = models.PositiveSmallIntegerField(_("term"))
    term_unit = models.CharField(_("term unit"), max_length=10)
    repayment_method = models.CharField(_("repayment method"), max_length=20, choices=RepaymentMethodChoice.choices)
    grade = models.CharField(_("risk grade"), max_length=1)
    # The probability of default of the decision the loan was approved on, kept with the loan when it is booked
    # (like its grade), so the risk book reads it without going back through the application to the decision.
    probability_of_default = models.DecimalField(
        _("probability of default at approval"), max_digits=7, decimal_places=6, null=True, blank=True, editable=False
    )
    price = models.DecimalField(_("price"), max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    apr = models.DecimalField(_("APR (%)"), max_digits=7, decimal_places=2)
    net_disbursement = MoneyField(_("paid out"))
    terms = models.JSONField(_("terms"), default=dict, help_text=_("The signed contract's terms."))
    start_date = models.DateField(_("start date"))
    maturity_date = models.DateField(_("maturity date"))
    state = FSMField(_("state"), default=L.PENDING_DISBURSEMENT, choices=L.choices, protected=True, db_index=True)
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    # Money received beyond what was due, held for the next instalment.
    credit_balance = MoneyField(_("credit held"), default=0)
    # The last day the daily servicing jobs processed this loan: running a job twice on a day changes nothing.
    serviced_on = models.DateField(_("serviced on"), null=True, blank=True)
    defaulted_at = models.DateTimeField(_("defaulted at"), null=True, blank=True)
    # What the write-off took off the book, by component, as outstanding when a second officer approved it.
    # Money received afterwards is a recovery (``lending.servicing.selectors.portfolio``); these never change.
    written_off_at = models.DateTimeField(_("written off at"), null=True, blank=True)
    written_off_principal = MoneyField(_("principal written off"), default=0)
    written_off_interest = MoneyField(_("interest written off"), default=0)
    written_off_fees = MoneyField(_("fees written off"), default=0)
    written_off_penalties = MoneyField(_("late fees written off"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("paid out at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Fraud, not credit: an officer found the merchant took the money and ran (``services.fraud.loan_mark_fraud``).
    # The loan is serviced as before; its loss is reported apart from credit losses (``selectors.portfolio``).
    fraud_marked_at = models.DateTimeField(_("marked as fraud at"), null=True, blank=True)
    fraud_marked_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("marked as fraud by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fraud_reason = models.TextField(_("why it is fraud"), blank=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "state"]),
            models.Index(fields=["state", "days_past_due"]),
            # The back office's list at millions of rows: its order, and each filter followed by that order
            # (lending.servicing.admin.loans).
            models.Index(fields=["-created_at", "-id"], name="loan_newest_first"),
            models.Index(fields=["state", "-created_at"], name="loan_state_newest"),
            models.Index(fields=["product", "-created_at"], name="loan_product_newest"),
            models.Index(fields=["repayment_method", "-created_at"], name="loan_method_newest"),
        ]
        permissions = [("mark_loan_fraud", "Can mark a loan as fraud")]

    def __str__(self) -> str:
        return f"{_('Loan')} #{self.pk} {self.merchant} {self.principal}"

    @transition(field=state, source=L.PENDING_DISBURSEMENT, target=L.ACTIVE)
    def activate(self) -> None:
        self.activated_at = timezone.now()

    @transition(field=state, source=L.ACTIVE, target=L.OVERDUE)
    def mark_overdue(self) -> None:
        pass

    @transition(field=state, source=L.OVERDUE, target=L.ACTIVE)
    def cure(self) -> None:
        self.days_past_due = 0

    @property
    def written_off_total(self) -> Decimal:
        return (
            self.written_off_principal + self.written_off_interest + self.written_off_fees + self.written_off_penalties
        )

    # Everything paid: paid off, or recovered when the loan had been written off. The repayments service calls this
    # one transition whatever the loan was, so the state machine, not the caller, says which end it is.
    @transition(
        field=state,
        source=[L.ACTIVE, L.OVERDUE, L.WRITTEN_OFF],
        target=GET_STATE(_paid_off_or_recovered, states=[L.PAID_OFF, L.RECOVERED]),
    )
    def pay_off(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=L.OVERDUE, target=L.DEFAULTED)
    def default(self) -> None:
        self.defaulted_at = timezone.now()

    @transition(field=state, source=L.DEFAULTED, target=L.WRITTEN_OFF)
    def write_off(self, *, principal: Decimal, interest: Decimal, fees: Decimal, penalties: Decimal) -> None:
        self.written_off_at = self.closed_at = timezone.now()
        self.written_off_principal = principal
        self.written_off_interest = interest
        self.written_off_fees = fees
        self.written_off_penalties = penalties

    @transition(field=state, source=L.DEFAULTED, target=L.RECOVERED)
    def recover(self) -> None:
        self.closed_at = timezone.now()


# An instalment's components, in the order the schedule shows them; each has a ``<component>_due`` and a
# ``<component>_paid`` field. What is owed on an instalment is the sum of due less paid over all four.
INSTALMENT_COMPONENTS = ("principal", "interest", "fee", "penalty")


def instalment_owed_expression(prefix: str = "") -> models.Expression:
    """What is still owed on an instalment, as a database expression (``prefix`` is a path to the instalment, such
    as ``"instalments__"`` from a loan). The one definition every query uses, like ``Instalment.owed`` in Python.

    Exact on SQLite too: the database adds two-decimal amounts in binary floating point, and the money field's
    converter rounds the result back to the fen, which recovers the exact sum for any amount below 10^13 yuan.
    """
    terms = [F(f"{prefix}{component}_due") - F(f"{prefix}{component}_paid") for component in INSTALMENT_COMPONENTS]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return ExpressionWrapper(total, output_field=MoneyField())


class InstalmentQuerySet(models.QuerySet):
    def with_owed(self) -> InstalmentQuerySet:
        """Annotate each instalment with ``owed``: what is still owed on it (``instalment_owed_expression``)."""
        return self.annotate(owed=instalment_owed_expression())


class Instalment(models.Model):
    """One line of a loan's repayment schedule: what is due when, and what has been paid of it."""

    class Status(models.TextChoices):
        DUE = "due", _("Due")
        PARTLY_PAID = "partly_paid", _("Partly paid")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    principal_due = MoneyField(_("principal"))
    interest_due = MoneyField(_("interest"))
    fee_due = MoneyField(_("fee"))
    principal_paid = MoneyField(_("principal paid"), default=0)
    interest_paid = MoneyField(_("interest paid"), default=0)
    fee_paid = MoneyField(_("fee paid"), default=0)
    # Late fees charged on this instalment by the daily job, and what has been paid of them.
    penalty_due = MoneyField(_("late fees"), default=0)
    penalty_paid = MoneyField(_("late fees paid"), default=0)
    paid_on = models.DateField(_("paid in full on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DUE)

    objects = InstalmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        ordering = ["loan", "number"]
        constraints = [models.UniqueConstraint(fields=["loan", "number"], name="one_instalment_per_number")]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            # The nightly job's chunks read a range of loans' instalments in one status (overdue, due): this keeps
            # that read to the chunk's own rows whatever the statistics say of the status's share of the book.
            models.Index(fields=["status", "loan"], name="instalment_status_loan"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id}/{self.number} {self.due_date}"

    @property
    def payment_due(self) -> Decimal:
        """The scheduled payment: principal, interest and fee due (late fees are charged apart)."""
        return self.principal_due + self.interest_due + self.fee_due

    def owed(self, component: str | None = None) -> Decimal:
        """What is still owed: of one component (``"principal"``, ``"interest"``, ``"fee"``, ``"penalty"``) or of all.

        The Python twin of ``instalment_owed_expression``.
        """
        components = INSTALMENT_COMPONENTS if component is None else (component,)
        return sum(
            (getattr(self, f"{name}_due") - getattr(self, f"{name}_paid") for name in components), Decimal("0.00")
        )


class Disbursement(models.Model):
    """The one payout of a loan to the merchant's settlement account.

    Exactly one per loan (unique constraint), sent to the bank rail with an idempotency key that never
    changes, so a retry after a crash or a timeout can never pay twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Paid out")
        FAILED = "failed", _("Failed")

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="disbursement")
    amount = MoneyField(_("amount"))
    account_name = models.CharField(_("account name"), max_length=200)
    account_number = models.CharField(_("account number"), max_length=34)
    bank_name = models.CharField(_("bank"), max_length=100)
    # A co-funded loan's partners' parts of the payout, each debited from the partner's funding account:
    # [{"lender", "amount", "account_number", "account_name", "bank_name"}]; empty when the platform lends alone.
    funding_legs = models.JSONField(_("funding legs"), default=list, blank=True, editable=False)
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    rail_reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the latest attempt was handed to the rail: a payout still "sending" long after this was interrupted
    # (a timeout, a killed worker) and is settled by the reconcile job, never sent twice by a second worker.
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("disbursement")
        verbose_name_plural = _("disbursements")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "last_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.amount} ({self.get_status_display()})"


class PaymentSource(models.TextChoices):
    # Money comes only from a rail or an officer: a collection the rail confirmed, the platform's withholding of a
    # share of daily sales, or a bank transfer an officer recorded with its bank reference. ``portal`` and ``api``
    # are payments merchants once recorded themselves; nothing makes them any more.
    COLLECTION = "collection", _("Collected from settlements")
    SALES_SHARE = "sales_share", _("Share of daily sales")
    OFFICER = "officer", _("Bank transfer recorded by an officer")
    PORTAL = "portal", _("Paid in the portal (before collections)")
    API = "api", _("Posted through the API (before collections)")


class Payment(models.Model):
    """Money received for a loan; idempotent by its reference on the loan. Allocations say where it went."""

    class Kind(models.TextChoices):
        REGULAR = "regular", _("Repayment")
        PARTIAL_PREPAYMENT = "partial_prepayment", _("Partial prepayment")
        FULL_PAYOFF = "full_payoff", _("Full payoff")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payments")
    amount = MoneyField(_("amount"))
    received_on = models.DateField(_("received on"))
    source = models.CharField(_("source"), max_length=12, choices=PaymentSource.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.REGULAR)
    external_reference = models.CharField(_("external reference"), max_length=64)
    recorded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["loan", "received_on", "id"]
        constraints = [
            # A reference is the payer's own, unique on its loan: one merchant's references never touch another's.
            models.UniqueConstraint(
                fields=["loan", "source", "external_reference"], name="one_payment_per_loan_reference"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.amount} {self.received_on}"


class Allocation(models.Model):
    """Where part of a payment went: a component of one instalment, or the loan's credit balance."""

    class Component(models.TextChoices):
        FEE = "fee", _("Fee")
        PENALTY = "penalty", _("Late fee")
        INTEREST = "interest", _("Interest")
        PRINCIPAL = "principal", _("Principal")
        CREDIT = "credit", _("Held as credit")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    instalment = models.ForeignKey(
        Instalment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    component = models.CharField(_("component"), max_length=10, choices=Component.choices)
    amount = MoneyField(_("amount"))

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        ordering = ["payment", "id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.component} {self.amount}"


class Reminder(models.Model):
    """A reminder sent about one instalment; one of each kind, ever (the unique constraint makes it so)."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("Due in three days")
        DUE_TODAY = "due_today", _("Due today")
        OVERDUE_1 = "overdue_1", _("One day overdue")
        OVERDUE_7 = "overdue_7", _("A week overdue")
        OVERDUE_30 = "overdue_30", _("A month overdue")

    instalment = models.ForeignKey(Instalment, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    sent_on = models.DateField(_("sent on"))

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [models.UniqueConstraint(fields=["instalment", "kind"], name="one_reminder_per_kind")]

    def __str__(self) -> str:
        return f"{self.instalment} {self.kind}"


class SalesShareDeduction(models.Model):
    """One day's deduction from a sales-share advance: the agreed share of that day's gross sales."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="sales_deductions")
    sales_date = models.DateField(_("sales date"))
    gross_sales = MoneyField(_("gross sales"))
    amount = MoneyField(_("deducted"))
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("sales-share deduction")
        verbose_name_plural = _("sales-share deductions")
        ordering = ["loan", "sales_date"]
        constraints = [models.UniqueConstraint(fields=["loan", "sales_date"], name="one_deduction_per_day")]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.sales_date} {self.amount}"


class DeferralRequest(models.Model):
    """A merchant's request to move one instalment later (flexible repayment), decided by an officer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for an officer")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="deferral_requests")
    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="deferral_requests")
    requested_due_date = models.DateField(_("new due date asked for"))
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("officer's note"), blank=True)

    class Meta:
        verbose_name = _("deferral request")
        verbose_name_plural = _("deferral requests")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["instalment"], condition=models.Q(status="pending"), name="one_pending_deferral_per_instalment"
            )
        ]
        permissions = [("decide_deferral", "Can approve or refuse a deferral request")]

    def __str__(self) -> str:
        return f"{self.loan_id}/{self.instalment_id} → {self.requested_due_date}"


class CollectionContact(models.Model):
    """One contact with a merchant about an overdue loan: the collections history officers work from."""

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone call")
        SMS = "sms", _("Text message")
        EMAIL = "email", _("Email")
        VISIT = "visit", _("Visit")

    class Outcome(models.TextChoices):
        PROMISE_TO_PAY = "promise_to_pay", _("Promised to pay")
        NO_ANSWER = "no_answer", _("No answer")
        DISPUTE = "dispute", _("Disputes the debt")
        HARDSHIP = "hardship", _("In hardship")
        OTHER = "other", _("Other")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collection_contacts")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    promised_amount = MoneyField(_("promised amount"), null=True, blank=True)
    promised_on = models.DateField(_("promised for"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    contacted_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    contacted_at = models.DateTimeField(_("contacted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("collections contact")
        verbose_name_plural = _("collections contacts")
        ordering = ["-contacted_at"]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.channel} {self.outcome}"


class RestructureProposal(models.Model):
    """An officer's new schedule for a loan in difficulty; it takes effect only when the merchant accepts it.

    One below the product's price grid, or forgiving fees or late fees, first waits for a second officer
    (``awaiting_approval``, a ``Concession``): the merchant sees it only once it is approved (``proposed``).
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting second approval")
        PROPOSED = "proposed", _("Waiting for the merchant")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined by the merchant")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        REJECTED = "rejected", _("Rejected by a second officer")

    # Open: the loan can have one of these at a time, and it blocks a new proposal.
    OPEN_STATUSES = (Status.AWAITING_APPROVAL, Status.PROPOSED)
    # What the merchant may see: never a proposal no second officer has approved.
    SHOWN_TO_MERCHANT = (Status.PROPOSED, Status.ACCEPTED, Status.DECLINED, Status.WITHDRAWN)

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="restructure_proposals")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PROPOSED)
    # The outstanding balance re-scheduled: new term, rate and first due date, and the schedule they make.
    terms = models.JSONField(_("new terms"), default=dict)
    schedule = models.JSONField(_("new schedule"), default=list)
    reason = models.TextField(_("reason"))
    proposed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("restructure proposal")
        verbose_name_plural = _("restructure proposals")
        ordering = ["-proposed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"],
                condition=models.Q(status__in=["awaiting_approval", "proposed"]),
                name="one_open_restructure_per_loan",
            )
        ]
        permissions = [("propose_restructure", "Can propose a new schedule for a loan")]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.get_status_display()}"

    @property
    def concession_pending(self) -> bool:
        return self.status == self.Status.AWAITING_APPROVAL


class CollectionRequest(ConcurrentTransitionMixin, models.Model):
    """A merchant's "pay now": money asked of the rail, a payment only once the rail confirms it.

    requested -> pending (the rail accepted it) -> confirmed (booked as a payment) | failed; requested -> failed
    (the rail refused it). At most one open (requested or pending) per loan.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PENDING = "pending", _("Pending at the rail")
        CONFIRMED = "confirmed", _("Confirmed")
        FAILED = "failed", _("Failed")

    class Purpose(models.TextChoices):
        DUE = "due", _("What is due now")
        OTHER = "other", _("Another amount")
        PAYOFF = "payoff", _("Pay off in full")
        PREPAY = "prepay", _("Repay part early")

    OPEN = (Status.REQUESTED, Status.PENDING)

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collection_requests")
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    keep = models.CharField(_("after repaying early, keep"), max_length=12, blank=True)
    amount = MoneyField(_("amount"))
    # The payer's reference (the pay form's token, or the API client's), unique on the loan.
    reference = models.CharField(_("your reference"), max_length=64)
    # Ours, sent to the rail: the rail keeps one collection per key, so asking again never takes twice.
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    status = FSMField(_("status"), default=Status.REQUESTED, choices=Status.choices, protected=True, db_index=True)
    rail_reference = models.CharField(_("rail reference"), max_length=64, blank=True)
    failure_reason = models.CharField(_("why it failed"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_on = models.DateField(_("requested on"))
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    payment = models.OneToOneField(
        "Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="collection_request"
    )

    class Meta:
        verbose_name = _("collection request")
        verbose_name_plural = _("collection requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "reference"], name="one_collection_per_loan_reference"),
            models.UniqueConstraint(
                fields=["loan"],
                condition=models.Q(status__in=["requested", "pending"]),
                name="one_open_collection_per_loan",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="collection_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.amount} {self.get_status_display()}"

    @transition(field=status, source=Status.REQUESTED, target=Status.PENDING)
    def accept(self) -> None:
        """The rail accepted the request; the money comes with the next settlement."""

    @transition(field=status, source=[Status.REQUESTED, Status.PENDING], target=Status.CONFIRMED)
    def confirm(self) -> None:
        self.settled_at = timezone.now()

    @transition(field=status, source=[Status.REQUESTED, Status.PENDING], target=Status.FAILED)
    def fail(self) -> None:
        self.settled_at = timezone.now()


class BankTransfer(ConcurrentTransitionMixin, models.Model):
    """Money a merchant sent by bank transfer, recorded by an officer from the bank statement with its reference.

    Booked at once up to ``BANK_TRANSFER_FOUR_EYES_AMOUNT``; above it, a second officer approves before it books.
    awaiting_approval -> booked | rejected; a transfer at or below the amount is booked when recorded.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting", _("Awaiting a second officer")
        BOOKED = "booked", _("Booked")
        REJECTED = "rejected", _("Rejected")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="bank_transfers")
    amount = MoneyField(_("amount"))
    received_on = models.DateField(_("received on"))
    # The bank's reference for the credit to our account: one booking per bank credit, whichever loan.
    bank_reference = models.CharField(_("bank reference"), max_length=64, unique=True)
    note = models.TextField(_("note"), blank=True)
    status = FSMField(_("status"), default=Status.AWAITING_APPROVAL, choices=Status.choices, protected=True)
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("why it was rejected"), blank=True)
    payment = models.OneToOneField(
        "Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="bank_transfer"
    )

    class Meta:
        verbose_name = _("bank transfer")
        verbose_name_plural = _("bank transfers")
        ordering = ["-recorded_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="bank_transfer_amount_positive")]
        permissions = [
            ("record_bank_transfer", "Can record a merchant's bank transfer"),
            ("approve_bank_transfer", "Can give the second approval of a large bank transfer"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_reference} {self.amount}"

    @transition(field=status, source=Status.AWAITING_APPROVAL, target=Status.BOOKED)
    def book(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=status, source=Status.AWAITING_APPROVAL, target=Status.REJECTED)
    def reject(self) -> None:
        self.decided_at = timezone.now()


class Concession(ConcurrentTransitionMixin, models.Model):
    """A concession one officer (the maker) asks for, which takes effect only when a second officer approves it.

    Three kinds: a counter-offer priced below the product's grid for the grade, a restructure below the grid or
    forgiving fees or late fees, and every write-off. Until a different officer holding
    ``lending.second_approve_concession`` approves, nothing changes for the merchant: the application stays referred,
    the restructure proposal waits unseen, the defaulted loan stays defaulted. ``terms`` is what the maker asked
    for, as the checker reads it. The services in ``lending.servicing.services.concessions`` (and the kind's own
    module) lock, check maker != checker, apply and audit; the transitions here only set fields.
    """

    class Kind(models.TextChoices):
        COUNTER_OFFER = "counter_offer", _("Counter-offer below the price grid")
        RESTRUCTURE = "restructure", _("Restructure below the grid or forgiving fees")
        WRITE_OFF = "write_off", _("Write-off")

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting second approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = FSMField(_("status"), default=Status.PENDING, choices=Status.choices, protected=True, db_index=True)
    # What it changes: the application (counter-offer), the loan (restructure, write-off) and its proposal.
    application = models.ForeignKey(
        "lending.LoanApplication", null=True, blank=True, on_delete=models.PROTECT, related_name="concessions"
    )
    loan = models.ForeignKey(Loan, null=True, blank=True, on_delete=models.PROTECT, related_name="concessions")
    restructure = models.OneToOneField(
        RestructureProposal, null=True, blank=True, on_delete=models.PROTECT, related_name="concession"
    )
    terms = models.JSONField(_("what is asked for"), default=dict)
    reason = models.TextField(_("maker's reason"))
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("checker's note"), blank=True)

    class Meta:
        verbose_name = _("concession")
        verbose_name_plural = _("concessions")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            # One pending concession per application, and per loan and kind: a second would race the first.
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(status="pending", application__isnull=False),
                name="one_pending_concession_per_application",
            ),
            models.UniqueConstraint(
                fields=["loan", "kind"],
                condition=models.Q(status="pending", loan__isnull=False),
                name="one_pending_concession_per_loan_and_kind",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="counter_offer", application__isnull=False, loan__isnull=True)
                    | models.Q(kind="restructure", loan__isnull=False, restructure__isnull=False)
                    | models.Q(kind="write_off", loan__isnull=False, restructure__isnull=True)
                ),
                name="concession_names_what_it_changes",
            ),
        ]
        permissions = [
            ("second_approve_concession", "Can approve or reject another officer's price concession or write-off")
        ]

    def __str__(self) -> str:
        subject = f"#{self.application_id}" if self.kind == self.Kind.COUNTER_OFFER else f"{_('Loan')} #{self.loan_id}"
        return f"{self.get_kind_display()} {subject} ({self.get_status_display()})"

    @transition(field=status, source=Status.PENDING, target=Status.APPROVED)
    def approve(self, *, by) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self, *, by, note: str) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()
        self.decision_note = note
