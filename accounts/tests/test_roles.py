"""Roles: granting one is audited and happens once; the user knows its roles; the admin shows them."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from accounts.services.roles import user_grant_role
from accounts.tests.factories import UserFactory, make_user
from core.selectors.audit import audit_trail

pytestmark = pytest.mark.django_db


def test_granting_a_role_adds_the_group_and_writes_one_audit_row(loan_officer):
    superuser = User.objects.create_superuser("root@loanportal.example", "x")

    granted = user_grant_role(user=loan_officer, role=Role.SENIOR_OFFICER, by=superuser, reason="promoted")

    assert granted is True
    assert loan_officer.has_role(Role.SENIOR_OFFICER)
    rows = [row for row in audit_trail(loan_officer) if row.action == "role_granted"]
    assert [(row.actor_id, row.reason, row.data) for row in rows] == [
        (superuser.pk, "promoted", {"role": "senior officer"})
    ]


def test_granting_a_role_already_held_changes_nothing(loan_officer):
    granted = user_grant_role(user=loan_officer, role=Role.LOAN_OFFICER, by=None)

    assert granted is False
    assert loan_officer.groups.filter(name=Role.LOAN_OFFICER).count() == 1
    assert not [row for row in audit_trail(loan_officer) if row.action == "role_granted"]


def test_a_grant_by_the_system_has_no_actor():
    user = UserFactory()

    user_grant_role(user=user, role=Role.PARTNER, by=None, reason="demo data")

    assert audit_trail(user).get().actor_id is None


@pytest.mark.parametrize("persona", ["loan_officer", "senior_officer", "risk_manager"])
def test_back_office_roles_with_staff_status_are_officers(request, persona):
    assert request.getfixturevalue(persona).is_officer


def test_staff_status_without_an_officer_role_is_not_an_officer():
    assert not make_user(Role.PARTNER, email="ops@partner-bank.example", staff=True).is_officer


def test_an_officer_role_without_staff_status_is_not_an_officer():
    assert not make_user(Role.LOAN_OFFICER, email="former@loanportal.example").is_officer


def test_merchant_owner_and_partner_helpers(merchant_owner, partner_user):
    assert merchant_owner.is_merchant_owner
    assert not merchant_owner.is_officer
    assert partner_user.is_partner
    assert not partner_user.is_merchant_owner


def test_role_names_are_labels_in_declared_order(loan_officer):
    loan_officer.groups.add(Group.objects.get_or_create(name=Role.MERCHANT_OWNER)[0])

    assert loan_officer.role_names() == ["Merchant owner", "Loan officer"]


def test_admin_user_list_shows_each_users_roles(client, loan_officer, partner_user):
    client.force_login(User.objects.create_superuser("root@loanportal.example", "x"))

    response = client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="field-roles">Loan officer</td>' in html
    assert '<td class="field-roles">Partner</td>' in html


def test_admin_user_list_filters_by_role(client, loan_officer, partner_user):
    client.force_login(User.objects.create_superuser("root@loanportal.example", "x"))
    group = Group.objects.get(name=Role.PARTNER)

    response = client.get(reverse("admin:accounts_user_changelist"), {"groups__id__exact": group.pk})

    assert response.status_code == 200
    assert [user.email for user in response.context["cl"].result_list] == [partner_user.email]


def test_write_offs_belong_to_senior_officers_not_loan_officers(loan_officer, senior_officer):
    assert not loan_officer.has_perm("lending.change_loan")
    assert senior_officer.has_perm("lending.change_loan")
    assert loan_officer.has_perm("lending.decide_deferral")
