"""The risk firewall's back office: stress scenarios and runs, the portfolio dashboard, fraud after payout and
model drift."""

from risk.admin import dashboard, stress, watch  # noqa: F401
