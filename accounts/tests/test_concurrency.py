"""Concurrent attempts on PostgreSQL: one API token per user, and an enrolment link spent exactly once."""

import pytest
from rest_framework.authtoken.models import Token

from accounts.services.staff_enrolment import staff_enrolment_issue, staff_enrolment_redeem
from accounts.services.tokens import api_token_issue
from tests.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_simultaneous_token_requests_get_one_and_the_same_token(merchant):
    keys = race(lambda: api_token_issue(user=merchant.owner).key, times=20)

    assert len(set(keys)) == 1
    assert list(Token.objects.filter(user=merchant.owner).values_list("key", flat=True)) == [keys[0]]


def test_an_enrolment_link_redeemed_twenty_times_at_once_works_exactly_once(loan_officer):
    token = staff_enrolment_issue(user=loan_officer, by=None)

    outcomes = race(lambda: staff_enrolment_redeem(user=loan_officer, token=token), times=20)

    assert sorted(outcomes) == [False] * 19 + [True]
