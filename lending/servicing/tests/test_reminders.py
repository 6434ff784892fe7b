"""Reminders: three days before, on the day, and overdue (1, 7, 30 days), in the inbox and by email, each once."""

from datetime import date, timedelta

import pytest
from django.core import mail

from core.models import Notice
from lending.servicing.models import Reminder
from lending.servicing.services.daily import servicing_reminders
from lending.servicing.tests.factories import instalment, make_loan, pay_in_full, servicing_product_make

pytestmark = pytest.mark.django_db

DUE = date(2027, 2, 15)  # instalment 1 of a loan started 15 Jan 2027


@pytest.fixture
def servicing_product(db):
    return servicing_product_make()


def run(on: date, capture) -> dict:
    with capture(execute=True):
        return servicing_reminders(on=on)


def test_merchant_is_reminded_three_days_before_the_due_date_in_the_inbox_and_by_email(
    merchant, servicing_product, django_capture_on_commit_callbacks
):
    loan = make_loan(merchant, servicing_product)
    counts = run(DUE - timedelta(days=3), django_capture_on_commit_callbacks)
    assert counts["reminders_due_soon"] == 1
    reminder = Reminder.objects.get()
    assert (reminder.instalment, reminder.kind, reminder.sent_on) == (
        instalment(loan, 1),
        "due_soon",
        date(2027, 2, 12),
    )
    notice = Notice.objects.get(user=merchant.owner)
    assert notice.title == f"Instalment 1 of loan #{loan.pk} is due on 2027-02-15"
    assert "1,100.00 yuan is due on 2027-02-15" in notice.body
    assert notice.url == f"/loans/{loan.pk}/" or notice.url.endswith(f"/{loan.pk}/")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [merchant.owner.email]
    assert mail.outbox[0].subject == notice.title


def test_a_reminder_is_never_sent_twice(merchant, servicing_product, django_capture_on_commit_callbacks):
    make_loan(merchant, servicing_product)
    run(DUE - timedelta(days=3), django_capture_on_commit_callbacks)
    again = run(DUE - timedelta(days=3), django_capture_on_commit_callbacks)
    next_day = run(DUE - timedelta(days=2), django_capture_on_commit_callbacks)
    assert again["notices"] == 0
    assert next_day["notices"] == 0
    assert Reminder.objects.count() == 1
    assert Notice.objects.count() == 1
    assert len(mail.outbox) == 1


def test_due_today_and_the_overdue_reminders_escalate_on_their_days(
    merchant, servicing_product, django_capture_on_commit_callbacks
):
    make_loan(merchant, servicing_product, months=1)
    sent = {}
    day = DUE - timedelta(days=5)
    while day <= DUE + timedelta(days=40):
        run(day, django_capture_on_commit_callbacks)
        day += timedelta(days=1)
    sent = dict(Reminder.objects.values_list("kind", "sent_on"))
    assert sent == {
        "due_soon": date(2027, 2, 12),
        "due_today": DUE,
        "overdue_1": date(2027, 2, 16),
        "overdue_7": date(2027, 2, 22),
        "overdue_30": date(2027, 3, 17),
    }
    titles = list(Notice.objects.order_by("id").values_list("title", flat=True))
    assert titles[1].endswith("is due today")
    assert titles[2].endswith("is overdue")
    assert len(mail.outbox) == 5


def test_a_day_the_job_did_not_run_is_caught_up_once(merchant, servicing_product, django_capture_on_commit_callbacks):
    make_loan(merchant, servicing_product, months=1)
    run(DUE - timedelta(days=1), django_capture_on_commit_callbacks)  # missed 12 and 13 Feb
    assert list(Reminder.objects.values_list("kind", "sent_on")) == [("due_soon", DUE - timedelta(days=1))]


def test_a_paid_instalment_gets_no_reminder(merchant, servicing_product, django_capture_on_commit_callbacks):
    loan = make_loan(merchant, servicing_product)
    pay_in_full(instalment(loan, 1), DUE - timedelta(days=10))
    counts = run(DUE, django_capture_on_commit_callbacks)
    assert counts["notices"] == 0
    assert not Reminder.objects.exists()
    assert mail.outbox == []


def test_a_paid_off_loan_gets_no_reminder(merchant, servicing_product, django_capture_on_commit_callbacks):
    make_loan(merchant, servicing_product, state="paid_off")
    assert run(DUE, django_capture_on_commit_callbacks)["notices"] == 0


def test_emails_are_queued_in_batches_after_commit(merchant, servicing_product, django_capture_on_commit_callbacks):
    for _ in range(3):
        make_loan(merchant, servicing_product)
    with django_capture_on_commit_callbacks() as callbacks:
        servicing_reminders(on=DUE)
    assert len(callbacks) == 1  # one batch for the three notices
    assert mail.outbox == []  # nothing is sent before the commit
