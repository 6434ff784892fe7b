"""Write-off is maker-checker and carries amounts; money collected afterwards is a recovery through the waterfall.

The loan: twelve monthly lines of 1,000.00 principal and 100.00 interest, started four months and five days ago, so
lines 1 to 4 are due and 5 to 12 are not. Line 1 is paid; line 2 has 300.00 principal and its interest paid and
12.34 of late fees; line 3 has a 5.55 fee and 20.00 of late fees; line 6 (not yet due) has a 7.00 fee. Outstanding
as a write-off counts it: principal 700.00 + 10 x 1,000.00 = 10,700.00; interest of lines 3 and 4 = 200.00;
fees of the due lines = 5.55; late fees 32.34; 10,937.89 in all.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from core.models import AuditEvent, Notice
from core.selectors.audit import audit_trail
from lending.catalogue.money.dates import add_months
from lending.servicing.models import Allocation, Concession, Instalment, Loan, LoanState, Payment, PaymentSource
from lending.servicing.selectors.portfolio import loan_write_off_figures, portfolio_figures
from lending.servicing.services.collections import (
    CollectionsConflict,
    loan_recovery_record,
    loan_write_off_approve,
    loan_write_off_reject,
    loan_write_off_request,
)
from lending.servicing.services.concessions import ConcessionConflict
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import make_loan, servicing_product_make

# The intermediate page's confirmation, with the note the officer leaves for the record.
CONFIRM = {"confirm": "1", "note": "Checked against the file."}

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.timedelta(days=1)
OUTSTANDING = {"principal": "10700.00", "interest": "200.00", "fees": "5.55", "penalties": "32.34", "total": "10937.89"}


def today() -> datetime.date:
    return timezone.localdate()


@pytest.fixture
def maker(senior_officer):
    # The maker holds the checker's permission too, so that only maker = checker can refuse them.
    return with_perms(senior_officer, "lending.change_loan", "lending.second_approve_concession")


@pytest.fixture
def checker(db):
    return make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)


@pytest.fixture
def defaulted(merchant):
    start = add_months(today(), -4) - 5 * DAY
    loan = make_loan(merchant, servicing_product_make(), start=start, state=LoanState.DEFAULTED)
    Loan.objects.filter(pk=loan.pk).update(days_past_due=120)
    lines = {row.number: row for row in loan.instalments.all()}
    assert lines[4].due_date < today() < lines[5].due_date
    Instalment.objects.filter(pk=lines[1].pk).update(
        principal_paid=D("1000.00"), interest_paid=D("100.00"), status=Instalment.Status.PAID, paid_on=start
    )
    Instalment.objects.filter(pk=lines[2].pk).update(
        principal_paid=D("300.00"), interest_paid=D("100.00"), penalty_due=D("12.34"), status="overdue"
    )
    Instalment.objects.filter(pk=lines[3].pk).update(fee_due=D("5.55"), penalty_due=D("20.00"), status="overdue")
    Instalment.objects.filter(pk=lines[4].pk).update(status="overdue")
    Instalment.objects.filter(pk=lines[6].pk).update(fee_due=D("7.00"))
    loan.refresh_from_db()
    return loan


def owed(loan: Loan) -> Decimal:
    return sum((row.owed() for row in loan.instalments.all()), D("0.00"))


def schedule(loan: Loan) -> list:
    return list(loan.instalments.order_by("number").values_list(*(f.attname for f in Instalment._meta.fields)))


@pytest.fixture
def requested(defaulted, maker):
    return loan_write_off_request(loan=defaulted, by=maker, reason="Merchant closed; no assets.")


# Asking.


def test_asking_leaves_the_loan_defaulted_and_shows_the_checker_what_is_outstanding(defaulted, maker, checker):
    before = schedule(defaulted)

    concession = loan_write_off_request(loan=defaulted, by=maker, reason="Merchant closed; no assets.")

    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED
    assert defaulted.written_off_at is None
    assert schedule(defaulted) == before
    assert (concession.kind, concession.status, concession.requested_by) == ("write_off", "pending", maker)
    assert concession.terms["amounts"] == OUTSTANDING
    event = audit_trail(defaulted).get()
    assert (event.action, event.actor, event.data["concession_id"]) == (
        "loan.write_off_request",
        maker,
        concession.pk,
    )
    notice = Notice.objects.get(user=checker, title="A write-off awaits your second approval")
    assert notice.url == reverse("admin:lending_concession_change", args=[concession.pk])
    assert not Notice.objects.filter(user=maker, title="A write-off awaits your second approval").exists()


def test_asking_needs_the_permission_and_a_reason_and_saves_nothing_otherwise(defaulted, maker, staff_without_role):
    with pytest.raises(PermissionDenied):
        loan_write_off_request(loan=defaulted, by=staff_without_role, reason="No assets")
    with pytest.raises(ValidationError) as error:
        loan_write_off_request(loan=defaulted, by=maker, reason="  ")
    assert list(error.value.message_dict) == ["reason"]
    assert not Concession.objects.exists()
    assert not audit_trail(defaulted).exists()


def test_only_a_defaulted_loan_is_written_off(merchant, maker):
    loan = make_loan(merchant, servicing_product_make(), state=LoanState.OVERDUE)

    with pytest.raises(CollectionsConflict, match="only a defaulted loan"):
        loan_write_off_request(loan=loan, by=maker, reason="Too early")
    assert not Concession.objects.exists()


def test_a_second_write_off_for_the_same_loan_waits_for_the_first(requested, defaulted, maker):
    with pytest.raises(ConcessionConflict, match="already waiting"):
        loan_write_off_request(loan=defaulted, by=maker, reason="Again")
    assert Concession.objects.count() == 1


# The second officer.


def test_the_maker_cannot_approve_their_own_write_off(requested, defaulted, maker):
    with pytest.raises(PermissionDenied, match="another officer"):
        loan_write_off_approve(concession=requested, by=maker)

    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED
    requested.refresh_from_db()
    assert requested.status == Concession.Status.PENDING


def test_an_officer_without_the_permission_cannot_approve(requested, defaulted, loan_officer):
    with pytest.raises(PermissionDenied, match="Only a senior officer"):
        loan_write_off_approve(concession=requested, by=with_perms(loan_officer, "lending.change_loan"))
    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED


def test_a_second_officer_approves_and_the_outstanding_amounts_are_booked_to_the_fen(requested, defaulted, checker):
    events_before = AuditEvent.objects.count()

    loan_write_off_approve(concession=requested, by=checker)

    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.WRITTEN_OFF
    assert (
        defaulted.written_off_principal,
        defaulted.written_off_interest,
        defaulted.written_off_fees,
        defaulted.written_off_penalties,
        defaulted.written_off_total,
    ) == (D("10700.00"), D("200.00"), D("5.55"), D("32.34"), D("10937.89"))
    assert defaulted.written_off_at is not None
    # One audit row, on the loan, by the checker, naming the maker and the amounts.
    assert AuditEvent.objects.count() == events_before + 1
    event = audit_trail(defaulted).get(action="loan.write_off")
    assert (event.actor, event.from_state, event.to_state, event.reason) == (
        checker,
        "defaulted",
        "written_off",
        "Merchant closed; no assets.",
    )
    assert event.data["amounts"] == OUTSTANDING
    assert (event.data["requested_by"], event.data["decided_by"]) == (requested.requested_by_id, checker.pk)
    requested.refresh_from_db()
    assert (requested.status, requested.decided_by) == ("approved", checker)
    # The balance is called in: what the merchant still owes is exactly what was written off, all due today.
    assert owed(defaulted) == D("10937.89")
    lines = {row.number: row for row in defaulted.instalments.all()}
    assert all(lines[number].due_date == today() for number in range(5, 13))
    assert all(lines[number].interest_due == 0 for number in range(5, 13))
    assert lines[6].fee_due == 0
    assert all(lines[number].status == Instalment.Status.OVERDUE for number in range(2, 13))
    assert defaulted.maturity_date == today()
    assert Notice.objects.filter(user=requested.requested_by, title="Your write-off was approved").exists()


def test_a_payment_since_the_request_makes_it_stale_and_nothing_is_written_off(requested, defaulted, checker):
    payment_record(
        loan=defaulted,
        amount=D("50.00"),
        received_on=today(),
        source=PaymentSource.OFFICER,
        external_reference="late-transfer",
    )
    before = schedule(defaulted)

    with pytest.raises(CollectionsConflict, match="changed since the write-off was asked for"):
        loan_write_off_approve(concession=requested, by=checker)

    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED
    assert schedule(defaulted) == before


def test_a_rejection_needs_a_reason_and_leaves_the_loan_unchanged(requested, defaulted, checker):
    before = schedule(defaulted)
    with pytest.raises(ValidationError) as error:
        loan_write_off_reject(concession=requested, by=checker, reason="")
    assert list(error.value.message_dict) == ["reason"]
    requested.refresh_from_db()
    assert requested.status == Concession.Status.PENDING

    loan_write_off_reject(concession=requested, by=checker, reason="The guarantor can still pay.")

    requested.refresh_from_db()
    assert (requested.status, requested.decision_note) == ("rejected", "The guarantor can still pay.")
    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED
    assert defaulted.written_off_total == 0
    assert schedule(defaulted) == before
    event = audit_trail(defaulted).get(action="loan.write_off_reject")
    assert (event.actor, event.reason) == (checker, "The guarantor can still pay.")
    assert Notice.objects.get(user=requested.requested_by, title="Your write-off was rejected").body.endswith(
        "The guarantor can still pay."
    )
    # Decided once: approving a rejected write-off is refused.
    with pytest.raises(ConcessionConflict, match="already rejected"):
        loan_write_off_approve(concession=requested, by=checker)


def test_the_maker_cannot_reject_their_own_either(requested, maker):
    with pytest.raises(PermissionDenied):
        loan_write_off_reject(concession=requested, by=maker, reason="Changed my mind")


# Recoveries.


@pytest.fixture
def written_off(requested, defaulted, checker):
    return loan_write_off_approve(concession=requested, by=checker)


def test_a_recovery_is_allocated_by_the_waterfall_and_shows_on_the_loan_and_the_portfolio(written_off, maker):
    payment = loan_recovery_record(
        loan=written_off, by=maker, amount=D("1500.00"), received_on=today(), external_reference="bank-7781"
    )

    # Oldest line first, fee, late fee, interest, principal: line 2 (late fees, principal), then line 3.
    allocations = list(
        Allocation.objects.filter(payment=payment)
        .order_by("pk")
        .values_list("instalment__number", "component", "amount")
    )
    assert allocations == [
        (2, "penalty", D("12.34")),
        (2, "principal", D("700.00")),
        (3, "fee", D("5.55")),
        (3, "penalty", D("20.00")),
        (3, "interest", D("100.00")),
        (3, "principal", D("662.11")),
    ]
    assert (payment.source, payment.recorded_by) == (PaymentSource.OFFICER, maker)
    written_off.refresh_from_db()
    assert written_off.state == LoanState.WRITTEN_OFF
    figures = loan_write_off_figures(loan=written_off)
    assert figures.written_off.total == D("10937.89")
    assert (figures.recovered.principal, figures.recovered.interest) == (D("1362.11"), D("100.00"))
    assert (figures.recovered.fees, figures.recovered.penalties) == (D("5.55"), D("32.34"))
    assert figures.recovered.total == D("1500.00")
    assert figures.loss == D("9437.89")
    portfolio = portfolio_figures()
    assert (portfolio.written_off, portfolio.recovered, portfolio.loss) == (
        D("10937.89"),
        D("1500.00"),
        D("9437.89"),
    )
    assert portfolio.loans_written_off == 1


def test_recovering_everything_written_off_recovers_the_loan(written_off, maker):
    loan_recovery_record(
        loan=written_off, by=maker, amount=D("10937.89"), received_on=today(), external_reference="bank-all"
    )

    written_off.refresh_from_db()
    assert written_off.state == LoanState.RECOVERED
    assert owed(written_off) == 0
    event = audit_trail(written_off).filter(to_state="recovered").get()
    assert event.from_state == "written_off"
    assert loan_write_off_figures(loan=written_off).loss == 0
    assert portfolio_figures().recovered == D("10937.89")


def test_payments_before_the_write_off_are_no_recovery(merchant, defaulted, maker, checker):
    payment_record(
        loan=defaulted, amount=D("12.34"), received_on=today(), source=PaymentSource.API, external_reference="x"
    )
    concession = loan_write_off_request(loan=defaulted, by=maker, reason="Closed")
    loan_write_off_approve(concession=concession, by=checker)

    defaulted.refresh_from_db()
    assert defaulted.written_off_total == D("10925.55")
    assert loan_write_off_figures(loan=defaulted).recovered.total == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "abc"}, "amount"),
        ({"amount": D("-5.00")}, "amount"),
        ({"received_on": "yesterday"}, "received_on"),
        ({"received_on": datetime.date(2020, 1, 1)}, "received_on"),
        ({"external_reference": ""}, "external_reference"),
    ],
)
def test_a_bad_recovery_is_refused_naming_the_field_and_nothing_is_saved(written_off, maker, fields, field):
    values = {"amount": D("100.00"), "received_on": today(), "external_reference": "bank-1", **fields}

    with pytest.raises(ValidationError) as error:
        loan_recovery_record(loan=written_off, by=maker, **values)

    assert field in error.value.message_dict
    assert not Payment.objects.filter(loan=written_off).exists()


def test_a_loan_never_written_off_takes_no_recovery(defaulted, maker):
    with pytest.raises(CollectionsConflict, match="was not written off"):
        loan_recovery_record(
            loan=defaulted, by=maker, amount=D("100.00"), received_on=today(), external_reference="bank-1"
        )
    assert not Payment.objects.exists()


def test_portfolio_outstanding_counts_the_loans_on_the_book_only(written_off, merchant, other_merchant):
    on_book = make_loan(other_merchant, servicing_product_make(), state=LoanState.ACTIVE)

    figures = portfolio_figures()

    assert figures.loans_on_book == 1
    assert figures.outstanding_principal == sum((row.principal_due for row in on_book.instalments.all()), D(0))


# The back office.


def test_the_checker_approves_from_the_queue_and_the_maker_is_refused_there(
    client, requested, defaulted, maker, checker
):
    changelist = reverse("admin:lending_concession_changelist")
    client.force_login(maker)
    page = client.get(changelist)
    assert [row.pk for row in page.context["cl"].result_list] == [requested.pk]
    response = client.post(
        changelist, {"action": "approve_selected", "_selected_action": [requested.pk], **CONFIRM}, follow=True
    )
    assert "another officer" in response.content.decode()
    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.DEFAULTED

    client.force_login(checker)
    approve = reverse("admin:lending_concession_approve", args=[requested.pk])
    confirm_page = client.post(approve)
    defaulted.refresh_from_db()
    assert (confirm_page.status_code, defaulted.state) == (200, LoanState.DEFAULTED)
    client.post(approve, CONFIRM)

    defaulted.refresh_from_db()
    assert defaulted.state == LoanState.WRITTEN_OFF
    requested.refresh_from_db()
    assert requested.decision_note == CONFIRM["note"]
    # Decided ones leave the queue.
    assert not list(client.get(changelist).context["cl"].result_list)


def test_the_checker_rejects_from_the_page_with_a_reason(client, requested, defaulted, checker):
    client.force_login(checker)
    url = reverse("admin:lending_concession_reject", args=[requested.pk])

    assert client.post(url, {"reason": ""}).status_code == 200
    requested.refresh_from_db()
    assert requested.status == Concession.Status.PENDING
    client.post(url, {"reason": "Sell the stock first."})

    requested.refresh_from_db()
    assert (requested.status, requested.decision_note) == ("rejected", "Sell the stock first.")


def test_the_loan_pages_and_the_portfolio_page_show_the_figures(client, written_off, maker):
    loan_recovery_record(
        loan=written_off, by=maker, amount=D("1500.00"), received_on=today(), external_reference="bank-7781"
    )
    client.force_login(maker)

    collections = client.get(reverse("lending_collections_loan", args=[written_off.pk])).content.decode()
    loan_admin = client.get(reverse("admin:lending_loan_change", args=[written_off.pk])).content.decode()
    portfolio = client.get(reverse("lending_portfolio"))

    for page in (collections, loan_admin):
        assert '<td class="written-off-total">10,937.89</td>' in page
        assert '<td class="recovered-total">1,500.00</td>' in page
        assert '<strong class="net-loss">9,437.89</strong>' in page
    assert 'id="recovery-form"' in collections
    assert portfolio.status_code == 200
    assert '<td id="written-off">10,937.89</td>' in portfolio.content.decode()
    assert '<td id="recovered">1,500.00</td>' in portfolio.content.decode()
    assert '<td id="loss">9,437.89</td>' in portfolio.content.decode()


def test_the_recovery_form_shows_the_field_error_and_records_nothing(client, written_off, maker):
    client.force_login(maker)

    response = client.post(
        reverse("lending_collections_loan", args=[written_off.pk]),
        {
            "do": "recover",
            "recovery-amount": "100.00",
            "recovery-received_on": "2020-01-01",
            "recovery-external_reference": "bank-2",
        },
    )

    assert response.status_code == 400
    assert "A recovery is received from the write-off" in response.context["recovery_form"].errors["received_on"][0]
    assert not Payment.objects.filter(loan=written_off).exists()


def test_a_large_recovery_is_a_bank_transfer_that_waits_for_a_second_officer(written_off, maker, checker, settings):
    from lending.servicing.models import BankTransfer
    from lending.servicing.services.bank_transfers import bank_transfer_approve

    settings.BANK_TRANSFER_FOUR_EYES_AMOUNT = D("1000.00")

    payment = loan_recovery_record(
        loan=written_off, by=maker, amount=D("1500.00"), received_on=today(), external_reference="bank-big"
    )

    assert payment is None
    transfer = BankTransfer.objects.get(bank_reference="bank-big")
    assert transfer.status == BankTransfer.Status.AWAITING_APPROVAL
    assert not Payment.objects.filter(loan=written_off).exists()
    bank_transfer_approve(transfer=transfer, by=checker)
    assert Payment.objects.get(loan=written_off).amount == D("1500.00")
