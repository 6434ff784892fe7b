"""Per-user request limits: the application limits, and what a refused client is told."""

import pytest
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.api.throttling import APPLICATIONS_THROTTLES, ApplicationsDailyThrottle, ApplicationsThrottle


class _ApplyApi(APIView):
    throttle_classes = APPLICATIONS_THROTTLES

    def post(self, request):
        return Response({"ok": True}, status=201)


urlpatterns = [path("apply/", _ApplyApi.as_view())]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _limit_applications(settings, hourly: str, daily: str = "100/day") -> None:
    rest_framework = dict(settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_THROTTLE_RATES"] = {
        **rest_framework.get("DEFAULT_THROTTLE_RATES", {}),
        "applications": hourly,
        "applications_daily": daily,
    }
    settings.REST_FRAMEWORK = rest_framework


def test_the_application_limits_default_to_20_an_hour_and_100_a_day(settings):
    rest_framework = dict(settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_THROTTLE_RATES"] = {}
    settings.REST_FRAMEWORK = rest_framework
    assert ApplicationsThrottle().get_rate() == "20/hour"
    assert ApplicationsDailyThrottle().get_rate() == "100/day"


def test_over_the_limit_a_client_gets_429_with_retry_after_in_the_error_shape(settings, merchant_owner):
    _limit_applications(settings, hourly="2/hour")
    client = _client(merchant_owner)

    statuses = [client.post("/apply/", {}, format="json").status_code for _ in range(3)]
    refused = client.post("/apply/", {}, format="json")

    assert statuses == [201, 201, 429]
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    body = refused.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith("Request was throttled.")
    assert body["fields"] == {}


def test_the_daily_limit_applies_even_when_the_hourly_one_has_room(settings, merchant_owner):
    _limit_applications(settings, hourly="50/hour", daily="1/day")
    client = _client(merchant_owner)
    assert client.post("/apply/", {}, format="json").status_code == 201
    refused = client.post("/apply/", {}, format="json")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 3600


def test_one_clients_spent_allowance_does_not_limit_another(settings, merchant_owner, other_merchant_owner):
    _limit_applications(settings, hourly="1/hour")
    assert _client(merchant_owner).post("/apply/", {}, format="json").status_code == 201
    assert _client(merchant_owner).post("/apply/", {}, format="json").status_code == 429
    assert _client(other_merchant_owner).post("/apply/", {}, format="json").status_code == 201


def _redis_cache_url() -> str:
    # The broker's Redis server, another key space: the same shared component production uses for CACHE_URL.
    from django.conf import settings as django_settings

    return django_settings.CELERY_BROKER_URL


@pytest.fixture(params=["in-process cache", "redis"])
def shared_cache(request, settings):
    if request.param == "redis":
        request.applymarker(pytest.mark.redis)
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": _redis_cache_url(),
                "KEY_PREFIX": "throttle-race-test",
            }
        }
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_applications_against_a_limit_of_twenty_let_exactly_twenty_through(
    settings, shared_cache, merchant
):
    from rest_framework.authtoken.models import Token

    from tests.concurrency import race

    settings.ROOT_URLCONF = "config.urls"
    _limit_applications(settings, hourly="20/hour")
    token = Token.objects.create(user=merchant.owner)

    def apply():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        # An empty body: the throttle decides before the body is read, and the 20 let through stop at validation.
        response = client.post("/api/v1/applications/", {}, format="json")
        return response.status_code, response.json()["code"]

    outcomes = race(apply, times=50)

    assert sorted(outcomes).count((429, "throttled")) == 30
    assert sorted(outcomes).count((400, "validation_error")) == 20
