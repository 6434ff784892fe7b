"""The risk firewall's models, one module per aggregate."""

from risk.models.watch import DriftAlert, StabilityReading, WatchAlert  # noqa: F401
