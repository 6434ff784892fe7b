"""The back office's pages for partner banks and insurers, one module per aggregate."""

from partners.admin import agreements, insurance, money, webhooks  # noqa: F401
