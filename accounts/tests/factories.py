import factory
from django.contrib.auth.models import Group

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
    return UserFactory(email=email, roles=[role], is_staff=staff)


__all__ = ["DEFAULT_PASSWORD", "Role", "UserFactory", "make_user"]
