"""Settings for the test suite: the real PostgreSQL and Redis when given, eager Celery by default."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("STAFF_MFA_REQUIRED", "false")

# Clearly fictional lender details for the contract (production requires real ones).
os.environ.setdefault(
    "LENDER_REGISTERED_ADDRESS", "示例市示例区示例路 1 号（虚构地址）1 Example Road, Example City (fictional)"
)
os.environ.setdefault("LENDER_REGISTRATION_NUMBER", "EXAMPLE-0000000000 (fictional)")
os.environ.setdefault(
    "DISPUTE_RESOLUTION_VENUE", "示例市示例区人民法院（虚构）Example District People's Court (fictional)"
)

from .base import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
MEDIA_ROOT = BASE_DIR / ".test-media"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
LANGUAGE_CODE = "en"
