"""The risk firewall's back office, one module per aggregate."""

from risk.admin import limits, watch  # noqa: F401
