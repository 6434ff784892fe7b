"""Fraud watched after payout: which funded merchants' behaviour turned after the money left, with the evidence.

Read-only. For a day ``on`` (the job's day; its own sales may not be in yet, so windows end the day before), every
loan on the book paid out before that day is compared with the merchant's own history before its payout:

- **loan-and-run**: average daily platform sales since the payout (the last ``AFTER_DAYS``, from the day after
  the payout, once ``MIN_DAYS_AFTER_PAYOUT`` have passed; a day the platform reported nothing for counts as a day
  without takings) below ``SALES_COLLAPSE_RATIO`` of the average per reported day over the ``BASELINE_DAYS``
  before the payout (which needs ``BASELINE_MIN_DAYS`` reported days, or there is no history to compare with);
- **refunds spiking**: refunds since the payout at least ``REFUND_SPIKE_MIN_RATIO`` of sales, and at least
  ``REFUND_SPIKE_FACTOR`` times their share before it;
- **dormant**: no platform sales at all over the last ``DORMANT_DAYS`` days, the payout being older than them
  (and the merchant having had sales before it);
- **settlement account changed**: a change of the settlement account recorded after the payout, or a settlement
  account now other than the one the money was paid to.

Only the platform's settlement feed counts (``merchants.selectors.watch``): sales a merchant declared never feed an
automated check. A loan already marked as fraud is not watched any more. The facts come from the lower layers'
selectors in a constant number of queries, whatever the number of loans.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.formatting import masked_account
from lending.servicing.selectors.fraud import PaidOutLoan, loans_watched_after_payout
from merchants.selectors.watch import (
    SalesWindow,
    SalesWindowTotals,
    merchants_settlement_accounts,
    sales_last_day_with_sales,
    sales_window_totals,
    settlement_account_changes,
)
from risk.models.watch import WatchAlert, WatchAlertKind, WatchAlertStatus
from risk.selectors.watch_settings import WatchThresholds, watch_thresholds

MONEY = Decimal("0.01")
RATIO = Decimal("0.0001")
K = WatchAlertKind


@dataclass(frozen=True)
class WatchFinding:
    """One loan whose merchant turned in one way, with the evidence (JSON: amounts and ratios as strings)."""

    loan_id: int
    merchant_id: int
    kind: str
    evidence: dict


def _money(value: Decimal) -> str:
    return str(value.quantize(MONEY, rounding=ROUND_HALF_UP))


def _ratio(value: Decimal) -> str:
    return str(value.quantize(RATIO, rounding=ROUND_HALF_UP))


def _window(window: SalesWindow) -> dict[str, str | int]:
    return {"from": window.start.isoformat(), "to": window.end.isoformat(), "days": window.calendar_days}


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def watch_findings(*, on: datetime.date, thresholds: WatchThresholds | None = None) -> list[WatchFinding]:
    """What the watch finds for day ``on``, loan by loan, in payout order."""
    t = thresholds or watch_thresholds()
    loans = [loan for loan in loans_watched_after_payout(paid_out_before=_day_start(on)) if not loan.fraud_marked]
    if not loans:
        return []
    last_day = on - datetime.timedelta(days=1)
    windows: dict[tuple[int, str], SalesWindow] = {}
    for loan in loans:
        paid = loan.paid_out_on
        windows[loan.loan_id, "before"] = SalesWindow(
            (loan.loan_id, "before"),
            loan.merchant_id,
            paid - datetime.timedelta(days=t.baseline_days),
            paid - datetime.timedelta(days=1),
        )
        windows[loan.loan_id, "after"] = SalesWindow(
            (loan.loan_id, "after"),
            loan.merchant_id,
            max(paid + datetime.timedelta(days=1), on - datetime.timedelta(days=t.after_days)),
            last_day,
        )
        windows[loan.loan_id, "dormant"] = SalesWindow(
            (loan.loan_id, "dormant"), loan.merchant_id, on - datetime.timedelta(days=t.dormant_days), last_day
        )
    totals = sales_window_totals(windows=windows.values())
    merchant_ids = {loan.merchant_id for loan in loans}
    last_sales = sales_last_day_with_sales(merchant_ids=merchant_ids, before=on)
    accounts = merchants_settlement_accounts(merchant_ids=merchant_ids)
    changes = settlement_account_changes(merchant_ids=merchant_ids, since=min(loan.paid_out_at for loan in loans))
    findings: list[WatchFinding] = []
    for loan in loans:
        before_window, after_window = windows[loan.loan_id, "before"], windows[loan.loan_id, "after"]
        before = totals.get(before_window.key, SalesWindowTotals())
        after = totals.get(after_window.key, SalesWindowTotals())
        dormant = totals.get(windows[loan.loan_id, "dormant"].key, SalesWindowTotals())
        common = {
            "paid_out_on": loan.paid_out_on.isoformat(),
            "principal": _money(loan.principal),
            "before": {**_window(before_window), "days_reported": before.days_reported},
            "after": {**_window(after_window), "days_reported": after.days_reported},
        }
        has_history = before.days_reported >= t.baseline_min_days and before.gross_sales > 0
        long_enough = (last_day - loan.paid_out_on).days >= t.min_days_after_payout
        if has_history and long_enough:
            findings += _sales_findings(loan, before, after, after_window, common, t)
        payout_before_quiet = loan.paid_out_on < on - datetime.timedelta(days=t.dormant_days)
        if has_history and payout_before_quiet and dormant.days_with_sales == 0:
            last = last_sales.get(loan.merchant_id)
            findings.append(
                WatchFinding(
                    loan.loan_id,
                    loan.merchant_id,
                    K.DORMANT,
                    {
                        **common,
                        "quiet": {**_window(windows[loan.loan_id, "dormant"]), "days_reported": dormant.days_reported},
                        "last_day_with_sales": last.isoformat() if last else None,
                        "days_without_sales": (on - last).days - 1 if last else None,
                        "thresholds": {"RISK_WATCH_DORMANT_DAYS": str(t.dormant_days)},
                    },
                )
            )
        account_changes = [change for change in changes.get(loan.merchant_id, []) if change.at > loan.paid_out_at]
        current = accounts.get(loan.merchant_id, "")
        if account_changes or current != loan.payout_account_number:
            findings.append(
                WatchFinding(
                    loan.loan_id,
                    loan.merchant_id,
                    K.SETTLEMENT_ACCOUNT_CHANGED,
                    {
                        "paid_out_on": loan.paid_out_on.isoformat(),
                        "principal": _money(loan.principal),
                        "paid_to_account": masked_account(loan.payout_account_number),
                        "account_now": masked_account(current),
                        "changes": [
                            {
                                "at": timezone.localtime(change.at).strftime("%Y-%m-%d %H:%M"),
                                "fields": change.fields,
                                "by": change.by_label,
                            }
                            for change in account_changes
                        ],
                    },
                )
            )
    return findings


def _sales_findings(
    loan: PaidOutLoan,
    before: SalesWindowTotals,
    after: SalesWindowTotals,
    after_window: SalesWindow,
    common: dict,
    t: WatchThresholds,
) -> list[WatchFinding]:
    found = []
    before_average = before.gross_sales / before.days_reported
    after_average = after.gross_sales / after_window.calendar_days
    ratio = after_average / before_average
    sales = {
        **common,
        "before_sales": _money(before.gross_sales),
        "before_daily_average": _money(before_average),
        "after_sales": _money(after.gross_sales),
        "after_daily_average": _money(after_average),
    }
    if ratio < t.sales_collapse_ratio:
        found.append(
            WatchFinding(
                loan.loan_id,
                loan.merchant_id,
                K.LOAN_AND_RUN,
                {
                    **sales,
                    "ratio": _ratio(ratio),
                    "thresholds": {
                        "RISK_WATCH_SALES_COLLAPSE_RATIO": str(t.sales_collapse_ratio),
                        "RISK_WATCH_BASELINE_DAYS": str(t.baseline_days),
                        "RISK_WATCH_AFTER_DAYS": str(t.after_days),
                    },
                },
            )
        )
    if after.gross_sales > 0:
        before_refunds = before.refunds / before.gross_sales
        after_refunds = after.refunds / after.gross_sales
        if after_refunds >= t.refund_spike_min_ratio and after_refunds >= before_refunds * t.refund_spike_factor:
            found.append(
                WatchFinding(
                    loan.loan_id,
                    loan.merchant_id,
                    K.REFUND_SPIKE,
                    {
                        **sales,
                        "before_refunds": _money(before.refunds),
                        "before_refund_ratio": _ratio(before_refunds),
                        "after_refunds": _money(after.refunds),
                        "after_refund_ratio": _ratio(after_refunds),
                        "thresholds": {
                            "RISK_WATCH_REFUND_SPIKE_MIN_RATIO": str(t.refund_spike_min_ratio),
                            "RISK_WATCH_REFUND_SPIKE_FACTOR": str(t.refund_spike_factor),
                        },
                    },
                )
            )
    return found


# The officers' queue.


def watch_alerts_open() -> QuerySet[WatchAlert]:
    return WatchAlert.objects.filter(status=WatchAlertStatus.OPEN)


def watch_alerts_blocking(*, on: datetime.date, realert_days: int) -> set[tuple[int, str]]:
    """(loan, kind) pairs not to raise again on ``on``: an alert open, one already raised that day, or one dismissed
    fewer than ``realert_days`` ago (or confirmed as fraud, ever)."""
    quiet_since = _day_start(on - datetime.timedelta(days=realert_days - 1))
    blocking = (
        Q(status__in=(WatchAlertStatus.OPEN, WatchAlertStatus.FRAUD))
        | Q(raised_on=on)
        | Q(status=WatchAlertStatus.DISMISSED, resolved_at__gte=quiet_since)
    )
    return set(WatchAlert.objects.filter(blocking).values_list("loan_id", "kind"))


__all__ = ["WatchFinding", "watch_alerts_blocking", "watch_alerts_open", "watch_findings"]
