"""`manage.py platform_feed_token`: create the platform feed's account if needed and print its API token.

The token answers only on `POST /api/v1/platform/sales/`. `--rotate` replaces it (the old one stops at once).
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.services.platform_feed import DEFAULT_FEED_EMAIL, platform_feed_token, platform_feed_user_ensure


class Command(BaseCommand):
    help = "Print the platform settlement feed's API token (scoped to the sales feed), creating the account."

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEFAULT_FEED_EMAIL, help="The feed account's address.")
        parser.add_argument("--rotate", action="store_true", help="Issue a new token; the old one stops working.")

    def handle(self, *args, email: str, rotate: bool, **options):
        try:
            user = platform_feed_user_ensure(email=email, by=None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        token = platform_feed_token(user=user, rotate=rotate)
        self.stdout.write(f"{token.key}\n(send as  Authorization: Token {token.key}  to POST /api/v1/platform/sales/)")
