"""`manage.py staff_enrolment_link EMAIL`: a one-time link for a staff member to add their first second factor.

For the first administrator (nobody can issue one in the back office yet) and for operators at a console.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from accounts.models import User
from accounts.services.staff_enrolment import staff_enrolment_issue


class Command(BaseCommand):
    help = "Print a one-time link with which a staff member adds their first passkey or authenticator app."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email: str, **options):
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            raise CommandError(f"No account has the email address {email}.")
        try:
            token = staff_enrolment_issue(user=user, by=None)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        hours = int(settings.STAFF_ENROLMENT_LINK_LIFETIME.total_seconds() // 3600)
        link = settings.PORTAL_BASE_URL.rstrip("/") + reverse("accounts:staff-enrol", args=[token])
        self.stdout.write(f"{link}\n(works once, within {hours} hours, signed in as {user.email})")
