"""The notices outbox: an in-app notice to a user, with the same message by email, for each step they must know about.

``notify`` is called by services inside their transaction: the notice row commits (or rolls back) with
the state change it announces, and the email is queued only after the commit, so a rolled-back step never
emails anyone and a slow mail server never holds a row lock.

Every email is sent at least once: a notice records when its email went out (``emailed_at``), and
``notices_email_unsent`` (beat, every ten minutes) sends those still waiting after ten minutes: the broker was down
when the step committed, or the task gave up. The senders skip notices already emailed and the sweep leaves the first
ten minutes to the task queued at the commit, so an email goes out twice only when a mail server fails in the middle
of a batch (the batch is sent again, the messages before the failure included).

The text is rendered in the language active when the notice is made (the merchant's own request, or the
portal's default language for the nightly jobs): a notice is a record of what the merchant was told.
"""

import datetime

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from core.models import Notice
from core.transactions import task_on_commit


def notify(*, user_id: int, title: str, body: str = "", url: str = "") -> Notice:
    """Create a notice for the user and email it after the surrounding transaction commits.

    ``url`` is a path inside the portal (``reverse(...)``); the email turns it into a full link when
    ``settings.PORTAL_BASE_URL`` is set.
    """
    notice = Notice.objects.create(
        user_id=user_id,
        title=str(title)[: Notice._meta.get_field("title").max_length],
        body=str(body),
        url=str(url)[: Notice._meta.get_field("url").max_length],
    )
    # A broker that is down at the commit is logged, never an error page: the notice is in the inbox, and the sweep
    # emails it.
    task_on_commit("core.tasks.notice_email_task", notice.pk)
    return notice


# Emails for a batch of notices go out over one mail connection per this many notices.
EMAIL_BATCH_SIZE = 200


def notify_many(*, notices: list[Notice]) -> list[Notice]:
    """Create many notices with one insert (the nightly reminders) and email them in batches after the commit."""
    title_max = Notice._meta.get_field("title").max_length
    url_max = Notice._meta.get_field("url").max_length
    for notice in notices:
        notice.title = str(notice.title)[:title_max]
        notice.url = str(notice.url)[:url_max]
    created = Notice.objects.bulk_create(notices)
    notice_ids = [notice.pk for notice in created]
    for start in range(0, len(notice_ids), EMAIL_BATCH_SIZE):
        task_on_commit("core.tasks.notices_email_task", notice_ids[start : start + EMAIL_BATCH_SIZE])
    return created


def notice_email_send(*, notice_id: int) -> bool:
    """Email one notice to its user; False when it is gone, was emailed already, or the user has no address."""
    return notices_email_send(notice_ids=[notice_id]) == 1


def notices_email_send(*, notice_ids: list[int]) -> int:
    """Email the notices not emailed yet over one mail connection, and record it; returns how many were sent.

    A notice whose user has no address is recorded as done too (there is nothing to retry). A mail server that
    fails raises before anything is recorded, so the task's retry (or the sweep) sends the batch again.
    """
    notices = list(
        Notice.objects.filter(pk__in=notice_ids, emailed_at__isnull=True).select_related("user").order_by("pk")
    )
    if not notices:
        return 0
    base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
    messages = []
    for notice in notices:
        if not notice.user.email:
            continue
        body = notice.body
        if notice.url:
            body = f"{body}\n\n{base}{notice.url}" if body else f"{base}{notice.url}"
        messages.append(EmailMessage(subject=notice.title, body=body, to=[notice.user.email]))
    sent = 0
    if messages:
        with get_connection() as mail:
            sent = mail.send_messages(messages) or 0
    Notice.objects.filter(pk__in=[notice.pk for notice in notices], emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return sent


# The sweep leaves this long to the task queued at the commit (with its retries), and gives up on older notices:
# a two-day-old "due today" reminder would mislead more than it helps (the notice stays in the inbox).
UNSENT_GRACE = datetime.timedelta(minutes=10)
UNSENT_GIVE_UP = datetime.timedelta(days=2)
UNSENT_BATCH = 500


def notices_email_unsent(*, now: datetime.datetime | None = None) -> int:
    """Email the notices whose email has not gone out within ``UNSENT_GRACE``; returns how many were sent."""
    now = now or timezone.now()
    waiting = Notice.objects.filter(
        emailed_at__isnull=True, created_at__lt=now - UNSENT_GRACE, created_at__gte=now - UNSENT_GIVE_UP
    ).order_by("pk")
    sent = 0
    while ids := list(waiting.values_list("pk", flat=True)[:UNSENT_BATCH]):
        sent += notices_email_send(notice_ids=ids)
    return sent


def notices_mark_read(*, user) -> int:
    """Mark every unread notice of ``user`` read (the inbox was opened); returns how many."""
    return Notice.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


__all__ = [
    "notice_email_send",
    "notices_email_send",
    "notices_email_unsent",
    "notices_mark_read",
    "notify",
    "notify_many",
]
