"""Each partner's daily settlement: the day's distributions, less the platform's service fee, reconciled to the
fen; a re-run of the same day changes nothing; the statement as CSV and PDF from the back office."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from lending.servicing.models import Instalment, Loan
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import make_loan, servicing_product_make
from partners.models import Distribution, FundingPartner, LoanShare, PartnerSettlement, WebhookEvent
from partners.selectors.money import partner_distributions, partner_settlements
from partners.services.settlements import (
    SettlementConflict,
    partner_settlement_make,
    partner_settlement_pay,
    partners_settle_day,
    settlement_statement_csv,
    settlement_statement_pdf,
)
from partners.services.shares import loan_shares_create
from partners.tasks import partners_settle_day_task
from partners.tests.factories_money import PartnerTerms, partners_accept

D = Decimal
START = datetime.date(2025, 1, 15)
DAY = datetime.timedelta(days=1)


def today() -> datetime.date:
    return timezone.localdate()


def shared_loan(merchant) -> tuple[Loan, FundingPartner]:
    """Twelve lines of 1,000.00 + 100.00 interest; a bank has half at 6 % a year and pays a 1 % service fee."""
    loan = make_loan(merchant, servicing_product_make(), start=START)
    Loan.objects.filter(pk=loan.pk).update(activated_at=timezone.now() - 30 * DAY)
    (partner,) = partners_accept(
        loan.application, [PartnerTerms(D("0.5000"), D("0.060000"), "pro_rata", D("0.010000"), code="icbc-sz")]
    )
    loan_shares_create(loan=loan, application=loan.application)
    return loan, partner


def pay(loan: Loan, amount: str, on: datetime.date, reference: str, *, distributed_on: datetime.date) -> None:
    payment_record(loan=loan, amount=D(amount), received_on=on, source="officer", external_reference=reference)
    # Test set-up: as if the money had come in on ``distributed_on`` (settlements only settle days that are over).
    Distribution.objects.filter(payment__external_reference=reference).update(business_date=distributed_on)


def figures(settlement: PartnerSettlement) -> tuple:
    return (
        settlement.principal,
        settlement.interest,
        settlement.penalties,
        settlement.collected,
        settlement.outstanding_principal,
        settlement.service_fee,
        settlement.net_payable,
        settlement.distribution_count,
    )


@pytest.mark.django_db
def test_a_days_settlement_checked_by_hand(merchant):
    loan, partner = shared_loan(merchant)
    first, second = today() - 3 * DAY, today() - 2 * DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=first)
    Instalment.objects.filter(loan=loan, number=2).update(penalty_due=D("20.00"))
    pay(loan, "1120.00", datetime.date(2025, 3, 20), "BT-2", distributed_on=second)

    day_one = partner_settlement_make(partner=partner, business_date=first)
    day_two = partner_settlement_make(partner=partner, business_date=second)

    # Day one: 500.00 principal + 30.57 interest (6,000.00 at 6 % for 31 days). 5,500.00 outstanding at day end:
    # the fee is 5,500.00 x 1 % / 365 = 0.1506… -> 0.15, so 530.42 is owed to the bank.
    assert figures(day_one) == (
        D("500.00"),
        D("30.57"),
        D("0.00"),
        D("530.57"),
        D("5500.00"),
        D("0.15"),
        D("530.42"),
        2,
    )
    # Day two: 500.00 + 25.32 interest (to 55.89 in all) + 10.00 of late fees (half, pro rata); 5,000.00 outstanding:
    # 5,000.00 x 1 % / 365 = 0.1369… -> 0.14; 535.18 owed.
    assert figures(day_two) == (
        D("500.00"),
        D("25.32"),
        D("10.00"),
        D("535.32"),
        D("5000.00"),
        D("0.14"),
        D("535.18"),
        3,
    )
    # Reconciled: each settlement is exactly the distributions it settles, and every distribution is settled once.
    for settlement in (day_one, day_two):
        assert settlement.distributions.aggregate(s=Sum("amount"))["s"] == settlement.collected
    assert not partner_distributions(partner=partner).filter(settlement=None).exists()
    assert list(partner_settlements(partner=partner)) == [day_two, day_one]
    ready = WebhookEvent.objects.get(partner=partner, event="settlement.ready", key=f"settlement:{first.isoformat()}")
    assert (ready.payload["net_payable"], ready.payload["service_fee"]) == ("530.42", "0.15")


@pytest.mark.django_db
def test_settling_a_day_again_changes_nothing(merchant):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    settlement = partner_settlement_make(partner=partner, business_date=day)

    def snapshot():
        return (
            list(PartnerSettlement.objects.values_list()),
            list(Distribution.objects.order_by("pk").values_list("pk", "settlement_id", "amount")),
            WebhookEvent.objects.count(),
            AuditEvent.objects.count(),
        )

    before = snapshot()
    assert partner_settlement_make(partner=partner, business_date=day) == settlement
    assert partners_settle_day_task(day.isoformat()) == [settlement.pk]
    assert snapshot() == before


@pytest.mark.django_db
def test_money_distributed_after_its_day_was_settled_is_settled_the_next_day(merchant):
    loan, partner = shared_loan(merchant)
    day = today() - 2 * DAY
    partner_settlement_make(partner=partner, business_date=day)
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-late", distributed_on=day)

    next_day = partner_settlement_make(partner=partner, business_date=day + DAY)

    assert (next_day.collected, next_day.distribution_count) == (D("530.57"), 2)
    assert PartnerSettlement.objects.get(partner=partner, business_date=day).collected == D("0.00")


@pytest.mark.django_db
def test_a_day_that_is_not_over_is_not_settled(merchant):
    _loan, partner = shared_loan(merchant)

    with pytest.raises(ValidationError) as error:
        partner_settlement_make(partner=partner, business_date=today())

    assert error.value.message_dict == {"business_date": ["Settle a day that is over: a date before today."]}
    assert not PartnerSettlement.objects.exists()


@pytest.mark.django_db
def test_the_daily_task_settles_yesterday_for_every_partner_with_loans_and_one_audit_row_each(merchant):
    _loan, partner = shared_loan(merchant)
    FundingPartner.objects.create(
        code="no-loans",
        legal_name_zh="无贷款银行",
        legal_name_en="No Loans Bank",
        licence_number="X",
        funding_account_number="1",
        funding_account_name="N",
        funding_bank_name="N",
    )

    (pk,) = partners_settle_day_task()

    settlement = PartnerSettlement.objects.get(pk=pk)
    assert (settlement.partner, settlement.business_date) == (partner, today() - DAY)
    assert AuditEvent.objects.filter(action="settlement.make", object_id=str(pk)).count() == 1
    assert partners_settle_day(business_date=today() - DAY) == [settlement]


def test_the_settlement_task_is_scheduled_every_night(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["partners-settle-day"]
    assert entry["task"] == "partners.tasks.partners_settle_day_task"


@pytest.mark.django_db
def test_the_statement_lists_each_distribution_and_the_totals_in_csv_and_pdf(merchant):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    settlement = partner_settlement_make(partner=partner, business_date=day)

    rows = settlement_statement_csv(settlement=settlement).splitlines()

    assert rows[1] == "贷款编号 Loan,还款编号 Payment,起息日 Value date,入账日 Business date,项目 Component,金额 Amount"
    payment_id = settlement.distributions.first().payment_id
    assert f"{loan.pk},{payment_id},2025-02-15,{day.isoformat()},利息 Interest,30.57" in rows
    assert f"{loan.pk},{payment_id},2025-02-15,{day.isoformat()},本金 Principal,500.00" in rows
    assert rows[-1] == "应付净额 Net payable,,,,,530.42"
    pdf = settlement_statement_pdf(settlement=settlement)
    assert pdf.pdf.startswith(b"%PDF")
    assert pdf.page_count == 1


@pytest.mark.django_db
def test_officers_download_the_statement_and_others_cannot(merchant, client, loan_officer, merchant_owner):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    settlement = partner_settlement_make(partner=partner, business_date=day)
    url = reverse("admin:partners_partnersettlement_csv", args=[settlement.pk])

    client.force_login(loan_officer)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="settlement-icbc-sz-{day:%Y%m%d}.csv"'
    assert "530.42" in response.content.decode("utf-8-sig")
    listing = client.get(reverse("admin:partners_partnersettlement_changelist"))
    assert listing.status_code == 200
    assert reverse("admin:partners_partnersettlement_pdf", args=[settlement.pk]) in listing.content.decode()

    client.force_login(merchant_owner)
    assert client.get(url).status_code == 302  # not staff: sent to the admin's login page
    assert LoanShare.objects.filter(loan=loan).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_day_at_once_make_one_settlement(merchant):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=30)
            return partner_settlement_make(partner=partner, business_date=day).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _n: run(), range(2)))

    assert results[0] == results[1]
    assert PartnerSettlement.objects.count() == 1
    assert WebhookEvent.objects.filter(event="settlement.ready").count() == 1
    assert Distribution.objects.filter(settlement_id=results[0]).aggregate(s=Sum("amount"))["s"] == D("530.57")


# Recording a settlement as paid.


@pytest.fixture
def settled(merchant):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    return partner_settlement_make(partner=partner, business_date=day)


@pytest.mark.django_db
def test_a_senior_officer_records_a_settlement_as_paid_once_with_a_note(settled, senior_officer):
    paid = partner_settlement_pay(settlement=settled, by=senior_officer, note="CNAPS 2026120300042")

    assert (paid.status, paid.paid_by, paid.net_payable) == ("paid", senior_officer, D("530.42"))
    event = AuditEvent.objects.get(action="settlement.pay", object_id=str(settled.pk))
    assert (event.actor, event.from_state, event.to_state, event.reason) == (
        senior_officer,
        "ready",
        "paid",
        "CNAPS 2026120300042",
    )
    with pytest.raises(SettlementConflict, match="it is paid once"):
        partner_settlement_pay(settlement=settled, by=senior_officer, note="again")
    assert AuditEvent.objects.filter(action="settlement.pay").count() == 1


@pytest.mark.django_db
def test_a_loan_officer_cannot_record_a_settlement_as_paid_nor_without_a_note(settled, loan_officer, senior_officer):
    with pytest.raises(PermissionDenied):
        partner_settlement_pay(settlement=settled, by=loan_officer, note="CNAPS 1")
    with pytest.raises(ValidationError) as error:
        partner_settlement_pay(settlement=settled, by=senior_officer, note="  ")
    assert list(error.value.message_dict) == ["note"]
    settled.refresh_from_db()
    assert settled.status == "ready"


@pytest.mark.django_db
def test_the_admin_action_asks_for_a_note_then_records_the_settlement_as_paid(settled, client, senior_officer):
    client.force_login(senior_officer)
    url = reverse("admin:partners_partnersettlement_changelist")
    data = {"action": "pay_selected", "_selected_action": [settled.pk]}

    page = client.post(url, data)
    assert page.status_code == 200
    settled.refresh_from_db()
    assert settled.status == "ready"

    client.post(url, {**data, "confirm": "1", "note": "CNAPS 2026120300042"})
    settled.refresh_from_db()
    assert (settled.status, settled.paid_by) == ("paid", senior_officer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_recording_the_same_settlement_at_once_record_it_once(merchant, senior_officer):
    loan, partner = shared_loan(merchant)
    day = today() - DAY
    pay(loan, "1100.00", datetime.date(2025, 2, 15), "BT-1", distributed_on=day)
    settlement = partner_settlement_make(partner=partner, business_date=day)
    barrier = threading.Barrier(2)

    def run(note):
        try:
            barrier.wait(timeout=30)
            return partner_settlement_pay(settlement=settlement, by=senior_officer, note=note)
        except Exception as exc:  # noqa: BLE001 - the test looks at every outcome
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, ["first", "second"]))

    assert sorted(type(result).__name__ for result in results) == ["PartnerSettlement", "SettlementConflict"]
    assert AuditEvent.objects.filter(action="settlement.pay").count() == 1
