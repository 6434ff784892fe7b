"""Roles are Django groups; this module is the one place that says what each role may do."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Role(TextChoices):
    MERCHANT_OWNER = "merchant owner", _("Merchant owner")
    LOAN_OFFICER = "loan officer", _("Loan officer")
    SENIOR_OFFICER = "senior officer", _("Senior officer")
    RISK_MANAGER = "risk manager", _("Risk manager")
    PARTNER = "partner", _("Partner")


# The roles that work in the back office (Django admin).
OFFICER_ROLES = (Role.LOAN_OFFICER, Role.SENIOR_OFFICER, Role.RISK_MANAGER)

# Permissions by "app_label.codename". Roles are cumulative where an officer's job includes a junior's.
_LOAN_OFFICER = [
    "merchants.view_merchant",
    "merchants.review_kyc",
    "merchants.view_kycdocument",
    "merchants.view_salesday",
    "core.view_auditevent",
]
_SENIOR_OFFICER = [*_LOAN_OFFICER, "merchants.view_full_identity", "merchants.suspend_merchant"]
_RISK_MANAGER = [*_SENIOR_OFFICER]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.MERCHANT_OWNER: [],
    Role.LOAN_OFFICER: _LOAN_OFFICER,
    Role.SENIOR_OFFICER: _SENIOR_OFFICER,
    Role.RISK_MANAGER: _RISK_MANAGER,
    Role.PARTNER: [],
}


def sync_role_groups(**kwargs) -> None:
    """Create every role's group and give it exactly its permissions (run after each migrate)."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)
