"""Fixtures for the sign-in tests: a clean throttle cache and users whose email is already verified."""

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache

from accounts.roles import Role
from accounts.tests.factories import make_user


@pytest.fixture(autouse=True)
def _clear_cache():
    # allauth keeps failed-login counters and used TOTP codes in the cache (locmem in tests), which would
    # otherwise leak from one test into the next.
    cache.clear()
    yield
    cache.clear()


def verify_email(user) -> None:
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


@pytest.fixture
def verified_owner(db):
    user = make_user(Role.MERCHANT_OWNER, email="verified@shop-c.example")
    verify_email(user)
    return user


@pytest.fixture
def verified_officer(db):
    user = make_user(Role.LOAN_OFFICER, email="officer@bank-back-office.example", staff=True)
    verify_email(user)
    return user
