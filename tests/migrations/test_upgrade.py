"""A database migrated by the previous release migrates forward to this one with every row, name and reference kept.

The previous release's last migrations are pinned below. The test takes the test database back to them, writes a
small book of business through the historical models (a merchant with sales, a product, an application, a loan with
its schedule, a scorecard with a categorical bin, audit rows pointing at the loan), migrates forward to the latest
migrations and reads it all back through today's models. The lending contexts are packages inside the one
``lending`` app, so the loan's content type, and the audit trail's reference to it, must be the same row.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

PREVIOUS_RELEASE = [
    ("accounts", "0001_initial"),
    ("core", "0004_notice_emailed_at"),
    ("merchants", "0002_credit_code_message"),
    ("underwriting", "0001_initial"),
    ("lending", "0009_product_deferral_terms"),
]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_a_database_of_the_previous_release_migrates_forward_with_every_row_kept():
    old = _migrate(PREVIOUS_RELEASE)
    user = old.get_model("accounts", "User").objects.create(email="owner@example.com", password="!")
    merchant = old.get_model("merchants", "Merchant").objects.create(owner=user, legal_name="杭州老店有限公司")
    old.get_model("merchants", "SalesDay").objects.create(
        merchant=merchant,
        date=datetime.date(2026, 11, 30),
        gross_sales=Decimal("1234.56"),
        refunds=Decimal("0.00"),
        transaction_count=12,
        distinct_customers=9,
    )
    product = old.get_model("lending", "LoanProduct").objects.create(
        code="operating",
        name_zh="经营贷",
        name_en="Operating loan",
        kind="operating_loan",
        amount_min=Decimal("10000.00"),
        amount_max=Decimal("500000.00"),
    )
    application = old.get_model("lending", "LoanApplication").objects.create(
        merchant=merchant, product=product, amount=Decimal("20000.00"), repayment_method="equal_instalment"
    )
    loan = old.get_model("lending", "Loan").objects.create(
        application=application,
        merchant=merchant,
        product=product,
        principal=Decimal("20000.00"),
        term=12,
        term_unit="months",
        repayment_method="equal_instalment",
        grade="C",
        price=Decimal("0.120000"),
        apr=Decimal("12.68"),
        net_disbursement=Decimal("19800.00"),
        start_date=datetime.date(2026, 11, 1),
        maturity_date=datetime.date(2027, 11, 1),
        state="active",
    )
    old.get_model("lending", "Instalment").objects.create(
        loan=loan,
        number=1,
        due_date=datetime.date(2026, 12, 1),
        principal_due=Decimal("1577.02"),
        interest_due=Decimal("200.00"),
        fee_due=Decimal("0.00"),
        principal_paid=Decimal("500.00"),
    )
    scorecard = old.get_model("underwriting", "Scorecard").objects.create(
        name="expert", version=1, approve_min_score=565, refer_min_score=545
    )
    old.get_model("underwriting", "ScorecardBin").objects.create(
        scorecard=scorecard, feature="industry", category="catering", points=12
    )
    content_types = old.get_model("contenttypes", "ContentType")
    loan_type = content_types.objects.get_or_create(app_label="lending", model="loan")[0]
    old.get_model("core", "AuditEvent").objects.create(
        action="loan.activate", from_state="pending_disbursement", to_state="active", content_type=loan_type,
        object_id=str(loan.pk),
    )

    _migrate(_latest())

    from core.models import AuditEvent
    from core.selectors.audit import audit_trail
    from lending.origination.models import LoanApplication
    from lending.servicing.models import Instalment, Loan
    from merchants.models import SalesDay
    from underwriting.engine.scoring import scorecard_load
    from underwriting.models import Scorecard

    upgraded = Loan.objects.select_related("application", "merchant", "product").get(pk=loan.pk)
    assert (upgraded.principal, upgraded.state, upgraded.merchant.legal_name) == (
        Decimal("20000.00"),
        "active",
        "杭州老店有限公司",
    )
    assert upgraded.application == LoanApplication.objects.get(pk=application.pk)
    assert Instalment.objects.get(loan=upgraded).owed() == Decimal("1277.02")
    assert SalesDay.objects.get(merchant_id=merchant.pk).gross_sales == Decimal("1234.56")
    # The audit trail still finds the loan's history: its content type is the same row under the same label.
    [event] = audit_trail(upgraded)
    assert event.content_type_id == loan_type.pk
    assert AuditEvent.objects.get(pk=event.pk).subject == upgraded
    # A scorecard made before bins kept full labels still scores its categories by their code.
    [line] = scorecard_load(Scorecard.objects.get(pk=scorecard.pk)).bins["industry"]
    assert line.contains("catering")
