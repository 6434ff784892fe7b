"""`manage.py load_demo_insurance`: the demo's insurer, after `load_demo` (it needs the demo's risk manager and
products): its API login, a platform-paid agreement on the operating loan, the covers of that product's loans and
the claims due today. Running it again changes nothing but the claims that became due since."""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from accounts.services.roles import user_grant_role
from accounts.services.tokens import api_token_issue
from merchants.services.demo import DEMO_PASSWORD
from partners.services.insurance import insurance_demo_seed

INSURER_EMAIL = "insurer@demo.example"
RISK_MANAGER_EMAIL = "risk@demo.example"


class Command(BaseCommand):
    help = "Add the demo's insurer, its agreement, covers and claims (run after load_demo; idempotent)."

    def handle(self, *args, **options):
        risk_manager = User.objects.filter(email=RISK_MANAGER_EMAIL).first()
        if risk_manager is None:
            raise CommandError("Run load_demo first: the demo's risk manager sets the insurer's agreement.")
        user = User.objects.filter(email=INSURER_EMAIL).first()
        if user is None:
            user = User.objects.create_user(INSURER_EMAIL, DEMO_PASSWORD, first_name="Insurer", last_name="Demo")
        user_grant_role(user=user, role=Role.PARTNER, by=None, reason="demo data")
        EmailAddress.objects.get_or_create(user=user, email=INSURER_EMAIL, defaults={"verified": True, "primary": True})
        counts = insurance_demo_seed(api_user=user, by=risk_manager)
        token = api_token_issue(user=user)
        self.stdout.write(
            _(
                "Insurer (claims API, /api/v1/partner/claims/): %(email)s / %(password)s, token %(token)s; "
                "%(covers)d loan(s) newly covered, %(claims)d claim(s) opened."
            )
            % {
                "email": INSURER_EMAIL,
                "password": DEMO_PASSWORD,
                "token": token.key,
                "covers": counts["covers"],
                "claims": counts["claims"],
            }
        )
