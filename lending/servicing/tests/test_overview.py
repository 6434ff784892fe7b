"""The merchant's borrowing at a glance: a card per open loan and the credit line, on the dashboard and the loans list.

The loan: 12,000 yuan over 12 months at 12 % a year from 2025-01-15, annuity (instalment 1: 943.61 principal +
122.30 interest, due 2025-02-15).
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from lending.servicing.models import DeferralRequest, LoanState
from lending.servicing.selectors.overview import loan_cards, merchant_credit_line
from lending.servicing.services.repayments import payment_record
from lending.servicing.tests.factories import active_loan
from merchants.choices import KycState
from merchants.tests.factories import MerchantFactory
from underwriting.choices import ScorecardState
from underwriting.engine.scoring import scorecard_cache_clear
from underwriting.models import PolicyRule, PreApprovedLimit
from underwriting.services.demo import RULES
from underwriting.tests.factories import add_sales, known_scorecard

pytestmark = pytest.mark.django_db
D = Decimal
DASHBOARD = "/merchant/"


@pytest.fixture(autouse=True)
def _fresh_scorecards():
    scorecard_cache_clear()


@pytest.fixture
def verified(merchant_owner):
    """A verified merchant without sales on file (each test adds what it needs)."""
    return MerchantFactory(owner=merchant_owner, kyc_state=KycState.VERIFIED)


def pre_approve(merchant, amount: str) -> PreApprovedLimit:
    return PreApprovedLimit.objects.create(merchant=merchant, amount=D(amount), computed_at=timezone.now())


def first_instalment_paid(merchant, **fields):
    loan = active_loan(merchant, **fields)
    payment_record(
        loan=loan, amount=D("1065.91"), received_on=datetime.date(2025, 2, 15), source="api", external_reference="i1"
    )
    return loan


def test_a_card_gives_the_principal_owed_the_next_payment_the_progress_and_the_arrears(merchant):
    loan = first_instalment_paid(merchant)
    second, third = loan.instalments.get(number=2), loan.instalments.get(number=3)

    [card] = loan_cards(merchant=merchant, on=datetime.date(2025, 4, 1))

    assert card.loan == loan
    # Instalment 1 paid its 943.61 of principal; instalment 2 (due 15 March) is unpaid: it is the arrears.
    assert card.outstanding_principal == D("11056.39")
    assert card.arrears == second.payment_due
    assert (card.next_due_date, card.next_payment) == (datetime.date(2025, 4, 15), third.payment_due)
    assert (card.instalments_paid, card.instalments_total) == (1, 12)
    assert card.progress_percent == 7  # 943.61 of 12,000


def test_credit_held_comes_off_the_next_payment_and_a_pending_deferral_is_flagged(merchant, merchant_owner):
    loan = first_instalment_paid(merchant)
    loan.credit_balance = D("100.00")
    loan.save(update_fields=["credit_balance"])
    second = loan.instalments.get(number=2)
    DeferralRequest.objects.create(
        loan=loan,
        instalment=second,
        requested_due_date=datetime.date(2025, 4, 15),
        reason="a slow month",
        requested_by=merchant_owner,
    )

    [card] = loan_cards(merchant=merchant, on=datetime.date(2025, 3, 1))

    assert card.next_payment == second.payment_due - D("100.00")
    assert card.next_deferral_pending
    assert card.arrears == D("0.00")


def test_closed_loans_and_other_merchants_loans_have_no_card(merchant, other_merchant):
    active_loan(merchant, state=LoanState.PAID_OFF)
    active_loan(other_merchant)

    assert loan_cards(merchant=merchant, on=datetime.date(2025, 3, 1)) == []


def test_what_is_left_of_the_line_is_the_pre_approved_limit_less_the_principal_open_loans_owe(verified):
    pre_approve(verified, "50000.00")
    first_instalment_paid(verified)

    line = merchant_credit_line(merchant=verified, on=datetime.date(2025, 4, 1))

    assert (line.pre_approved, line.owed_on_open_loans, line.available) == (
        D("50000.00"),
        D("11056.39"),
        D("38943.61"),
    )
    assert line.reasons == []


def test_open_loans_that_use_the_whole_line_are_the_reason_nothing_is_left(verified):
    pre_approve(verified, "10000.00")
    active_loan(verified)

    line = merchant_credit_line(merchant=verified, on=datetime.date(2025, 1, 20))

    assert line.available == D("0.00")
    assert line.reasons == ["Your open loans use the whole of it: ¥12,000.00 of principal is still to be repaid."]
    assert "It frees up as you repay" in line.changes[0]


def test_a_line_of_zero_without_platform_sales_says_so_and_what_would_change_it(verified):
    pre_approve(verified, "0.00")

    line = merchant_credit_line(merchant=verified, on=timezone.localdate())

    assert line.is_zero
    assert line.reasons == [
        "There are no platform sales on file for the last 12 months, and the line is worked out from them."
    ]
    assert "1.5 times your average month of platform sales" in line.changes[0]


def test_a_line_of_zero_names_the_rule_that_stops_it(verified):
    PolicyRule.objects.bulk_create(PolicyRule(**rule) for rule in RULES)
    known_scorecard(state=ScorecardState.ACTIVE)
    today = timezone.localdate()
    add_sales(verified, first=today - datetime.timedelta(days=100), days=99, gross="2000.00")
    pre_approve(verified, "0.00")

    line = merchant_credit_line(merchant=verified, on=today)

    rule = PolicyRule.objects.get(code="min-months-active")
    assert len(line.reasons) == 1
    assert line.reasons[0].startswith(rule.message_en.split("{")[0])


def test_a_line_of_zero_from_the_score_names_what_costs_the_most_points(verified):
    known_scorecard(state=ScorecardState.ACTIVE, approve_min_score=D(640), refer_min_score=D(550))
    today = timezone.localdate()
    add_sales(verified, first=today - datetime.timedelta(days=500), days=499, gross="1000.00", refunds="50.00")
    pre_approve(verified, "0.00")

    line = merchant_credit_line(merchant=verified, on=today)

    assert line.reasons[0].startswith("Your score from your platform sales, ")
    assert "below 640, the level at which we approve automatically" in line.reasons[0]
    assert "Refunds are 3 % of sales or more." in line.reasons


def test_the_dashboard_shows_each_open_loan_and_what_is_left_of_the_line(client, merchant_owner, verified):
    today = timezone.localdate()
    loan = active_loan(verified, start=today - datetime.timedelta(days=10))
    pre_approve(verified, "50000.00")
    client.force_login(merchant_owner)

    response = client.get(DASHBOARD)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Pre-approved up to ¥50,000.00" in content
    assert 'id="credit-line-available">¥38,000.00<' in content
    first = loan.instalments.get(number=1)
    assert f"¥{first.payment_due:,.2f} on {first.due_date:%Y-%m-%d}" in content
    assert "0 of 12 instalments paid" in content
    assert reverse("lending:loan-detail", args=[loan.pk]) in content
    assert reverse("lending:repayment-pay", args=[loan.pk]) in content


def test_the_dashboard_tells_a_merchant_with_a_line_of_zero_why(client, merchant_owner, verified):
    pre_approve(verified, "0.00")
    client.force_login(merchant_owner)

    content = client.get(DASHBOARD).content.decode()

    assert "Nothing is pre-approved for you at the moment." in content
    assert "There are no platform sales on file for the last 12 months" in content
    assert "What would change it:" in content


def test_the_dashboard_reads_in_chinese(client, merchant_owner, verified):
    today = timezone.localdate()
    active_loan(verified, start=today - datetime.timedelta(days=10))
    pre_approve(verified, "50000.00")
    client.force_login(merchant_owner)

    content = client.get(DASHBOARD, headers={"accept-language": "zh-hans"}).content.decode()

    assert "38,000.00 元" in content
    assert "0/12 期已还" in content


def test_the_loans_list_has_a_card_for_each_open_loan_and_a_row_for_every_loan(client, merchant_owner, verified):
    today = timezone.localdate()
    open_loan = active_loan(verified, start=today - datetime.timedelta(days=40))
    closed = active_loan(verified, state=LoanState.PAID_OFF)
    client.force_login(merchant_owner)

    response = client.get(reverse("lending:loan-list"))

    cards = response.context["loan_cards"]
    assert [card.loan for card in cards] == [open_loan]
    assert cards[0].arrears == open_loan.instalments.get(number=1).payment_due
    content = response.content.decode()
    assert f'data-loan="{open_loan.pk}"' in content
    assert f'data-loan="{closed.pk}"' not in content
    assert reverse("lending:loan-detail", args=[closed.pk]) in content


def test_lists_on_the_dashboard_use_the_enumeration_comma_in_chinese(client, merchant_owner, merchant):
    client.force_login(merchant_owner)

    chinese = client.get(DASHBOARD, headers={"accept-language": "zh-hans"}).content.decode()
    english = client.get(DASHBOARD, headers={"accept-language": "en"}).content.decode()

    assert "尚需上传的材料： 营业执照、身份证人像面、身份证国徽面" in chinese
    assert "Business licence, ID card, front, ID card, back" in english
