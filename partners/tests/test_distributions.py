"""Every payment of a co-funded loan is shared among its lenders to the fen: principal pro rata to what each has
outstanding, interest at each partner's own rate with the margin to the platform, fees by the agreement's rule,
credit held by the platform; nothing created or lost, also through write-offs and recoveries."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.roles import Role
from accounts.tests.factories import make_user, with_perms
from lending.servicing.models import Allocation, Instalment, Loan, LoanState, Payment
from lending.servicing.services.collections import loan_write_off_approve, loan_write_off_request
from lending.servicing.services.repayments import (
    RepaymentConflict,
    credit_apply,
    loan_pay_off,
    loan_prepay_partial,
    payment_record,
    payoff_quote,
)
from lending.servicing.tests.factories import make_loan, servicing_product_make
from partners.models import Distribution, FeeRule, LoanShare, WebhookEvent
from partners.selectors.exposure import lender_exposure, loan_participations
from partners.selectors.money import lender_losses, loan_distribution_totals, partner_portfolio, shares_outstanding
from partners.services.shares import loan_shares_create
from partners.tests.factories_money import PartnerTerms, co_funded_loan, partners_accept

pytestmark = pytest.mark.django_db
D = Decimal
START = datetime.date(2025, 1, 15)


def total(queryset, field="amount") -> Decimal:
    return queryset.aggregate(s=Sum(field))["s"] or D("0.00")


def assert_nothing_created_or_lost(loan: Loan) -> None:
    """Σ distributions == Σ allocations == Σ payments, and the shares carry exactly the loan's unpaid principal."""
    paid = total(Payment.objects.filter(loan=loan))
    assert total(Allocation.objects.filter(payment__loan=loan)) == paid
    assert total(Distribution.objects.filter(loan=loan)) == paid
    for allocation in Allocation.objects.filter(payment__loan=loan):
        assert total(Distribution.objects.filter(allocation=allocation)) == allocation.amount
    unpaid = total(Instalment.objects.filter(loan=loan), "principal_due") - total(
        Instalment.objects.filter(loan=loan), "principal_paid"
    )
    balances = shares_outstanding(loan_ids=[loan.pk])[loan.pk]
    assert sum(balances.values()) == unpaid
    assert all(balance >= 0 for balance in balances.values()), balances


def shared_fixed_loan(merchant, *, fee_rule=FeeRule.PRO_RATA) -> Loan:
    """Twelve lines of 1,000.00 principal and 100.00 interest from 2025-01-15; a bank has half at 6 % a year."""
    loan = make_loan(merchant, servicing_product_make(), start=START)
    partners_accept(loan.application, [PartnerTerms(D("0.5000"), D("0.060000"), fee_rule, code="icbc-sz")])
    loan_shares_create(loan=loan, application=loan.application)
    return loan


def line(loan: Loan, number: int) -> Instalment:
    return Instalment.objects.get(loan=loan, number=number)


def test_interest_at_the_partners_rate_and_the_margin_to_the_platform_checked_by_hand(merchant):
    loan = shared_fixed_loan(merchant)

    payment_record(
        loan=loan,
        amount=D("1100.00"),
        received_on=datetime.date(2025, 2, 15),
        source="officer",
        external_reference="BT-1",
    )

    # 6,000.00 at 6 % for the 31 days to 15 February: 30.5753… -> 30.57; the platform keeps 69.43 of the 100.00.
    assert loan_distribution_totals(loan_id=loan.pk) == {
        "platform": {"principal": D("500.00"), "interest": D("69.43")},
        "icbc-sz": {"principal": D("500.00"), "interest": D("30.57")},
    }

    # Line 2 paid late with 20.00 of late fees (as the daily job charges them), on 20 March: its interest is
    # earned up to its due date, 15 March: 6,000.00 x 31 days + 5,500.00 x 28 days at 6 % = 55.89 in all, so
    # 25.32 more; the late fees are shared by the share of the principal (pro rata), 10.00 each.
    Instalment.objects.filter(pk=line(loan, 2).pk).update(penalty_due=D("20.00"))
    payment_record(
        loan=loan,
        amount=D("1120.00"),
        received_on=datetime.date(2025, 3, 20),
        source="officer",
        external_reference="BT-2",
    )

    assert loan_distribution_totals(loan_id=loan.pk) == {
        "platform": {"principal": D("1000.00"), "interest": D("144.11"), "penalty": D("10.00")},
        "icbc-sz": {"principal": D("1000.00"), "interest": D("55.89"), "penalty": D("10.00")},
    }
    assert_nothing_created_or_lost(loan)
    events = WebhookEvent.objects.filter(partner__code="icbc-sz", event="loan.repayment").order_by("pk")
    assert [(event.payload["total"], event.payload["amounts"]) for event in events] == [
        ("530.57", {"interest": "30.57", "principal": "500.00"}),
        ("535.32", {"interest": "25.32", "penalty": "10.00", "principal": "500.00"}),
    ]
    (portfolio,) = partner_portfolio(partner=LoanShare.objects.get(loan=loan, partner__code="icbc-sz").partner)
    assert (portfolio.share_principal, portfolio.outstanding_principal) == (D("6000.00"), D("5000.00"))


def test_under_the_platform_fee_rule_the_platform_keeps_the_late_fees(merchant):
    loan = shared_fixed_loan(merchant, fee_rule=FeeRule.PLATFORM)
    Instalment.objects.filter(pk=line(loan, 1).pk).update(penalty_due=D("33.33"))

    payment_record(
        loan=loan, amount=D("33.33"), received_on=datetime.date(2025, 2, 20), source="officer", external_reference="F"
    )

    assert loan_distribution_totals(loan_id=loan.pk) == {"platform": {"penalty": D("33.33")}}
    assert not WebhookEvent.objects.filter(event="loan.repayment").exists()


def test_credit_is_held_by_the_platform_and_shared_when_it_is_spent(merchant):
    loan = shared_fixed_loan(merchant)
    # Lines 1 and 2 (the current one) are paid; the 500.00 beyond them is held as credit.
    payment = payment_record(
        loan=loan, amount=D("2700.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="X"
    )
    assert loan_distribution_totals(loan_id=loan.pk)["platform"]["credit"] == D("500.00")

    spent = credit_apply(loan=loan, on=datetime.date(2025, 4, 15))

    assert spent == D("500.00")
    totals = loan_distribution_totals(loan_id=loan.pk)
    assert totals["platform"]["credit"] == D("0.00")
    # The 500.00 paid line 3's 100.00 interest and 400.00 of its principal, shared like any payment.
    assert totals["platform"]["principal"] + totals["icbc-sz"]["principal"] == D("2400.00")
    assert_nothing_created_or_lost(loan)
    keys = set(WebhookEvent.objects.filter(event="loan.repayment").values_list("key", flat=True))
    assert len(keys) == 2
    assert all(key.startswith(f"repayment:{payment.pk}:") for key in keys)


def test_a_loan_the_platform_lends_alone_has_no_distributions(merchant):
    loan = make_loan(merchant, servicing_product_make(), start=START)

    payment_record(
        loan=loan, amount=D("1100.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="A"
    )

    assert not Distribution.objects.exists()
    assert loan_participations(loan_ids=[loan.pk])[loan.pk].lender_fractions == {"platform": D(1)}


def test_exposure_is_each_lenders_outstanding_share_principal(merchant):
    loan = shared_fixed_loan(merchant)
    payment_record(
        loan=loan, amount=D("1100.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="E"
    )

    assert lender_exposure() == {"platform": D("5500.00"), "icbc-sz": D("5500.00")}
    assert loan_participations(loan_ids=[loan.pk])[loan.pk].lender_fractions == {
        "platform": D("0.5"),
        "icbc-sz": D("0.5"),
    }


def test_participations_read_the_same_from_ids_a_queryset_or_a_range(merchant):
    shared = shared_fixed_loan(merchant)
    alone = make_loan(merchant, servicing_product_make(), start=START)
    ids = sorted([shared.pk, alone.pk])

    by_list = loan_participations(loan_ids=ids)
    assert set(by_list) == set(ids)
    assert by_list[alone.pk].lender_fractions == {"platform": D(1)}
    assert loan_participations(loan_ids=Loan.objects.filter(pk__in=ids).values("pk")) == by_list
    # A range names ids that are no loan's: only the loans among them are answered.
    assert loan_participations(loan_ids=range(ids[0], ids[-1] + 100)) == by_list
    assert loan_participations(loan_ids=range(ids[0], ids[-1] + 100), shared_only=True) == {
        shared.pk: by_list[shared.pk]
    }


def test_a_lenders_fraction_is_read_from_the_principal_in_the_ledger_not_from_its_share(merchant):
    """Fractions follow what each share has been repaid (principal distributions only), by every way of naming the
    loans; a share's outstanding principal reads the same through ``shares_outstanding``."""
    loan = shared_fixed_loan(merchant)  # 12,000.00: the platform 6,000.00, icbc-sz 6,000.00
    payment_record(
        loan=loan, amount=D("1100.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="F"
    )
    # Move 300.00 of the instalment's principal from the platform's distribution to the bank's, as if the bank had
    # been repaid first: platform 6,000 - 200 = 5,800.00 outstanding, the bank 6,000 - 800 = 5,200.00.
    principal = Distribution.objects.filter(loan=loan, component="principal")
    principal.filter(partner__isnull=True).update(amount=D("200.00"))
    principal.filter(partner__isnull=False).update(amount=D("800.00"))
    assert Distribution.objects.filter(loan=loan, component="interest").count() == 2  # read, and left out

    fractions = {"platform": D("5800.00") / D("11000.00"), "icbc-sz": D("5200.00") / D("11000.00")}
    for loan_ids in ([loan.pk], range(loan.pk, loan.pk + 1), Loan.objects.filter(pk=loan.pk).values("pk")):
        read = loan_participations(loan_ids=loan_ids)[loan.pk].lender_fractions
        assert read.keys() == fractions.keys()
        assert all(abs(read[code] - fractions[code]) < D("1e-12") for code in fractions), read
    assert shares_outstanding(loan_ids=[loan.pk]) == {loan.pk: {"platform": D("5800.00"), "icbc-sz": D("5200.00")}}


@pytest.fixture
def officers(senior_officer):
    maker = with_perms(senior_officer, "lending.change_loan", "lending.second_approve_concession")
    checker = make_user(Role.SENIOR_OFFICER, email="senior2@loanportal.example", staff=True)
    return maker, checker


def write_off(loan: Loan, officers) -> Loan:
    """Test set-up: the daily job defaulted the loan; then a write-off asked for and approved by two officers."""
    Loan.objects.filter(pk=loan.pk).update(state=LoanState.DEFAULTED, days_past_due=120)
    maker, checker = officers
    concession = loan_write_off_request(loan=loan, by=maker, reason="Merchant closed.")
    loan_write_off_approve(concession=concession, by=checker)
    return Loan.objects.get(pk=loan.pk)


def test_a_write_off_makes_each_lenders_loss_its_outstanding_share_and_a_recovery_is_shared(merchant, officers):
    loan = shared_fixed_loan(merchant)
    payment_record(
        loan=loan, amount=D("1100.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="1"
    )

    loan = write_off(loan, officers)

    assert loan.written_off_principal == D("11000.00")
    assert lender_losses() == {"platform": D("5500.00"), "icbc-sz": D("5500.00")}
    assert_nothing_created_or_lost(loan)

    # Recovered money runs through the waterfall: interest of the called-in lines first, then principal.
    payment_record(
        loan=loan, amount=D("3000.00"), received_on=timezone.localdate(), source="officer", external_reference="R"
    )

    assert_nothing_created_or_lost(loan)
    losses = lender_losses()
    assert sum(losses.values()) == total(Instalment.objects.filter(loan=loan), "principal_due") - total(
        Instalment.objects.filter(loan=loan), "principal_paid"
    )
    assert losses["icbc-sz"] < D("5500.00")


# Property: random loans, shares, payments on time, late, partial or early, credit, payoffs, write-offs, recoveries.

STEP = st.tuples(
    st.sampled_from(["on_time", "late", "partial", "early", "overpay", "prepay"]),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=99),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=st.decimals(min_value=D("10000.00"), max_value=D("200000.00"), places=2),
    term=st.integers(min_value=3, max_value=6),
    rate=st.sampled_from([D("0.072000"), D("0.120000"), D("0.170000")]),
    method=st.sampled_from(["equal_instalment", "equal_principal"]),
    partners=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=3500),
            st.sampled_from([D("0.035000"), D("0.060000"), D("0.150000")]),
            st.sampled_from([FeeRule.PLATFORM, FeeRule.PRO_RATA]),
        ),
        min_size=1,
        max_size=2,
    ),
    steps=st.lists(STEP, min_size=1, max_size=5),
    ending=st.sampled_from(["none", "payoff", "write_off"]),
    recovery=st.integers(min_value=1, max_value=100),
)
def test_no_fen_is_created_or_lost_between_lenders(
    merchant, officers, amount, term, rate, method, partners, steps, ending, recovery
):
    terms = [PartnerTerms(D(part) / D(10000), partner_rate, rule) for part, partner_rate, rule in partners]
    loan = co_funded_loan(
        merchant,
        terms,
        amount=amount,
        term=term,
        start=START,
        price=rate,
        repayment_methods=[method],
        prepayment_policy="allowed_with_fee",
        prepayment_fee_rate=D("0.010000"),
    )
    references = iter(range(1000))
    last = START

    def pay(value: Decimal, on: datetime.date) -> None:
        nonlocal last
        payment_record(
            loan=loan, amount=value, received_on=on, source="officer", external_reference=f"p{next(references)}"
        )
        last = on
        assert_nothing_created_or_lost(loan)

    for kind, days, percent in steps:
        loan.refresh_from_db()
        if loan.state not in (LoanState.ACTIVE, LoanState.OVERDUE):
            break
        row = Instalment.objects.filter(loan=loan).exclude(status=Instalment.Status.PAID).order_by("number").first()
        if row is None:
            break
        if loan.credit_balance and row.due_date >= last:
            credit_apply(loan=loan, on=row.due_date)
            assert_nothing_created_or_lost(loan)
            row.refresh_from_db()
            last = max(last, row.due_date)
            if row.owed() == 0:
                continue
        owed = row.owed()
        if kind == "prepay" and last < row.due_date - datetime.timedelta(days=1):
            # Repay part of the principal early, on a day of the current period, and re-amortise the rest.
            on = min(max(last, row.due_date - datetime.timedelta(days=days)), row.due_date - datetime.timedelta(days=1))
            value = (payoff_quote(loan=loan, on=on).total * percent / 100).quantize(D("0.01"))
            try:
                loan_prepay_partial(
                    loan=loan, amount=value, on=on, external_reference=f"pp{on}", by=None, source="officer"
                )
            except (ValidationError, RepaymentConflict):
                event("prepayment refused")
            else:
                event("partial prepayment")
                last = on
            assert_nothing_created_or_lost(loan)
        elif kind == "late":
            # As the daily job leaves it: late fees on the line, paid with the line some days after it fell due.
            Instalment.objects.filter(pk=row.pk).update(penalty_due=row.penalty_due + D(percent) / 4)
            pay(owed + D(percent) / 4, max(last, row.due_date + datetime.timedelta(days=days)))
        elif kind == "partial":
            pay(max((owed * percent / 100).quantize(D("0.01")), D("0.01")), max(last, row.due_date))
        elif kind == "early":
            pay(owed, max(last, row.due_date - datetime.timedelta(days=days)))
        elif kind == "overpay":
            pay(owed + D(percent) * 10, max(last, row.due_date))
        else:
            pay(owed, max(last, row.due_date))

    loan.refresh_from_db()
    if ending == "payoff" and loan.state in (LoanState.ACTIVE, LoanState.OVERDUE):
        on = last + datetime.timedelta(days=recovery % 20)
        quote = payoff_quote(loan=loan, on=on)
        if quote.total:
            loan_pay_off(source="officer", loan=loan, amount=quote.total, on=on, external_reference="off", by=None)
        assert_nothing_created_or_lost(loan)
        loan.refresh_from_db()
        if loan.state == LoanState.PAID_OFF:
            assert set(shares_outstanding(loan_ids=[loan.pk])[loan.pk].values()) == {D("0.00")}
    elif ending == "write_off" and loan.state in (LoanState.ACTIVE, LoanState.OVERDUE) and not loan.credit_balance:
        # (A loan holding credit is not written off: the credit is spent first.)
        loan = write_off(loan, officers)
        losses = lender_losses(loan_ids=[loan.pk])
        assert sum(losses.values()) == loan.written_off_principal
        owed = sum((row.owed() for row in loan.instalments.all()), D("0.00"))
        payment_record(
            loan=loan,
            amount=max((owed * recovery / 100).quantize(D("0.01")), D("0.01")),
            received_on=timezone.localdate(),
            source="officer",
            external_reference="recovery",
        )
        assert_nothing_created_or_lost(loan)
        assert all(value >= 0 for value in lender_losses(loan_ids=[loan.pk]).values())
    loan.refresh_from_db()
    event(f"ends {loan.state}")
    for component in ("penalty", "credit", "fee"):
        if Distribution.objects.filter(loan=loan, component=component).exists():
            event(f"{component} distributed")
    if Distribution.objects.filter(loan=loan, component="interest", amount__lt=0).exists():
        event("interest credited back")
    # Whatever happened, a partner was never paid interest beyond its rate on its share for the loan's whole life.
    for share in LoanShare.objects.filter(loan=loan).exclude(partner=None):
        interest = total(Distribution.objects.filter(share=share, component="interest"))
        days = (max(loan.maturity_date, last) - loan.start_date).days
        assert D(0) <= interest <= share.principal * share.interest_rate * days / 365


# The back office.


def test_officers_see_the_shares_and_distributions_with_their_rules(merchant, client, loan_officer):
    loan = shared_fixed_loan(merchant)
    payment_record(
        loan=loan, amount=D("1100.00"), received_on=datetime.date(2025, 2, 15), source="officer", external_reference="1"
    )
    client.force_login(loan_officer)

    shares_page = client.get(reverse("admin:partners_loanshare_changelist")).content.decode()
    distributions_page = client.get(
        reverse("admin:partners_distribution_changelist")
        + "?partner__id__exact="
        + str(LoanShare.objects.get(loan=loan, partner__code="icbc-sz").partner_id)
    ).content.decode()

    assert "rounded down to the fen; the platform takes the rest" in shares_page
    assert "5500.00" in shares_page  # each lender's outstanding share principal after the first line
    assert "largest remainder" in distributions_page
    assert "30.57" in distributions_page
    assert "69.43" not in distributions_page  # filtered to the bank: the platform's margin is not its row
    loan_page = client.get(reverse("admin:lending_loan_change", args=[loan.pk])).content.decode()
    assert "(partners rounded down to the fen; the platform takes the rest)" in loan_page
    assert LoanShare.objects.get(loan=loan, partner__code="icbc-sz").partner.legal_name_zh in loan_page


def test_a_merchant_sees_no_shares_or_distributions(merchant, client, merchant_owner):
    client.force_login(merchant_owner)

    response = client.get(reverse("admin:partners_distribution_changelist"))

    assert response.status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payments_at_once_are_each_shared_once_and_nothing_is_lost(merchant):
    loan = shared_fixed_loan(merchant)
    barrier = threading.Barrier(2)

    def run(reference):
        try:
            barrier.wait(timeout=30)
            return payment_record(
                loan=loan,
                amount=D("1100.00"),
                received_on=datetime.date(2025, 3, 15),
                source="officer",
                external_reference=reference,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, ["A", "B"]))

    assert Payment.objects.filter(loan=loan).count() == 2
    assert_nothing_created_or_lost(loan)
    assert loan_distribution_totals(loan_id=loan.pk)["icbc-sz"]["principal"] == D("1000.00")
