"""Factories of core's own rows."""

import factory

from accounts.tests.factories import UserFactory
from core.models import Notice


class NoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notice

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Notice {n}")
    body = "Something happened."


__all__ = ["NoticeFactory"]
