"""After-commit work that fails is logged and never fails the step that committed."""

import functools
import logging
from unittest import mock

import pytest
from django.db import transaction

from core.transactions import on_commit_robust, task_on_commit

pytestmark = pytest.mark.django_db


def _queue(number: int) -> None:
    raise ConnectionError(f"broker down for {number}")


def test_a_failing_callback_is_logged_with_its_name_and_not_raised(django_capture_on_commit_callbacks, caplog):
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        on_commit_robust(_queue, 7)

    assert "Error calling _queue in on_commit()" in caplog.text
    assert "broker down for 7" in caplog.text


def test_the_callback_gets_its_arguments_after_the_commit(django_capture_on_commit_callbacks):
    calls = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        on_commit_robust(calls.append, "queued")
        assert calls == []

    assert calls == ["queued"]
    assert len(callbacks) == 1


def test_why_it_exists_django_robust_on_commit_cannot_log_a_partial(django_capture_on_commit_callbacks):
    # Django logs a robust callback's failure with ``func.__qualname__``; a partial has none, so the logging raises.
    with (
        pytest.raises(AttributeError, match="__qualname__"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        transaction.on_commit(functools.partial(_queue, 7), robust=True)


def test_a_task_is_queued_by_its_name_only_after_the_commit(django_capture_on_commit_callbacks):
    with (
        mock.patch("core.tasks.echo_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        task_on_commit("core.tasks.echo_task", "hello")
        delay.assert_not_called()

    delay.assert_called_once_with("hello")


def test_a_misspelt_task_name_fails_the_step_at_once(django_capture_on_commit_callbacks):
    with (
        pytest.raises(LookupError, match=r"core\.tasks\.no_such_task"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        task_on_commit("core.tasks.no_such_task", 1)
    assert callbacks == []


def test_a_broker_down_at_the_commit_is_logged_with_the_task_name(django_capture_on_commit_callbacks, caplog):
    with (
        mock.patch("core.tasks.echo_task.delay", side_effect=ConnectionError("broker down")),
        caplog.at_level(logging.ERROR),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        task_on_commit("core.tasks.echo_task", "hello")

    assert "Error calling core.tasks.echo_task.delay in on_commit()" in caplog.text
