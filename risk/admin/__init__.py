"""The risk firewall's back office: exposure limits, stress scenarios and runs, the portfolio dashboard, fraud after
payout and model drift."""

from risk.admin import dashboard, limits, stress, watch  # noqa: F401
