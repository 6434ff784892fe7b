"""`manage.py load_demo`: one login per role, so a newcomer can try every part of the portal after `make run`,
and six months of lending history for the back office to work on.

Running it again the same day changes nothing: users, roles, verified addresses, the partner's token and
the merchants are found and kept, never created twice and never reset (a password someone changed stays
changed), and the history is replayed once (``lending.origination.services.demo``). A later run adds the seeded
merchants' sales for the days since and runs the nightly jobs for those days, as beat would have.
"""

import datetime
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import User
from accounts.roles import Role
from accounts.services.platform_feed import platform_feed_token, platform_feed_user_ensure
from accounts.services.roles import user_grant_role
from accounts.services.tokens import api_token_issue
from core.services.audit import audit_record
from lending.catalogue.services.demo import products_seed
from lending.demo_hooks import demo_loaded
from lending.origination.services.demo import (
    HISTORY_DAYS,
    HistoryCounts,
    demo_clock,
    demo_days_catch_up,
    demo_history_replay,
)
from lending.servicing.selectors.loans import merchants_in_default
from merchants.choices import Industry, KycState, Province, SalesSource
from merchants.models import Merchant
from merchants.services.demo import (
    DEMO_PASSWORD,
    demo_email,
    demo_merchant,
    demo_sales,
    seed_merchants,
    verified_merchant,
)
from merchants.services.kyc import merchant_get_or_create, merchant_update_profile
from merchants.services.sales import sales_import_rows
from partners.services.agreements import agreement_version_create
from partners.services.settlements import partners_settle_day
from risk.selectors.limits import LimitUse
from risk.services.limits_demo import limits_demo_seed
from risk.services.stress_demo import stress_demo_run
from sandbox.partner import sandbox_partner_ensure, sandbox_partners_answer
from underwriting.services.decisions import preapproved_limits_refresh
from underwriting.services.demo import underwriting_seed

DEMO_SEED = 20250101
DEMO_BATCH = "demo"
SALES_DAYS = 730  # 24 months
DEFAULT_URL = "http://127.0.0.1:8000"
# merchant@demo.example's business is drawn by merchants.services.demo at an index no seeded run reaches (they count up
# from 0), so its credit code is its own; its sales are the steady kind a first loan is made for.
NAMED_MERCHANT_INDEX = 9_999_999
# A small portfolio for the back office, with every sales pattern (growth, decline, refund spikes, window
# dressing, a shared identity); its merchants sign in as shop1@demo.example onwards, and they are the borrowers of
# the demo's history.
PORTFOLIO_START_INDEX = 0
PORTFOLIO_SIZE = 48
# The portfolio's merchants joined, and the shipped scorecard went live, a little before the history begins.
JOINED_BEFORE_HISTORY_DAYS = 30

# The second merchant starts its KYC half-done, so the journey can be finished by hand.
MERCHANT2_PARTIAL_PROFILE = {
    "legal_name": "杭州西湖小笼包餐饮店",
    "industry": Industry.FAST_FOOD,
    "province": Province.ZHEJIANG,
    "city": "杭州",
    "mobile": "13905710000",
}


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    does: str
    role: Role | None = None
    staff: bool = False
    superuser: bool = False
    path: str = "/"


DEMO_USERS = (
    DemoUser(
        "merchant@demo.example",
        "Wei",
        "Zhang",
        gettext_lazy("Merchant owner: KYC verified, 24 months of sales"),
        role=Role.MERCHANT_OWNER,
        path="/merchant/",
    ),
    DemoUser(
        "merchant2@demo.example",
        "Fang",
        "Chen",
        gettext_lazy("Merchant owner: KYC in draft, profile half filled in"),
        role=Role.MERCHANT_OWNER,
        path="/merchant/profile/",
    ),
    DemoUser(
        "officer@demo.example",
        "Na",
        "Li",
        gettext_lazy("Loan officer: KYC review, referred applications"),
        role=Role.LOAN_OFFICER,
        staff=True,
        path="/admin/",
    ),
    DemoUser(
        "senior@demo.example",
        "Jun",
        "Wang",
        gettext_lazy("Senior officer: second approval of large loans"),
        role=Role.SENIOR_OFFICER,
        staff=True,
        path="/admin/",
    ),
    DemoUser(
        "risk@demo.example",
        "Min",
        "Zhao",
        gettext_lazy("Risk manager: limits, scorecards, stress tests"),
        role=Role.RISK_MANAGER,
        staff=True,
        path="/admin/",
    ),
    DemoUser(
        "admin@demo.example",
        "Admin",
        "Demo",
        gettext_lazy("Administrator: everything in the back office"),
        staff=True,
        superuser=True,
        path="/admin/",
    ),
    DemoUser(
        "partner@demo.example",
        "Partner",
        "Bank",
        gettext_lazy("Partner bank: API user (token below)"),
        role=Role.PARTNER,
        path="/api/v1/docs/",
    ),
)


class Command(BaseCommand):
    help = (
        "Create one demo login per role and six months of lending history for the back office (idempotent), and "
        "print the logins with the shared password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default=DEFAULT_URL, help=f"Where the portal runs (default {DEFAULT_URL}).")
        parser.add_argument(
            "--no-history",
            action="store_false",
            dest="history",
            help="Leave out the six months of lending history (the logins, merchants and products only).",
        )

    def handle(self, *args, **options):
        today = timezone.localdate()
        joined = timezone.make_aware(
            datetime.datetime.combine(
                today - datetime.timedelta(days=HISTORY_DAYS + JOINED_BEFORE_HISTORY_DAYS), datetime.time(9)
            )
        )
        with transaction.atomic():
            users = {demo.email: self._ensure_user(demo) for demo in DEMO_USERS}
            token = api_token_issue(user=users["partner@demo.example"])
            feed_token = platform_feed_token(user=platform_feed_user_ensure(by=None))
            self._ensure_verified_merchant(users["merchant@demo.example"])
            self._ensure_draft_merchant(users["merchant2@demo.example"])
            seed_merchants(count=PORTFOLIO_SIZE, seed=DEMO_SEED, start_index=PORTFOLIO_START_INDEX, joined_at=joined)
            # The products, the scorecard and the partner bank's agreement were there before the history's first
            # application.
            with demo_clock(joined):
                products = {product.code: product for product in products_seed()}
                underwriting_seed()
                self._ensure_partner_bank(
                    api_user=users["partner@demo.example"], risk_manager=users["risk@demo.example"], products=products
                )
        portfolio = Merchant.objects.filter(
            owner__email__in=[demo_email(index) for index in range(PORTFOLIO_START_INDEX, PORTFOLIO_SIZE)]
        ).select_related("owner")
        history, caught_up = None, 0
        if options["history"]:
            history = demo_history_replay(
                merchants=list(portfolio.order_by("pk")),
                officer=users["officer@demo.example"],
                senior=users["senior@demo.example"],
                seed=DEMO_SEED,
                today=today,
                lenders_answer=sandbox_partners_answer,
            )
            caught_up = 0 if history is not None else demo_days_catch_up(today=today)
            if history is not None:
                # Each day of the history settled with the partner banks, as beat does after every midnight.
                for days_ago in range(HISTORY_DAYS, 0, -1):
                    partners_settle_day(business_date=today - datetime.timedelta(days=days_ago))
        # The apps above lending add their part (e.g. the risk firewall's fraud watch); each says what it shows.
        extras = [
            str(line)
            for _receiver, line in demo_loaded.send(
                sender=self.__class__,
                today=today,
                officer=users["officer@demo.example"],
                senior=users["senior@demo.example"],
                # The partner banks the sandbox plays answer the offers a demo case makes to them.
                lenders_answer=sandbox_partners_answer,
            )
            if line
        ]
        # What the nightly job would show on the dashboards, computed now so the demo shows it at once.
        preapproved_limits_refresh(merchants_in_default=merchants_in_default)
        # The exposure limits, sized on the book the history left (once): the risk manager proposes, the
        # administrator is the second pair of eyes.
        with transaction.atomic():
            limits = limits_demo_seed(
                proposer=users["risk@demo.example"],
                checker=users["admin@demo.example"],
                spared_industry=Merchant.objects.get(owner=users["merchant@demo.example"]).industry,
            )
        # The risk manager's demo scenarios, run over the portfolio as it now stands (once a day).
        stress_demo_run(today=today, users=users)
        self._print_summary(
            extras=extras,
            url=options["url"].rstrip("/"),
            token=token.key,
            feed_token=feed_token.key,
            history=history,
            caught_up=caught_up,
            limits=limits,
        )

    def _ensure_user(self, demo: DemoUser) -> User:
        user = User.objects.filter(email=demo.email).first()
        if user is None:
            user = User.objects.create_user(
                demo.email,
                DEMO_PASSWORD,
                first_name=demo.first_name,
                last_name=demo.last_name,
                is_staff=demo.staff,
                is_superuser=demo.superuser,
            )
        elif (user.is_staff, user.is_superuser, user.is_active) != (demo.staff, demo.superuser, True):
            # Put back a demo user someone demoted or deactivated, so every printed login works.
            user.is_staff, user.is_superuser, user.is_active = demo.staff, demo.superuser, True
            user.save(update_fields=["is_staff", "is_superuser", "is_active"])
        if demo.role is not None:
            user_grant_role(user=user, role=demo.role, by=None, reason="demo data")
        # Verification is by emailed code; demo users can sign in at once because their address counts as checked.
        address, created = EmailAddress.objects.get_or_create(
            user=user, email=demo.email, defaults={"verified": True, "primary": True}
        )
        if not created and not (address.verified and address.primary):
            address.verified = address.primary = True
            address.save(update_fields=["verified", "primary"])
        return user

    def _ensure_partner_bank(self, *, api_user: User, risk_manager: User, products: dict) -> None:
        """The sandbox partner bank and its first agreement: 70 % of operating and instalment loans of grades A-C."""
        partner = sandbox_partner_ensure(api_user=api_user, by=risk_manager)
        if partner.agreements.exists():
            return
        agreement_version_create(
            partner=partner,
            by=risk_manager,
            products=[products["operating-loan"], products["instalment-loan"]],
            grades=["A", "B", "C"],
            share=Decimal("0.7000"),
            interest_rate=Decimal("0.045000"),
            tier1_capital=Decimal("2000000.00"),  # a cap of 500,000.00 outstanding with the platform
            daily_quota=Decimal("150000.00"),
            min_amount=Decimal("5000.00"),
            max_amount=Decimal("200000.00"),
            service_fee_rate=Decimal("0.005000"),
            answer_window_hours=24,
            note="Demo data: the sandbox partner bank's first agreement.",
        )

    def _ensure_draft_merchant(self, owner: User) -> None:
        if Merchant.objects.filter(owner=owner).exists():
            # Whatever the visitor did with it since (filled in, submitted) is theirs to keep.
            return
        merchant = merchant_get_or_create(owner=owner)
        merchant_update_profile(merchant=merchant, by=owner, data=MERCHANT2_PARTIAL_PROFILE)

    def _ensure_verified_merchant(self, owner: User) -> None:
        """A verified business with 24 months of sales, so the first merchant can apply for a loan at once."""
        if Merchant.objects.filter(owner=owner).exists():
            return
        profile = replace(demo_merchant(seed=DEMO_SEED, index=NAMED_MERCHANT_INDEX), pattern="steady")
        # Created verified, as merchants.services.demo creates its merchants: an insert of a finished review, not a KYC
        # transition, recorded by its own audit row.
        merchant = verified_merchant(profile, owner=owner, now=timezone.now())
        merchant.save()
        audit_record(
            subject=merchant,
            action="kyc.seed_verified",
            to_state=KycState.VERIFIED,
            reason="Demo data: created as verified by load_demo.",
            data={"seed": DEMO_SEED},
        )
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        dates = [yesterday - datetime.timedelta(days=SALES_DAYS - 1 - k) for k in range(SALES_DAYS)]
        rows = [
            {
                "date": dates[position].isoformat(),
                "gross_sales": str(Decimal(gross_fen).scaleb(-2)),
                "refunds": str(Decimal(refund_fen).scaleb(-2)),
                "transaction_count": transactions,
                "distinct_customers": customers,
            }
            for position, gross_fen, refund_fen, transactions, customers in demo_sales(profile, dates)
        ]
        # As the platform's settlement feed, through the import its API and operators use: checked and audited alike.
        sales_import_rows(merchant=merchant, rows=rows, by=None, source=SalesSource.PLATFORM, batch_id=DEMO_BATCH)

    def _print_summary(
        self,
        *,
        url: str,
        token: str,
        feed_token: str,
        history: HistoryCounts | None,
        caught_up: int,
        extras: Sequence[str] = (),
        limits: list[LimitUse] | None = None,
    ) -> None:
        write = self.stdout.write
        rows = [(_("Login"), _("Start at"), _("Who"))]
        rows += [(demo.email, f"{url}{demo.path}", str(demo.does)) for demo in DEMO_USERS]
        widths = [max(_display_width(row[column]) for row in rows) for column in range(2)]
        write("")
        write(
            self.style.SUCCESS(_("Demo logins (the same password for all): %(password)s") % {"password": DEMO_PASSWORD})
        )
        write("")
        for number, (login, start, who) in enumerate(rows):
            write(f"  {_pad(login, widths[0])}  {_pad(start, widths[1])}  {who}")
            if number == 0:
                write(f"  {'-' * widths[0]}  {'-' * widths[1]}  {'-' * max(_display_width(row[2]) for row in rows)}")
        write("")
        write(_("Partner API token: %(token)s") % {"token": token})
        write(_("  send it as the header  Authorization: Token %(token)s") % {"token": token})
        write(
            _("Platform settlement feed token (POST %(url)s/api/v1/platform/sales/ only): %(token)s")
            % {"url": url, "token": feed_token}
        )
        portfolio = [demo_email(index) for index in (PORTFOLIO_START_INDEX, PORTFOLIO_START_INDEX + PORTFOLIO_SIZE - 1)]
        write(
            _("%(count)d more verified merchants, %(first)s … %(last)s, sign in with the same password.")
            % {"count": PORTFOLIO_SIZE, "first": portfolio[0], "last": portfolio[1]}
        )
        if history is not None:
            write(
                _(
                    "Six months of lending replayed for the back office: %(applications)d applications (%(approved)d "
                    "approved, %(referred)d referred, %(declined)d declined), %(loans)d loans paid out, %(transfers)d "
                    "bank transfers recorded, %(deferrals)d deferral requests."
                )
                % {
                    "applications": history.applications,
                    "approved": history.outcomes.get("approved", 0),
                    "referred": history.outcomes.get("referred", 0),
                    "declined": history.outcomes.get("declined", 0),
                    "loans": history.loans,
                    "transfers": history.transfers,
                    "deferrals": history.deferrals,
                }
            )
        elif caught_up:
            write(
                ngettext(
                    "The nightly jobs ran for the %(days)d day since the demo was last loaded.",
                    "The nightly jobs ran for the %(days)d days since the demo was last loaded.",
                    caught_up,
                )
                % {"days": caught_up}
            )
        for line in extras:
            write(line)
        if limits:
            near = [use.label for use in limits if use.status == "near"]
            write(
                _("%(count)d exposure limits in force (Exposure limits in the back office); near its limit: %(near)s.")
                % {"count": len(limits), "near": ", ".join(near) or "—"}
            )
        write(_("The scheduled jobs of a day, on demand: python manage.py run_day [--date YYYY-MM-DD]"))
        write("")
        write(_("Open %(url)s and sign in with any login above.") % {"url": url})
        if settings.STAFF_MFA_REQUIRED:
            write(
                _(
                    "Staff second factor is required: officers add a passkey or authenticator app before "
                    "the back office opens."
                )
            )
        else:
            write(
                self.style.WARNING(
                    _(
                        "Staff second factor is relaxed in this demo (STAFF_MFA_REQUIRED=false): officers open "
                        "the back office with the password alone. Production requires a passkey or "
                        "authenticator app."
                    )
                )
            )


def _display_width(text: str) -> int:
    # Chinese characters take two columns in a terminal; count them so the table lines up in both languages.
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))
