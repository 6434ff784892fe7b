"""The risk firewall's back office, one module per aggregate."""

from risk.admin import limits  # noqa: F401
