import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from accounts.roles import Role

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create:
            for role in extracted or ():
                self.groups.add(Group.objects.get_or_create(name=role)[0])
            self.save()


def make_user(role: str, *, email: str, staff: bool = False) -> User:
    """A persona as it is after sign-up: in its role, with its email address verified."""
    user = UserFactory(email=email, roles=[role], is_staff=staff)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


__all__ = ["DEFAULT_PASSWORD", "Role", "UserFactory", "make_user"]


def with_perms(user, *perms: str):
    """``user`` holding ``perms`` ("app_label.codename") whatever its role has yet; a fresh instance (perm cache)."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)
