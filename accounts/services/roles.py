"""Who holds which role. Each grant is audited, because a role is a permission."""

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import User
from accounts.roles import Role
from core.services.audit import audit_record


def user_grant_role(*, user: User, role: Role, by: User | None, reason: str = "") -> bool:
    """Put ``user`` in ``role``'s group and write one audit row.

    Granting a role the user already holds changes nothing and writes no row, so callers such as the
    demo loader can run again safely. Returns whether the role was newly granted.
    """
    with transaction.atomic():
        # Lock the user so two grants at once cannot both pass the membership check.
        locked = User.objects.select_for_update().get(pk=user.pk)
        group, _created = Group.objects.get_or_create(name=role)
        if locked.groups.filter(pk=group.pk).exists():
            return False
        locked.groups.add(group)
        audit_record(subject=locked, action="role_granted", by=by, reason=reason, data={"role": str(role)})
    return True
