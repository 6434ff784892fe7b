"""The risk firewall's models, one module per aggregate."""

from risk.models.stress import StressRun, StressRunChunk, StressScenario  # noqa: F401
