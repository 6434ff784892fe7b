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
# credential does one job, so a leaked one cannot read or change anything beyond it.
TOKEN_SCOPES: dict[str, frozenset[str]] = {
    Role.PLATFORM_FEED: frozenset({"api:platform-sales-feed"}),
}


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
