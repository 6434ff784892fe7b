"""The risk firewall's back office."""

from risk.admin import watch  # noqa: F401 - fraud after payout and model drift
