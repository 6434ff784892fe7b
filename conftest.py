"""Shared fixtures: the personas every test talks about, and the real components some tests need.

Personas (after healthchecks' alice/bob/charlie): ``merchant_owner`` owns ``merchant``;
``other_merchant_owner`` owns ``other_merchant`` and is the outsider; ``loan_officer``,
``senior_officer`` and ``risk_manager`` work in the back office; ``partner_user`` is a partner bank.
"""

import os
import shutil

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from accounts.roles import Role
from accounts.tests.factories import make_user
from merchants.tests.factories import MerchantFactory

# In CI every run tries the same examples, so a red build is reproducible and never a roll of the dice.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_runtest_setup(item):
    # A test that needs a real component fails (never skips) when the component is missing.
    if item.get_closest_marker("browser") and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed: run `make system-packages` (apt-get install chromium).")
    if item.get_closest_marker("redis"):
        import redis

        try:
            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            pytest.fail(f"Redis at {settings.CELERY_BROKER_URL} is not reachable ({exc}); start it.")


@pytest.fixture(autouse=True)
def _require_postgres_for_marked_tests(request):
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.fail("This test needs PostgreSQL: set DATABASE_URL=postgres://… (make test does).")


@pytest.fixture(autouse=True)
def _empty_cache():
    # Rate limits (logins, email codes, quotes) count in the cache: no test inherits another's attempts.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A request in Chinese leaves Chinese active on the thread; every test starts in the default language.
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def merchant_owner(db):
    return make_user(Role.MERCHANT_OWNER, email="owner@shop-a.example")


@pytest.fixture
def merchant(merchant_owner):
    return MerchantFactory(owner=merchant_owner, legal_name="杭州甲商贸有限公司")


@pytest.fixture
def other_merchant_owner(db):
    return make_user(Role.MERCHANT_OWNER, email="owner@shop-b.example")


@pytest.fixture
def other_merchant(other_merchant_owner):
    return MerchantFactory(owner=other_merchant_owner, legal_name="苏州乙餐饮有限公司")


@pytest.fixture
def loan_officer(db):
    return make_user(Role.LOAN_OFFICER, email="officer@loanportal.example", staff=True)


@pytest.fixture
def senior_officer(db):
    return make_user(Role.SENIOR_OFFICER, email="senior@loanportal.example", staff=True)


@pytest.fixture
def risk_manager(db):
    return make_user(Role.RISK_MANAGER, email="risk@loanportal.example", staff=True)


@pytest.fixture
def staff_without_role(db):
    """A back-office account in no role: it holds only the permissions a test grants it."""
    from accounts.tests.factories import UserFactory

    return UserFactory(email="support@loanportal.example", is_staff=True)


@pytest.fixture
def partner_user(db):
    return make_user(Role.PARTNER, email="api@partner-bank.example")
