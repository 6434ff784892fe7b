"""The risk firewall's aggregates in the states its tests start from."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from risk.models import ExposureLimit, LimitKind, LimitVersion


class ExposureLimitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExposureLimit
        django_get_or_create = ("kind", "key")

    kind = LimitKind.PORTFOLIO
    key = ""


class LimitVersionFactory(factory.django.DjangoModelFactory):
    """A version in force, proposed by one risk manager and activated by another."""

    class Meta:
        model = LimitVersion

    limit = factory.SubFactory(ExposureLimitFactory)
    version = factory.LazyAttribute(lambda row: row.limit.versions.count() + 1)
    status = LimitVersion.Status.ACTIVE
    amount = Decimal("1000000.00")
    share_percent = None
    reason = "Risk appetite for the year"
    proposed_by = factory.SubFactory(UserFactory, roles=[Role.RISK_MANAGER], is_staff=True)
    decided_by = factory.SubFactory(UserFactory, roles=[Role.RISK_MANAGER], is_staff=True)
    decided_at = factory.LazyFunction(timezone.now)


def limit_in_force(
    kind: str, key: str = "", *, amount: Decimal | str | None = None, share_percent: Decimal | str | None = None
) -> LimitVersion:
    """A limit on ``kind``/``key`` in force with these figures (a version made directly, as activation leaves it)."""
    limit = ExposureLimitFactory(kind=kind, key=key)
    LimitVersion.objects.filter(limit=limit, status=LimitVersion.Status.ACTIVE).update(
        status=LimitVersion.Status.SUPERSEDED
    )
    return LimitVersionFactory(
        limit=limit,
        amount=None if amount is None else Decimal(str(amount)),
        share_percent=None if share_percent is None else Decimal(str(share_percent)),
    )
