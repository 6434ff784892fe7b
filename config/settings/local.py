"""The embedded defaults for `make run`: SQLite, eager Celery, console email, relaxed staff MFA."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-a-secret")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
os.environ.setdefault("STAFF_MFA_REQUIRED", "false")
# The demo's partner bank is the sandbox's, answering its offers in this process (no other service to run).
os.environ.setdefault("PARTNER_WEBHOOK_TRANSPORT", "sandbox.partner.sandbox_webhook_transport")

# Clearly fictional lender details for the contract (production requires real ones).
os.environ.setdefault(
    "LENDER_REGISTERED_ADDRESS", "示例市示例区示例路 1 号（虚构地址）1 Example Road, Example City (fictional)"
)
os.environ.setdefault("LENDER_REGISTRATION_NUMBER", "EXAMPLE-0000000000 (fictional)")
os.environ.setdefault(
    "DISPUTE_RESOLUTION_VENUE", "示例市示例区人民法院（虚构）Example District People's Court (fictional)"
)

from .base import *  # noqa: F403

# Passkeys on http://127.0.0.1 during development.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
