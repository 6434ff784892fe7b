"""Roles are Django groups; this module is the one place that says what each role may do."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Role(TextChoices):
    MERCHANT_OWNER = "merchant owner", _("Merchant owner")
    LOAN_OFFICER = "loan officer", _("Loan officer")
    SENIOR_OFFICER = "senior officer", _("Senior officer")
    RISK_MANAGER = "risk manager", _("Risk manager")
    PARTNER = "partner", _("Partner")
    PLATFORM_FEED = "platform feed", _("Platform settlement feed")


# The roles that work in the back office (Django admin).
OFFICER_ROLES = (Role.LOAN_OFFICER, Role.SENIOR_OFFICER, Role.RISK_MANAGER)

# Permissions by "app_label.codename". Roles are cumulative where an officer's job includes a junior's.
_LOAN_OFFICER = [
    "merchants.view_merchant",
    "merchants.review_kyc",
    "merchants.view_kycdocument",
    "merchants.view_salesday",
    "core.view_auditevent",
    # The nightly runs' progress (read-only, in the back office and over the API).
    "core.view_jobrun",
    "core.view_jobchunk",
    "lending.view_loanproduct",
    "lending.view_loanapplication",
    "lending.decide_application",
    "lending.view_loan",
    "lending.view_disbursement",
    "lending.view_contract",
    "lending.view_deferralrequest",
    "lending.decide_deferral",
    "lending.view_collectioncontact",
    "lending.add_collectioncontact",
    "lending.view_banktransfer",
    "lending.add_banktransfer",
    "lending.record_bank_transfer",
    "lending.view_collectionrequest",
    "lending.view_concession",
    "underwriting.view_fraudalert",
    "underwriting.change_fraudalert",
    "underwriting.view_decision",
    "underwriting.view_policyrule",
    "underwriting.view_scorecard",
    "underwriting.view_scorecardbin",
    "underwriting.view_preapprovedlimit",
    # Partner banks, their agreements and offers; money between lenders: who funds each loan, how each payment is
    # shared, what each partner is owed a day.
    "partners.view_fundingpartner",
    "partners.view_colendingagreement",
    "partners.view_partneroffer",
    "partners.view_loanshare",
    "partners.view_webhookevent",
    # Partners' webhooks: every attempt.
    "partners.view_webhookdelivery",
    "partners.view_distribution",
    "partners.view_partnersettlement",
    # Fraud watched after payout: officers work the alerts and may freeze a merchant's further borrowing.
    "risk.view_watchalert",
    "risk.change_watchalert",
    "merchants.freeze_borrowing",
    # Exposure limits and their utilisation, and the payouts a limit holds (released by those who fund loans).
    "risk.view_exposurelimit",
    "risk.view_limitversion",
    "risk.view_payouthold",
    # The portfolio at a glance, with the latest stress run on it.
    "risk.view_portfolio_dashboard",
    "risk.view_stressscenario",
    "risk.view_stressrun",
    # Co-insurance: officers see insurers, agreements, covers and claims.
    "partners.view_insurer",
    "partners.view_insuranceagreement",
    "partners.view_insurancecover",
    "partners.view_insuranceclaim",
    "partners.view_claimrecoveryshare",
]
_SENIOR_OFFICER = [
    *_LOAN_OFFICER,
    "merchants.view_full_identity",
    "merchants.suspend_merchant",
    "lending.second_approve_application",
    "lending.approve_bank_transfer",
    "lending.change_disbursement",
    "lending.change_loan",
    "lending.propose_restructure",
    # The checker of maker-checker: counter-offers below the grid, restructures conceding price or fees, write-offs.
    "lending.second_approve_concession",
    # Records that the platform paid a partner bank its daily settlement.
    "partners.pay_settlement",
    # Confirming a fraud alert after payout marks the loan as fraud (its loss is reported apart).
    "lending.mark_loan_fraud",
    # Submit insurance claims to the insurer, record its payment, or withdraw a claim.
    "partners.act_on_claim",
]
_RISK_MANAGER = [
    *_SENIOR_OFFICER,
    "lending.add_loanproduct",
    "lending.change_loanproduct",
    "underwriting.add_scorecard",
    "underwriting.change_scorecard",
    "underwriting.add_scorecardbin",
    "underwriting.change_scorecardbin",
    "underwriting.delete_scorecardbin",
    "underwriting.add_policyrule",
    "underwriting.change_policyrule",
    "underwriting.activate_scorecard",
    # Partner banks and their agreements (a change is a new version).
    "partners.add_fundingpartner",
    "partners.change_fundingpartner",
    "partners.add_colendingagreement",
    "partners.manage_agreement",
    # Partners' credentials and webhooks: send an event again, set a webhook URL and signing, rotate secrets.
    "partners.resend_webhook",
    "partners.view_partnercredentials",
    "partners.change_partnercredentials",
    "partners.rotate_partner_credentials",
    # Model governance: the daily population stability readings and the drift alerts.
    "risk.view_stabilityreading",
    "risk.view_driftalert",
    "risk.change_driftalert",
    # Limit changes are maker-checker: one risk manager proposes, another activates.
    "risk.propose_exposurelimit",
    "risk.activate_exposurelimit",
    "risk.add_stressscenario",
    "risk.change_stressscenario",
    "risk.run_stress_test",
    # Insurers and their agreements (each change a new version).
    "partners.add_insurer",
    "partners.change_insurer",
    "partners.add_insuranceagreement",
    "partners.manage_insurance_agreement",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.MERCHANT_OWNER: [],
    Role.LOAN_OFFICER: _LOAN_OFFICER,
    Role.SENIOR_OFFICER: _SENIOR_OFFICER,
    Role.RISK_MANAGER: _RISK_MANAGER,
    Role.PARTNER: [],
    Role.PLATFORM_FEED: [],
}

# Roles whose API tokens answer only for the operations named here (URL names), nowhere else: a system
# credential does one job, so a leaked one cannot read or change anything beyond it. A name ending in "*" covers
# every URL name that starts with what comes before it.
TOKEN_SCOPES: dict[str, frozenset[str]] = {
    Role.PLATFORM_FEED: frozenset({"api:platform-sales-feed"}),
    # A partner bank's or insurer's API account: the partner API, and revoking its own token (a partner that fears
    # its token leaked kills it at once; a new one is issued from the back office).
    Role.PARTNER: frozenset({"api:partner-*", "api:auth-token-revoke"}),
}
# What a scoped token hears where it does not answer.
TOKEN_SCOPE_REFUSALS: dict[str, str] = {
    Role.PLATFORM_FEED: _("This token belongs to the platform's settlement feed and may only send sales to the feed."),
    Role.PARTNER: _("This token belongs to a partner's API account and answers only under /api/v1/partner/."),
}


def token_scope_allows(role: str, view_name: str | None) -> bool:
    """Whether a token of the scoped ``role`` answers on the operation named ``view_name``."""
    if not view_name:
        return False
    for name in TOKEN_SCOPES[role]:
        if view_name == name or (name.endswith("*") and view_name.startswith(name[:-1])):
            return True
    return False


def sync_role_groups(*, using: str = "default", **kwargs) -> None:
    """Create every role's group and give it exactly its permissions (run after each migrate).

    Django creates permissions app by app after migrating; this runs after the accounts app, before
    later apps have theirs, so it creates every app's permissions first. A permission named here
    that no model defines is a mistake in this file, so it fails loudly instead of being skipped.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    available = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, perms in ROLE_PERMISSIONS.items():
        unknown = sorted(set(perms) - set(available))
        if unknown:
            raise LookupError(f"Role {role!r} names permissions no model defines: {', '.join(unknown)}")
        group, _created = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set([available[p] for p in perms])
