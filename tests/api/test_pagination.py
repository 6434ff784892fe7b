"""The cursor paginator every list endpoint uses: newest first, 50 a page, at most 200."""

import pytest
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.test import APIClient

from accounts.models import User
from core.api.pagination import DefaultCursorPagination


class _UserRow(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email"]


class _UsersApi(generics.ListAPIView):
    queryset = User.objects.all()
    serializer_class = _UserRow
    pagination_class = DefaultCursorPagination


urlpatterns = [path("users/", _UsersApi.as_view())]


@pytest.fixture
def users(settings, db):
    settings.ROOT_URLCONF = __name__
    return User.objects.bulk_create(User(email=f"user{n:03d}@example.com") for n in range(230))


@pytest.fixture
def api(merchant_owner):
    client = APIClient()
    client.force_authenticate(merchant_owner)
    return client


def test_a_page_has_50_rows_newest_first_and_a_link_to_the_next(api, users):
    page = api.get("/users/").json()

    ids = [row["id"] for row in page["results"]]
    assert len(ids) == 50
    assert ids == sorted(ids, reverse=True)
    assert ids[0] == User.objects.order_by("-id").first().pk
    assert page["previous"] is None
    assert "cursor=" in page["next"]


def test_following_next_continues_without_repeating_or_skipping_a_row(api, users):
    seen = []
    url = "/users/?page_size=100"
    while url:
        page = api.get(url).json()
        seen.extend(row["id"] for row in page["results"])
        url = page["next"]
    assert seen == list(User.objects.order_by("-id").values_list("id", flat=True))


def test_page_size_can_be_chosen_up_to_200(api, users):
    assert len(api.get("/users/?page_size=7").json()["results"]) == 7
    assert len(api.get("/users/?page_size=1000").json()["results"]) == 200


def test_a_forged_cursor_answers_404_in_the_error_shape(api, users):
    response = api.get("/users/?cursor=not-a-cursor")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Invalid cursor", "fields": {}}
