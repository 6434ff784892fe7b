"""Fraud signals on hand-built merchants and histories, and the services that raise and resolve alerts."""

import datetime
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection

from accounts.roles import Role
from accounts.tests.factories import make_user
from core.selectors.audit import audit_trail
from merchants.models import Merchant
from merchants.services.demo import demo_email, seed_merchants
from merchants.tests.factories import MerchantFactory, SalesDayFactory
from underwriting.choices import FraudSignal
from underwriting.models import FraudAlert
from underwriting.selectors.fraud_signals import detect_signals
from underwriting.services.fraud import (
    FraudAlertError,
    fraud_alert_clear,
    fraud_alert_confirm,
    fraud_alerts_raise,
)

# Decided on 10 August 2025: the last full month is July, the six before it January to June.
AS_OF = datetime.date(2025, 8, 10)
SEASONED = SimpleNamespace(months_active=24, monthly_sales_avg=Decimal("50000.00"))
BASELINE = {1: "10000", 2: "10000", 3: "12000", 4: "9000", 5: "11000", 6: "10000"}  # median 10,000


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="underwriting", codename__in=codenames)
    )


def signals(merchant, *, features=SEASONED, amount="50000", applications=1, as_of=AS_OF):
    return detect_signals(
        merchant=merchant,
        features=features,
        requested_amount=Decimal(amount),
        applications_last_30_days=applications,
        as_of=as_of,
    )


def hit_for(hits, signal):
    found = [hit for hit in hits if hit.signal == signal]
    return found[0] if found else None


def month_sales(merchant, totals: dict[int, str], *, year=2025, day=15):
    for month, total in totals.items():
        SalesDayFactory(merchant=merchant, date=datetime.date(year, month, day), gross_sales=Decimal(total))


# Shared identities.


def test_settlement_account_shared_with_another_merchant_is_a_signal(merchant, other_merchant):
    other_merchant.settlement_account_number = merchant.settlement_account_number
    other_merchant.save()
    hit = hit_for(signals(merchant), FraudSignal.SHARED_BANK_ACCOUNT)
    assert hit is not None
    assert hit.details == {
        "account_last4": merchant.settlement_account_number[-4:],
        "other_merchant_ids": [other_merchant.pk],
        "other_merchant_count": 1,
    }
    assert f"ending {merchant.settlement_account_number[-4:]}" in hit.message_en
    assert "1 other merchant on the platform" in hit.message_en
    assert "另外 1 家商户" in hit.message_zh


def test_shared_signal_never_names_the_other_merchant(merchant, other_merchant):
    other_merchant.settlement_account_number = merchant.settlement_account_number
    other_merchant.legal_rep_id_number = merchant.legal_rep_id_number
    other_merchant.save()
    for hit in signals(merchant):
        assert other_merchant.legal_name not in hit.message_en + hit.message_zh + str(hit.details)


def test_legal_rep_id_shared_with_two_merchants_lists_both_and_stores_the_id_masked(merchant):
    twins = [MerchantFactory(legal_rep_id_number=merchant.legal_rep_id_number) for _ in range(2)]
    hit = hit_for(signals(merchant), FraudSignal.SHARED_ID_NUMBER)
    assert hit.details["other_merchant_ids"] == sorted(twin.pk for twin in twins)
    assert hit.details["other_merchant_count"] == 2
    assert hit.details["id_number_masked"] == merchant.masked_id_number
    assert merchant.legal_rep_id_number not in str(hit.details) + hit.message_en + hit.message_zh
    assert "2 other merchants" in hit.message_en
    assert hit_for(signals(merchant), FraudSignal.SHARED_BANK_ACCOUNT) is None


def test_own_identity_and_other_merchants_distinct_details_are_not_a_signal(merchant, other_merchant):
    hits = signals(merchant)
    assert hit_for(hits, FraudSignal.SHARED_BANK_ACCOUNT) is None
    assert hit_for(hits, FraudSignal.SHARED_ID_NUMBER) is None


def test_blank_account_and_id_are_not_shared_values(db):
    first = MerchantFactory(settlement_account_number="", legal_rep_id_number="")
    MerchantFactory(settlement_account_number="", legal_rep_id_number="")
    assert signals(first) == []


# Window dressing.


def test_last_month_above_twice_the_six_month_median_is_window_dressing(merchant):
    month_sales(merchant, {**BASELINE, 7: "20000.01"})
    hit = hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING)
    assert hit.details == {
        "month": "2025-07",
        "month_sales": "20000.01",
        "baseline_months": ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"],
        "baseline_median": "10000.00",
        "ratio": "2.00",
        "factor": "2",
    }
    assert "Sales in 2025-07 (¥20,000.01)" in hit.message_en
    assert "median month of the 6 months before (¥10,000.00)" in hit.message_en
    assert "2025年7月的销售额（¥20,000.01）" in hit.message_zh


def test_last_month_exactly_twice_the_median_is_not_window_dressing(merchant):
    month_sales(merchant, {**BASELINE, 7: "20000.00"})
    assert hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING) is None


def test_days_of_a_month_are_summed_before_the_comparison(merchant):
    month_sales(merchant, BASELINE)
    for day in range(1, 16):
        SalesDayFactory(merchant=merchant, date=datetime.date(2025, 7, day), gross_sales=Decimal("1500.00"))
    hit = hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING)
    assert hit.details["month_sales"] == "22500.00"
    assert hit.details["ratio"] == "2.25"


def test_the_running_month_is_not_the_last_full_month(merchant):
    month_sales(merchant, {**BASELINE, 7: "10000"})
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 8, 5), gross_sales=Decimal("900000.00"))
    assert hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING) is None


def test_months_before_the_baseline_window_do_not_count(merchant):
    # December 2024 is seven months before July: outside the six-month baseline.
    month_sales(merchant, {12: "1"}, year=2024)
    month_sales(merchant, {**BASELINE, 7: "20000.01"})
    hit = hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING)
    assert hit.details["baseline_median"] == "10000.00"


def test_window_dressing_factor_comes_from_settings(merchant, settings):
    settings.UNDERWRITING_WINDOW_DRESSING_FACTOR = 3.0
    month_sales(merchant, {**BASELINE, 7: "30000.00"})
    assert hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING) is None
    SalesDayFactory(merchant=merchant, date=datetime.date(2025, 7, 16), gross_sales=Decimal("0.01"))
    hit = hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING)
    assert hit.details["factor"] == "3"
    assert "more than 3 times is unusual" in hit.message_en


def test_too_short_a_baseline_is_not_compared_until_settings_allow_it(merchant, settings):
    month_sales(merchant, {5: "10000", 6: "10000", 7: "90000"})
    assert hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING) is None
    settings.UNDERWRITING_WINDOW_DRESSING_MIN_MONTHS = 2
    hit = hit_for(signals(merchant), FraudSignal.WINDOW_DRESSING)
    assert hit.details["baseline_months"] == ["2025-05", "2025-06"]
    assert hit.details["ratio"] == "9.00"


def test_demo_data_window_dresser_and_shared_identity_are_caught_and_a_steady_merchant_is_not(db):
    # The first nine demo merchants have one pattern each: 0 steady, 7 window dressing, 8 shares
    # 7's identity. Sales end on 31 July, so the dressing ramps through the last full month.
    seed_merchants(count=9, seed=11, days=240, end_date=datetime.date(2025, 7, 31))
    by_index = {merchant.owner.email: merchant for merchant in Merchant.objects.select_related("owner")}
    steady, dresser, twin = (by_index[demo_email(index)] for index in (0, 7, 8))
    as_of = datetime.date(2025, 8, 1)
    assert signals(steady, as_of=as_of) == []
    assert [hit.signal for hit in signals(dresser, as_of=as_of)] == [
        FraudSignal.SHARED_BANK_ACCOUNT,
        FraudSignal.SHARED_ID_NUMBER,
        FraudSignal.WINDOW_DRESSING,
    ]
    assert hit_for(signals(twin, as_of=as_of), FraudSignal.SHARED_ID_NUMBER).details["other_merchant_ids"] == [
        dresser.pk
    ]


# Application velocity.


def test_three_applications_in_thirty_days_is_velocity(merchant):
    hit = hit_for(signals(merchant, applications=3), FraudSignal.APPLICATION_VELOCITY)
    assert hit.details == {"applications_last_30_days": 3, "threshold": 3}
    assert hit.message_en.startswith("3 loan applications in the last 30 days")
    assert "过去 30 天内提交了 3 笔贷款申请" in hit.message_zh


def test_two_applications_in_thirty_days_is_not_velocity(merchant):
    assert hit_for(signals(merchant, applications=2), FraudSignal.APPLICATION_VELOCITY) is None


def test_velocity_threshold_comes_from_settings(merchant, settings):
    settings.UNDERWRITING_VELOCITY_APPLICATIONS = 5
    assert hit_for(signals(merchant, applications=4), FraudSignal.APPLICATION_VELOCITY) is None
    assert hit_for(signals(merchant, applications=5), FraudSignal.APPLICATION_VELOCITY).details["threshold"] == 5


# Young merchant, large amount.

YOUNG = SimpleNamespace(months_active=5, monthly_sales_avg=Decimal("10000.00"))


def test_young_merchant_asking_above_three_months_of_sales_is_a_signal(merchant):
    hit = hit_for(signals(merchant, features=YOUNG, amount="30000.01"), FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT)
    assert hit.details == {
        "months_active": 5,
        "monthly_sales_avg": "10000.00",
        "requested_amount": "30000.01",
        "sales_multiple": "3",
        "max_amount": "100000.00",
        "exceeds": ["sales_multiple"],
    }
    assert hit.message_en == (
        "A merchant trading for 5 months (under 6) asks for ¥30,000.01, "
        "more than 3 times its average monthly sales (¥10,000.00)."
    )
    assert "商户仅经营 5 个月" in hit.message_zh


def test_young_merchant_asking_exactly_three_months_of_sales_is_not_a_signal(merchant):
    assert signals(merchant, features=YOUNG, amount="30000.00") == []


def test_young_merchant_with_big_sales_asking_above_the_absolute_amount_is_a_signal(merchant):
    big = SimpleNamespace(months_active=2, monthly_sales_avg=Decimal("100000"))
    hit = hit_for(signals(merchant, features=big, amount="100000.01"), FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT)
    assert hit.details["exceeds"] == ["max_amount"]
    assert "more than ¥100,000.00" in hit.message_en
    assert signals(merchant, features=big, amount="100000.00") == []


def test_six_months_active_is_no_longer_young(merchant):
    seasoned = SimpleNamespace(months_active=6, monthly_sales_avg=Decimal("1000"))
    assert signals(merchant, features=seasoned, amount="500000") == []


def test_a_merchant_without_history_asking_for_anything_is_a_signal(merchant):
    nothing = SimpleNamespace(months_active=None, monthly_sales_avg=None)
    hit = hit_for(signals(merchant, features=nothing, amount="1000"), FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT)
    assert hit.details["months_active"] == 0
    assert hit.details["monthly_sales_avg"] == "0.00"


def test_young_merchant_thresholds_come_from_settings(merchant, settings):
    settings.UNDERWRITING_YOUNG_MERCHANT_MONTHS = 3
    settings.UNDERWRITING_YOUNG_MERCHANT_SALES_MULTIPLE = "5"
    settings.UNDERWRITING_YOUNG_MERCHANT_MAX_AMOUNT = 40000
    assert signals(merchant, features=YOUNG, amount="1000000") == []  # 5 months is no longer young
    two_months = SimpleNamespace(months_active=2, monthly_sales_avg=Decimal("10000"))
    assert signals(merchant, features=two_months, amount="40000") == []
    hit = hit_for(signals(merchant, features=two_months, amount="50000.01"), FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT)
    assert hit.details["exceeds"] == ["sales_multiple", "max_amount"]


# Cost.


def test_detection_runs_two_queries_whatever_the_length_of_the_history(merchant, django_assert_num_queries):
    with django_assert_num_queries(2):
        signals(merchant)
    start = datetime.date(2023, 8, 1)
    for offset in range(730):
        SalesDayFactory(merchant=merchant, date=start + datetime.timedelta(days=offset))
    with django_assert_num_queries(2):
        signals(merchant)


def test_several_signals_fire_together_in_signal_order(merchant, other_merchant):
    other_merchant.settlement_account_number = merchant.settlement_account_number
    other_merchant.save()
    month_sales(merchant, {**BASELINE, 7: "50000"})
    hits = signals(merchant, features=YOUNG, amount="200000", applications=4)
    assert [hit.signal for hit in hits] == [
        FraudSignal.SHARED_BANK_ACCOUNT,
        FraudSignal.WINDOW_DRESSING,
        FraudSignal.APPLICATION_VELOCITY,
        FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT,
    ]


# Raising alerts.


def test_raising_opens_one_alert_per_signal_with_an_audit_row(merchant):
    hits = signals(merchant, applications=4, features=YOUNG, amount="200000")
    alerts = fraud_alerts_raise(merchant=merchant, hits=hits)
    assert sorted(alert.signal for alert in alerts) == sorted(
        [FraudSignal.APPLICATION_VELOCITY, FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT]
    )
    velocity = FraudAlert.objects.get(signal=FraudSignal.APPLICATION_VELOCITY)
    assert velocity.status == FraudAlert.Status.OPEN
    assert velocity.details["applications_last_30_days"] == 4
    assert velocity.details["message_zh"].startswith("过去 30 天内")
    (event,) = audit_trail(velocity)
    assert (event.action, event.actor, event.to_state) == ("fraud_alert.raise", None, "open")


def test_raising_again_while_an_alert_is_open_adds_nothing(merchant):
    hits = signals(merchant, applications=4)
    fraud_alerts_raise(merchant=merchant, hits=hits)
    assert fraud_alerts_raise(merchant=merchant, hits=hits) == []
    assert FraudAlert.objects.count() == 1


# Resolving alerts.


@pytest.fixture
def alert(merchant):
    (raised,) = fraud_alerts_raise(merchant=merchant, hits=signals(merchant, applications=4))
    return raised


@pytest.fixture
def resolver(loan_officer):
    grant(loan_officer, "view_fraudalert", "change_fraudalert")
    return loan_officer


def test_clearing_an_open_alert_records_who_why_and_one_audit_row(alert, resolver):
    cleared = fraud_alert_clear(alert=alert, by=resolver, note="Three applications were one, resubmitted.")
    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.CLEARED == cleared.status
    assert alert.resolved_by == resolver
    assert alert.resolved_at is not None
    assert alert.resolution_note == "Three applications were one, resubmitted."
    event = audit_trail(alert).last()
    assert (event.action, event.actor, event.from_state, event.to_state, event.reason) == (
        "fraud_alert.clear",
        resolver,
        "open",
        "cleared",
        "Three applications were one, resubmitted.",
    )
    assert audit_trail(alert).count() == 2  # raised, cleared


def test_confirming_an_open_alert_marks_it_confirmed(alert, resolver):
    fraud_alert_confirm(alert=alert, by=resolver, note="Same people behind four shells.")
    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.CONFIRMED
    assert audit_trail(alert).last().action == "fraud_alert.confirm"


@pytest.mark.parametrize("service", [fraud_alert_clear, fraud_alert_confirm])
def test_an_alert_already_resolved_is_refused_and_unchanged(alert, resolver, service):
    fraud_alert_confirm(alert=alert, by=resolver, note="Fraud.")
    with pytest.raises(FraudAlertError) as refused:
        service(alert=alert, by=resolver, note="Second look.")
    assert refused.value.messages == [
        "This alert is already confirmed fraud; only open alerts can be cleared or confirmed."
    ]
    alert.refresh_from_db()
    assert (alert.status, alert.resolution_note) == (FraudAlert.Status.CONFIRMED, "Fraud.")
    assert audit_trail(alert).count() == 2


@pytest.mark.parametrize("note", ["", "   "])
def test_a_note_is_required(alert, resolver, note):
    with pytest.raises(FraudAlertError) as refused:
        fraud_alert_clear(alert=alert, by=resolver, note=note)
    assert refused.value.messages[0].startswith("Note: say why the alert is being closed")
    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.OPEN


def test_staff_without_the_permission_cannot_resolve(alert, staff_without_role, merchant_owner):
    for user in (staff_without_role, merchant_owner):
        with pytest.raises(PermissionDenied):
            fraud_alert_clear(alert=alert, by=user, note="Looks fine.")
    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.OPEN
    assert audit_trail(alert).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_resolving_at_once_only_one_succeeds(merchant):
    (alert,) = fraud_alerts_raise(merchant=merchant, hits=signals(merchant, applications=4))
    officers = [make_user(Role.LOAN_OFFICER, email=f"officer{n}@loanportal.example", staff=True) for n in range(2)]
    for officer in officers:
        grant(officer, "change_fraudalert")
    barrier = threading.Barrier(2)
    outcomes = []

    def resolve(officer, service):
        try:
            barrier.wait()
            service(alert=alert, by=officer, note=f"by {officer.email}")
            outcomes.append("ok")
        except FraudAlertError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=(officers[0], fraud_alert_clear)),
        threading.Thread(target=resolve, args=(officers[1], fraud_alert_confirm)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    alert.refresh_from_db()
    assert alert.status in (FraudAlert.Status.CLEARED, FraudAlert.Status.CONFIRMED)
    assert audit_trail(alert).count() == 2
