"""The partners back office: each module registers its pages."""

from partners.admin import webhooks  # noqa: F401
