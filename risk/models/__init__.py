"""The risk firewall's models, one module per aggregate."""

from risk.models.limits import ExposureLimit, LimitKind, LimitVersion, PayoutHold

__all__ = ["ExposureLimit", "LimitKind", "LimitVersion", "PayoutHold"]
