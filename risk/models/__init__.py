"""The risk firewall's models, one module per aggregate."""

from risk.models.stress import StressRun, StressRunChunk, StressScenario  # noqa: F401
from risk.models.watch import DriftAlert, StabilityReading, WatchAlert  # noqa: F401
