"""Token authentication: the user and its merchant in one query; bad and inactive tokens refused."""

import pytest
from rest_framework import exceptions
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.api.authentication import TokenAuthentication

pytestmark = pytest.mark.django_db


def test_a_merchant_owners_token_brings_the_merchant_in_the_same_query(merchant, django_assert_num_queries):
    token = Token.objects.create(user=merchant.owner)

    with django_assert_num_queries(1):
        user, authenticated = TokenAuthentication().authenticate_credentials(token.key)
        assert user.merchant == merchant

    assert authenticated == token


def test_a_user_without_a_merchant_is_known_to_have_none_without_another_query(loan_officer, django_assert_num_queries):
    token = Token.objects.create(user=loan_officer)

    with django_assert_num_queries(1):
        user, _token = TokenAuthentication().authenticate_credentials(token.key)
        assert not hasattr(user, "merchant")


def test_an_unknown_token_is_refused(db):
    with pytest.raises(exceptions.AuthenticationFailed, match=r"Invalid token\."):
        TokenAuthentication().authenticate_credentials("not-a-token")


def test_deactivating_a_user_deletes_their_token(merchant):
    token = Token.objects.create(user=merchant.owner)
    merchant.owner.is_active = False
    merchant.owner.save(update_fields=["is_active"])

    with pytest.raises(exceptions.AuthenticationFailed, match=r"Invalid token\."):
        TokenAuthentication().authenticate_credentials(token.key)


def test_an_inactive_users_token_is_refused(merchant):
    merchant.owner.is_active = False
    merchant.owner.save(update_fields=["is_active"])
    # Made after the deactivation (a script, the admin): still refused.
    token = Token.objects.create(user=merchant.owner)

    with pytest.raises(exceptions.AuthenticationFailed, match=r"User inactive or deleted\."):
        TokenAuthentication().authenticate_credentials(token.key)


def test_the_api_authenticates_with_it(merchant):
    token = Token.objects.create(user=merchant.owner)
    client = APIClient()

    answered = client.get("/api/v1/applications/", HTTP_AUTHORIZATION=f"Token {token.key}")
    refused = client.get("/api/v1/applications/", HTTP_AUTHORIZATION="Token wrong")

    assert answered.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
