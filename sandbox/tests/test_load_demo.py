"""`manage.py load_demo`: one login per role, each able to sign in at once, six months of lending history for the
back office, and nothing doubled on a second run.

The history takes a while to replay, so the tests of the logins load without it (``--no-history``) and one test
loads it, twice.
"""

import datetime
import io

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.roles import Role
from core.models import AuditEvent, Notice
from core.services.audit import audit_record
from lending.catalogue.models import LoanProduct
from lending.origination.models import ApplicationState, Contract, LoanApplication
from lending.origination.services.demo import demo_days_catch_up
from lending.servicing.models import (
    BankTransfer,
    CollectionContact,
    DeferralRequest,
    Disbursement,
    Instalment,
    Loan,
    LoanState,
    Payment,
    PaymentSource,
    Reminder,
)
from lending.servicing.tests.factories import make_loan, servicing_product_make
from merchants.choices import KycState
from merchants.models import Merchant, SalesDay
from merchants.services.demo import DEMO_PASSWORD
from merchants.tests.factories import make_verified_merchant
from underwriting.models import Decision, FraudAlert, PreApprovedLimit, Scorecard
from underwriting.selectors.monitoring import monitoring_report
from underwriting.services.demo import underwriting_seed

pytestmark = pytest.mark.django_db

LOGINS = {
    "merchant@demo.example": Role.MERCHANT_OWNER,
    "merchant2@demo.example": Role.MERCHANT_OWNER,
    "officer@demo.example": Role.LOAN_OFFICER,
    "senior@demo.example": Role.SENIOR_OFFICER,
    "risk@demo.example": Role.RISK_MANAGER,
    "admin@demo.example": None,
    "partner@demo.example": Role.PARTNER,
}
STAFF = {"officer@demo.example", "senior@demo.example", "risk@demo.example", "admin@demo.example"}


@pytest.fixture(autouse=True)
def _clear_cache():
    # Sign-in attempts are counted in the cache; start every test from zero.
    cache.clear()


def load_demo(*, history: bool = False) -> str:
    out = io.StringIO()
    call_command("load_demo", *([] if history else ["--no-history"]), stdout=out)
    return out.getvalue()


HISTORY_MODELS = (
    LoanApplication,
    Decision,
    FraudAlert,
    Contract,
    Loan,
    Instalment,
    Disbursement,
    Payment,
    BankTransfer,
    Reminder,
    CollectionContact,
    DeferralRequest,
    Notice,
    PreApprovedLimit,
)


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "memberships": User.groups.through.objects.count(),
        "addresses": EmailAddress.objects.count(),
        "tokens": Token.objects.count(),
        "merchants": Merchant.objects.count(),
        "sales days": SalesDay.objects.count(),
        "audit rows": AuditEvent.objects.count(),
        **{model._meta.model_name: model.objects.count() for model in HISTORY_MODELS},
    }


def book() -> list[tuple]:
    """What the back office shows of each application and loan: state, offer, days past due, what is owed."""
    return [
        *LoanApplication.objects.order_by("pk").values_list("pk", "state", "offer_amount", "decided_at"),
        *Loan.objects.order_by("pk").values_list("pk", "state", "days_past_due", "serviced_on", "credit_balance"),
        *Instalment.objects.order_by("pk").values_list("pk", "status", "due_date", "penalty_due", "principal_paid"),
    ]


def test_running_twice_creates_nothing_more():
    load_demo()
    first = counts()
    token = Token.objects.get(user__email="partner@demo.example").key

    load_demo()

    assert counts() == first
    assert Token.objects.get(user__email="partner@demo.example").key == token
    assert first["users"] >= len(LOGINS)


def test_the_history_gives_the_back_office_work_and_loading_again_changes_nothing(client):
    output = load_demo(history=True)
    first, first_book = counts(), book()

    again = load_demo(history=True)

    assert counts() == first
    assert book() == first_book
    assert "Six months of lending replayed" in output
    assert "replayed" not in again
    today = timezone.localdate()
    # Months of applications, each decided by the engine on its own day with the sales on file up to it.
    decisions = Decision.objects.exclude(application_id=None)
    assert decisions.count() >= 150
    assert {decision.decided_at.astimezone().strftime("%Y-%m") for decision in decisions} >= {
        f"{today - datetime.timedelta(days=days):%Y-%m}" for days in (150, 120, 90, 60, 30)
    }
    for decision in decisions[:20]:
        assert decision.snapshot["as_of"] == timezone.localtime(decision.decided_at).date().isoformat()
    # Work waiting: referred applications, loans in arrears and defaulted, deferral requests.
    assert LoanApplication.objects.filter(state=ApplicationState.REFERRED).count() >= 2
    assert Loan.objects.filter(state=LoanState.OVERDUE, days_past_due__gt=0).exists()
    assert Loan.objects.filter(state=LoanState.DEFAULTED, days_past_due__gte=90).exists()
    assert Loan.objects.filter(state=LoanState.PAID_OFF).exists()
    assert DeferralRequest.objects.filter(status=DeferralRequest.Status.PENDING).count() >= 2
    assert CollectionContact.objects.exists()
    # Money only from a rail or an officer: every loan paid out by the rail, every payment a recorded bank
    # transfer or a share of sales; every loan serviced by the nightly job up to today.
    assert not Disbursement.objects.exclude(status=Disbursement.Status.SUCCEEDED).exists()
    assert set(Payment.objects.values_list("source", flat=True)) <= {PaymentSource.OFFICER, PaymentSource.SALES_SHARE}
    assert Payment.objects.filter(source=PaymentSource.OFFICER).count() == BankTransfer.objects.count()
    assert set(
        Loan.objects.filter(state__in=(LoanState.ACTIVE, LoanState.OVERDUE)).values_list("serviced_on", flat=True)
    ) == {today}
    # The monitoring page has its months, with a drift figure for those with enough decisions.
    report = monitoring_report(scorecard=Scorecard.objects.get(state="active"))
    assert len(report.history) >= 6
    assert sum(row.psi is not None for row in report.history) >= 4
    # And the officers find the queues on the index.
    client.login(email="officer@demo.example", password=DEMO_PASSWORD)
    index = client.get("/admin/").content.decode()
    referred = LoanApplication.objects.filter(state=ApplicationState.REFERRED).count()
    assert f"{referred} waiting" in index


def test_a_later_load_runs_the_nightly_jobs_for_the_days_the_demo_missed(merchant_owner):
    underwriting_seed()
    today = timezone.localdate()
    loan = make_loan(
        make_verified_merchant(merchant_owner), servicing_product_make(), start=today - datetime.timedelta(days=45)
    )
    # As the history leaves it: replayed up to three days ago.
    audit_record(
        subject=Scorecard.objects.get(),
        action="demo.history",
        data={"from": "2026-01-01", "through": (today - datetime.timedelta(days=3)).isoformat()},
    )

    days = demo_days_catch_up(today=today)

    assert days == 3
    loan.refresh_from_db()
    assert loan.serviced_on == today
    assert loan.state == LoanState.OVERDUE
    assert AuditEvent.objects.get(action="demo.days").data["through"] == today.isoformat()
    before = (loan.days_past_due, list(Instalment.objects.filter(loan=loan).values_list("penalty_due", flat=True)))
    assert demo_days_catch_up(today=today) == 0
    loan.refresh_from_db()
    assert (
        loan.days_past_due,
        list(Instalment.objects.filter(loan=loan).values_list("penalty_due", flat=True)),
    ) == before


def test_output_names_every_login_the_password_the_address_and_the_partner_token(settings):
    settings.STAFF_MFA_REQUIRED = False

    output = load_demo()

    for email in LOGINS:
        assert email in output
    assert f"the same password for all): {DEMO_PASSWORD}" in output
    assert "http://127.0.0.1:8000" in output
    assert f"Partner API token: {Token.objects.get(user__email='partner@demo.example').key}" in output
    assert "Staff second factor is relaxed in this demo (STAFF_MFA_REQUIRED=false)" in output


def test_output_says_staff_need_a_second_factor_when_it_is_required(settings):
    settings.STAFF_MFA_REQUIRED = True

    output = load_demo()

    assert "Staff second factor is required" in output
    assert "relaxed" not in output


def test_every_demo_user_has_its_role_and_a_verified_address():
    load_demo()

    for email, role in LOGINS.items():
        user = User.objects.get(email=email)
        assert user.is_staff == (email in STAFF), email
        assert EmailAddress.objects.filter(user=user, email=email, verified=True, primary=True).exists(), email
        roles = set(user.groups.values_list("name", flat=True))
        assert roles == ({role.value} if role else set()), email
    assert User.objects.get(email="admin@demo.example").is_superuser
    assert User.objects.get(email="officer@demo.example").is_officer


def test_every_demo_login_signs_in_through_the_portal_form_without_an_email_code(client):
    load_demo()

    for email in LOGINS:
        response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert response["Location"] != reverse("account_email_verification_sent"), email
        assert int(client.session["_auth_user_id"]) == User.objects.get(email=email).pk
        client.logout()


def test_the_first_merchant_is_verified_with_24_months_of_sales():
    load_demo()

    merchant = Merchant.objects.get(owner__email="merchant@demo.example")
    assert merchant.kyc_state == KycState.VERIFIED
    assert merchant.missing_profile_fields() == []
    days = merchant.sales_days.order_by("date")
    assert days.count() == 730
    assert (days.last().date - days.first().date).days == 729
    assert AuditEvent.objects.filter(object_id=str(merchant.pk), action="kyc.seed_verified").count() == 1


def test_the_second_merchant_has_a_half_filled_draft_to_finish():
    load_demo()

    merchant = Merchant.objects.get(owner__email="merchant2@demo.example")
    assert merchant.kyc_state == KycState.DRAFT
    assert merchant.legal_name
    assert "credit_code" in merchant.missing_profile_fields()
    assert "legal_rep_id_number" in merchant.missing_profile_fields()
    assert not merchant.sales_days.exists()


def test_a_second_run_keeps_what_visitors_changed():
    load_demo()
    merchant2 = Merchant.objects.get(owner__email="merchant2@demo.example")
    merchant2.city = "宁波"
    merchant2.save()
    officer = User.objects.get(email="officer@demo.example")
    officer.set_password("changed-by-the-officer")
    officer.save()

    load_demo()

    assert Merchant.objects.get(owner__email="merchant2@demo.example").city == "宁波"
    assert User.objects.get(email="officer@demo.example").check_password("changed-by-the-officer")


def test_a_demoted_demo_officer_is_put_back_so_the_printed_login_works():
    load_demo()
    User.objects.filter(email="officer@demo.example").update(is_staff=False, is_active=False)

    load_demo()

    officer = User.objects.get(email="officer@demo.example")
    assert officer.is_staff
    assert officer.is_active


def test_seeded_portfolio_merchants_sign_in_with_the_same_password(client):
    load_demo()

    assert Group.objects.get(name=Role.MERCHANT_OWNER).user_set.filter(email="shop1@demo.example").exists()
    assert client.login(email="shop1@demo.example", password=DEMO_PASSWORD)


def test_the_four_demo_products_are_loaded_once(db):
    load_demo()
    load_demo()

    assert sorted(LoanProduct.objects.filter(is_active=True).values_list("kind", flat=True)) == sorted(
        ["short_term_working_capital", "operating_loan", "instalment_loan", "sales_share_advance"]
    )


def test_the_verified_demo_merchant_is_shown_a_pre_approved_limit(client, db):
    load_demo()

    assert client.login(email="merchant@demo.example", password=DEMO_PASSWORD)
    limit = Merchant.objects.get(owner__email="merchant@demo.example").pre_approved_limit
    assert limit.amount > 0
    page = client.get(reverse("merchants:dashboard")).content.decode()
    assert "Pre-approved up to ¥" in page
    assert f"{limit.amount:,.2f}" in page
