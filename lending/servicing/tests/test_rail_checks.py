"""A deployment moves real money: `check --deploy` under production settings fails when a sandbox rail is set."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "LENDER_REGISTERED_ADDRESS": "test: registered address",
        "LENDER_REGISTRATION_NUMBER": "test: registration number",
        "DISPUTE_RESOLUTION_VENUE": "test: dispute venue",
        "PLATFORM_RAIL_URL": "https://rails.platform.invalid/v1",
        "PLATFORM_RAIL_SECRET": secrets.token_urlsafe(40),
        "RAIL_CALLBACK_SECRET": secrets.token_urlsafe(40),
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("setting", ["COLLECTION_ADAPTER", "PAYOUT_ADAPTER"])
def test_check_deploy_fails_with_a_sandbox_rail(setting):
    sandbox = {
        "COLLECTION_ADAPTER": "sandbox.rails.SandboxCollectionRail",
        "PAYOUT_ADAPTER": "sandbox.rails.SandboxPayoutRail",
    }

    result = _check_deploy(**{setting: sandbox[setting]})

    assert result.returncode != 0
    assert "lending.E011" in result.stderr + result.stdout


def test_check_deploy_fails_with_a_weak_callback_secret():
    result = _check_deploy(RAIL_CALLBACK_SECRET="short")

    assert result.returncode != 0
    assert "lending.E013" in result.stderr + result.stdout


def test_check_deploy_passes_the_rails_with_the_platforms_own():
    result = _check_deploy()

    assert "lending.E01" not in result.stderr + result.stdout, result.stderr
