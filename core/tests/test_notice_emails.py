"""Notice emails go out at least once: queued at the commit, and swept up later when the queue never ran them."""

import datetime
from unittest import mock

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import Notice
from core.services.notices import UNSENT_GRACE, notice_email_send, notices_email_unsent, notify

pytestmark = pytest.mark.django_db
MINUTE = datetime.timedelta(minutes=1)


def notice_for(merchant, capture, *, execute: bool = True) -> Notice:
    with capture(execute=execute), transaction.atomic():
        return notify(user_id=merchant.owner_id, title="Your statement is ready", body="See it.", url="/loans/1/")


def test_a_notice_is_emailed_once_after_the_commit_and_recorded(
    merchant, django_capture_on_commit_callbacks, mailoutbox
):
    notice = notice_for(merchant, django_capture_on_commit_callbacks)

    notice.refresh_from_db()
    assert [mail.subject for mail in mailoutbox] == ["Your statement is ready"]
    assert notice.emailed_at is not None
    assert notice_email_send(notice_id=notice.pk) is False
    assert len(mailoutbox) == 1


def test_an_email_the_broker_never_took_is_sent_by_the_sweep(merchant, django_capture_on_commit_callbacks, mailoutbox):
    with mock.patch("core.tasks.notice_email_task.delay", side_effect=ConnectionError("broker down")):
        notice = notice_for(merchant, django_capture_on_commit_callbacks)
    assert mailoutbox == []
    notice.refresh_from_db()
    assert notice.emailed_at is None

    sent = notices_email_unsent(now=timezone.now() + UNSENT_GRACE + MINUTE)

    notice.refresh_from_db()
    assert sent == 1
    assert [mail.to for mail in mailoutbox] == [[merchant.owner.email]]
    assert mailoutbox[0].body == "See it.\n\n/loans/1/"
    assert notice.emailed_at is not None
    assert notices_email_unsent(now=timezone.now() + UNSENT_GRACE + MINUTE) == 0
    assert len(mailoutbox) == 1


def test_the_sweep_leaves_the_first_minutes_to_the_queued_task(
    merchant, django_capture_on_commit_callbacks, mailoutbox
):
    notice_for(merchant, django_capture_on_commit_callbacks, execute=False)

    assert notices_email_unsent(now=timezone.now() + UNSENT_GRACE - MINUTE) == 0
    assert mailoutbox == []


def test_the_sweep_gives_up_on_notices_older_than_two_days(merchant, django_capture_on_commit_callbacks, mailoutbox):
    notice = notice_for(merchant, django_capture_on_commit_callbacks, execute=False)

    assert notices_email_unsent(now=notice.created_at + datetime.timedelta(days=2, minutes=1)) == 0
    assert mailoutbox == []


def test_a_mail_server_failure_leaves_the_notice_to_be_sent_again(
    merchant, django_capture_on_commit_callbacks, mailoutbox
):
    notice = notice_for(merchant, django_capture_on_commit_callbacks, execute=False)

    with (
        mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=OSError("smtp down")),
        pytest.raises(OSError, match="smtp down"),
    ):
        notice_email_send(notice_id=notice.pk)

    notice.refresh_from_db()
    assert notice.emailed_at is None
    assert notice_email_send(notice_id=notice.pk) is True
    assert len(mailoutbox) == 1


def test_a_user_without_an_address_is_recorded_and_not_swept_again(
    merchant, django_capture_on_commit_callbacks, mailoutbox
):
    notice = notice_for(merchant, django_capture_on_commit_callbacks, execute=False)
    type(merchant.owner).objects.filter(pk=merchant.owner.pk).update(email="")

    assert notices_email_unsent(now=timezone.now() + UNSENT_GRACE + MINUTE) == 0

    notice.refresh_from_db()
    assert notice.emailed_at is not None
    assert mailoutbox == []


def test_beat_runs_the_sweep_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["notices-email-unsent"]

    assert entry == {"task": "core.tasks.notices_email_unsent_task", "schedule": 600}
