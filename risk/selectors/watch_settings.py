"""The thresholds of the fraud watch after payout and of model drift, read from settings, and their system check.

Every threshold is a setting with a default in ``config/settings/base.py``. A missing or invalid one is an error at
start-up (``watch_settings_check`` runs with every ``manage.py`` command, the web and worker processes included)
and when the job reads it (``ImproperlyConfigured``): the watch never runs on a guess, and never silently skips.
The admin pages state the thresholds in force (``watch_thresholds_described``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: type  # int (days) or Decimal (a fraction or a factor)
    low: Decimal  # inclusive
    high: Decimal | None  # inclusive; None: no upper bound
    example: str


SPECS = (
    _Spec("RISK_WATCH_BASELINE_DAYS", int, Decimal(7), Decimal(730), "90"),
    _Spec("RISK_WATCH_BASELINE_MIN_DAYS", int, Decimal(1), Decimal(730), "30"),
    _Spec("RISK_WATCH_AFTER_DAYS", int, Decimal(1), Decimal(365), "30"),
    _Spec("RISK_WATCH_MIN_DAYS_AFTER_PAYOUT", int, Decimal(1), Decimal(365), "14"),
    _Spec("RISK_WATCH_SALES_COLLAPSE_RATIO", Decimal, Decimal("0.01"), Decimal("0.99"), "0.40"),
    _Spec("RISK_WATCH_REFUND_SPIKE_MIN_RATIO", Decimal, Decimal("0.01"), Decimal(1), "0.10"),
    _Spec("RISK_WATCH_REFUND_SPIKE_FACTOR", Decimal, Decimal("1.01"), None, "3"),
    _Spec("RISK_WATCH_DORMANT_DAYS", int, Decimal(1), Decimal(365), "14"),
    _Spec("RISK_WATCH_REALERT_DAYS", int, Decimal(1), Decimal(3650), "30"),
    _Spec("RISK_DRIFT_PSI_THRESHOLD", Decimal, Decimal("0.01"), Decimal(10), "0.25"),
    _Spec("RISK_DRIFT_WINDOW_DAYS", int, Decimal(1), Decimal(365), "30"),
)


@dataclass(frozen=True)
class WatchThresholds:
    baseline_days: int
    baseline_min_days: int
    after_days: int
    min_days_after_payout: int
    sales_collapse_ratio: Decimal
    refund_spike_min_ratio: Decimal
    refund_spike_factor: Decimal
    dormant_days: int
    realert_days: int

    def as_evidence(self) -> dict[str, str]:
        """The thresholds as an alert keeps them, by setting name, so the evidence says what was in force."""
        return {f"RISK_WATCH_{name.upper()}": str(value) for name, value in self.__dict__.items()}


def _read(spec: _Spec) -> int | Decimal:
    value = getattr(settings, spec.name, None)
    bounds = f"from {spec.low} to {spec.high}" if spec.high is not None else f"at least {spec.low}"
    problem = (
        f"{spec.name} must be {'a whole number of days' if spec.kind is int else 'a number'} {bounds}; it is {value!r}."
    )
    if value is None or isinstance(value, (bool, float)):
        raise ImproperlyConfigured(problem)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ImproperlyConfigured(problem) from None
    if (
        not number.is_finite()
        or number < spec.low
        or (spec.high is not None and number > spec.high)
        or (spec.kind is int and number != number.to_integral_value())
    ):
        raise ImproperlyConfigured(problem)
    return int(number) if spec.kind is int else number


def watch_thresholds() -> WatchThresholds:
    """The fraud watch's thresholds in force; ``ImproperlyConfigured`` names the first one missing or invalid."""
    values = {spec.name: _read(spec) for spec in SPECS if spec.name.startswith("RISK_WATCH_")}
    thresholds = WatchThresholds(**{name.removeprefix("RISK_WATCH_").lower(): value for name, value in values.items()})
    if thresholds.baseline_min_days > thresholds.baseline_days:
        raise ImproperlyConfigured(
            f"RISK_WATCH_BASELINE_MIN_DAYS ({thresholds.baseline_min_days}) cannot be more than "
            f"RISK_WATCH_BASELINE_DAYS ({thresholds.baseline_days})."
        )
    return thresholds


def drift_psi_threshold() -> Decimal:
    """Above this PSI a score or feature has drifted: the risk managers get an alert."""
    return _read(next(spec for spec in SPECS if spec.name == "RISK_DRIFT_PSI_THRESHOLD"))


def drift_window_days() -> int:
    return _read(next(spec for spec in SPECS if spec.name == "RISK_DRIFT_WINDOW_DAYS"))


def watch_thresholds_described() -> list[str]:
    """The fraud watch's rules in words, with the thresholds in force, for the admin page."""
    t = watch_thresholds()
    collapse = f"{t.sales_collapse_ratio * 100:.0f} %"
    return [
        _(
            "Each day, every loan on the book is compared since its payout (the last %(after)d days, once "
            "%(min_after)d have passed) with the merchant's own %(baseline)d days before it (at least %(min_days)d "
            "days reported). Only the platform's settlement feed counts; sales a merchant declared never do."
        )
        % {
            "after": t.after_days,
            "min_after": t.min_days_after_payout,
            "baseline": t.baseline_days,
            "min_days": t.baseline_min_days,
        },
        _("Loan-and-run: average daily sales since the payout below %(ratio)s of the average before it.")
        % {"ratio": collapse},
        _(
            "Refunds spiking: refunds since the payout at least %(min)s of sales and %(factor)s times their share "
            "before it."
        )
        % {"min": f"{t.refund_spike_min_ratio * 100:.0f} %", "factor": t.refund_spike_factor.normalize()},
        _("Dormant: no platform sales at all in the last %(days)d days.") % {"days": t.dormant_days},
        _(
            "Settlement account changed: a change of the account recorded after the payout, or an account other "
            "than the one paid."
        ),
        _(
            "One alert per loan and kind while it is open; a dismissed one is raised again only if it still holds "
            "%(days)d days later."
        )
        % {"days": t.realert_days},
    ]


@register()
def watch_settings_check(app_configs, **kwargs):
    errors = []
    for spec in SPECS:
        try:
            _read(spec)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint=f"Set {spec.name}, e.g. {spec.example}.", id="risk.E101"))
    if not errors:
        try:
            watch_thresholds()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="risk.E102"))
    return errors


__all__ = [
    "WatchThresholds",
    "drift_psi_threshold",
    "drift_window_days",
    "watch_settings_check",
    "watch_thresholds",
    "watch_thresholds_described",
]
