"""In-app notices to a merchant, with the same message by email, for each step the merchant must know about.

``notify_merchant`` is called by services inside their transaction: the notice row commits (or rolls back) with
the state change it announces, and the email is queued only after the commit, so a rolled-back step never
emails anyone and a slow mail server never holds a row lock.

The text is rendered in the language active when the notice is made (the merchant's own request, or the
portal's default language for the nightly jobs): a notice is a record of what the merchant was told.
"""

from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.models import Notice
from merchants.models import Merchant


def notify_merchant(*, merchant: Merchant, title: str, body: str = "", url: str = "") -> Notice:
    """Create a notice for the merchant's owner and email it after the surrounding transaction commits.

    ``url`` is a path inside the portal (``reverse(...)``); the email turns it into a full link when
    ``settings.PORTAL_BASE_URL`` is set.
    """
    notice = Notice.objects.create(
        user_id=merchant.owner_id,
        title=str(title)[: Notice._meta.get_field("title").max_length],
        body=str(body),
        url=str(url)[: Notice._meta.get_field("url").max_length],
    )
    # robust: a broker that is down must not turn a committed step into an error page; the notice is in the inbox.
    transaction.on_commit(partial(_queue_email, notice.pk), robust=True)
    return notice


def _queue_email(notice_id: int) -> None:
    # Imported here: the tasks module imports the services, which import this module.
    from lending.tasks.applications import notice_email_task

    notice_email_task.delay(notice_id)


def notice_email_send(*, notice_id: int) -> bool:
    """Email one notice to its user; returns False when the notice is gone or the user has no address."""
    notice = Notice.objects.select_related("user").filter(pk=notice_id).first()
    if notice is None or not notice.user.email:
        return False
    message = notice.body
    if notice.url:
        base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
        message = f"{message}\n\n{base}{notice.url}" if message else f"{base}{notice.url}"
    send_mail(subject=notice.title, message=message, from_email=None, recipient_list=[notice.user.email])
    return True


def notices_mark_read(*, user) -> int:
    """Mark every unread notice of ``user`` read (the inbox was opened); returns how many."""
    return Notice.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


__all__ = ["notice_email_send", "notices_mark_read", "notify_merchant"]
