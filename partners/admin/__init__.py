"""Partners in the back office, one module per aggregate."""

from partners.admin import insurance  # noqa: F401
