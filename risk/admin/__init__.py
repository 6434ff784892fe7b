"""The risk firewall's back office: stress scenarios and runs, and the portfolio dashboard."""

from risk.admin import dashboard, stress  # noqa: F401
