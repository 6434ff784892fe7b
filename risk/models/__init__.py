"""The risk firewall's models, one module per aggregate."""

from risk.models.limits import ExposureLimit, LimitKind, LimitVersion, PayoutHold
from risk.models.stress import StressRun, StressRunChunk, StressScenario
from risk.models.watch import DriftAlert, StabilityReading, WatchAlert

__all__ = [
    "DriftAlert",
    "ExposureLimit",
    "LimitKind",
    "LimitVersion",
    "PayoutHold",
    "StabilityReading",
    "StressRun",
    "StressRunChunk",
    "StressScenario",
    "WatchAlert",
]
