"""Fraud signals: patterns in a merchant's identity, sales and applications that an officer should look at.

``detect_signals`` only reads. The engine calls it once per decision; a hit refers the application and
raises a ``FraudAlert`` (see ``underwriting.services.fraud.fraud_alerts_raise``). It runs a constant
number of queries whatever the merchant's history: one for shared identities, one for the monthly
sales window.

Each hit carries its evidence in ``details`` (JSON: amounts as strings, ids as ints) and a message in
both languages. The messages may reach the merchant, so they never name another merchant; the ids of
the other merchants are in ``details``, which only officers see. Identity numbers are stored masked.

Thresholds are settings read at call time, so a test or an operator can change them without a deploy
of code:

- ``UNDERWRITING_WINDOW_DRESSING_FACTOR`` (2.0): last full month above this multiple of the median of
  the six months before it.
- ``UNDERWRITING_WINDOW_DRESSING_MIN_MONTHS`` (3): months with sales the baseline needs before the
  comparison means anything.
- ``UNDERWRITING_VELOCITY_APPLICATIONS`` (3): applications in the last 30 days at or above this.
- ``UNDERWRITING_YOUNG_MERCHANT_MONTHS`` (6): a merchant active for fewer months is young.
- ``UNDERWRITING_YOUNG_MERCHANT_SALES_MULTIPLE`` (3): a young merchant asking for more than this
  multiple of its average monthly sales.
- ``UNDERWRITING_YOUNG_MERCHANT_MAX_AMOUNT`` (100000): or for more than this amount in CNY.

The signals read the credit file only (``SalesDay.objects``: the platform feed's current rows), never sales a
merchant declared itself.
"""

import datetime
import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth

from core.formatting import yuan
from core.money import to_fen
from merchants.models import Merchant, SalesDay
from merchants.selectors.sales import month_start
from merchants.validators import mask_resident_id
from underwriting.choices import FraudSignal

# A shared account that a thousand merchants "use" is a data problem, not a thousand leads: the
# details list this many other merchants and say how many more there are.
MAX_OTHER_MERCHANTS_LISTED = 20
BASELINE_MONTHS = 6
RATIO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class SignalHit:
    signal: str  # underwriting.choices.FraudSignal value
    details: dict  # JSON-serialisable (Decimals as strings, ids as ints)
    message_en: str
    message_zh: str


def _setting(name: str, default: str) -> Decimal:
    # Through str() so that a float in settings (2.0) becomes Decimal("2.0"), not its binary expansion.
    return Decimal(str(getattr(settings, f"UNDERWRITING_{name}", default)))


def thresholds() -> dict[str, Decimal]:
    """The thresholds in force now, by setting name (without the ``UNDERWRITING_`` prefix)."""
    return {
        "WINDOW_DRESSING_FACTOR": _setting("WINDOW_DRESSING_FACTOR", "2.0"),
        "WINDOW_DRESSING_MIN_MONTHS": _setting("WINDOW_DRESSING_MIN_MONTHS", "3"),
        "VELOCITY_APPLICATIONS": _setting("VELOCITY_APPLICATIONS", "3"),
        "YOUNG_MERCHANT_MONTHS": _setting("YOUNG_MERCHANT_MONTHS", "6"),
        "YOUNG_MERCHANT_SALES_MULTIPLE": _setting("YOUNG_MERCHANT_SALES_MULTIPLE", "3"),
        "YOUNG_MERCHANT_MAX_AMOUNT": _setting("YOUNG_MERCHANT_MAX_AMOUNT", "100000"),
    }


def _number(value: Decimal) -> str:
    # 2.0 → "2", 2.50 → "2.5": thresholds read as people write them.
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def detect_signals(
    *,
    merchant: Merchant,
    features: Any,
    requested_amount: Decimal,
    applications_last_30_days: int,
    as_of: datetime.date,
) -> list[SignalHit]:
    """Every fraud signal that fires for this merchant and request, in ``FraudSignal`` order.

    ``features`` is the engine's ``MerchantFeatures``; only ``months_active`` and ``monthly_sales_avg``
    are read, and either may be None (no history). ``applications_last_30_days`` is the count lending
    passes in, as it counts it.
    """
    limits = thresholds()
    hits = _shared_identity_hits(merchant)
    window = _window_dressing_hit(merchant, as_of=as_of, limits=limits)
    if window:
        hits.append(window)
    velocity = _velocity_hit(applications_last_30_days, limits=limits)
    if velocity:
        hits.append(velocity)
    young = _young_large_amount_hit(features, requested_amount=requested_amount, limits=limits)
    if young:
        hits.append(young)
    return hits


def _shared_identity_hits(merchant: Merchant) -> list[SignalHit]:
    account = merchant.settlement_account_number.strip()
    id_number = merchant.legal_rep_id_number.strip()
    # A blank field is "not given", not a value every incomplete profile shares.
    match = Q()
    if account:
        match |= Q(settlement_account_number=account)
    if id_number:
        match |= Q(legal_rep_id_number=id_number)
    if not match:
        return []
    others = list(
        Merchant.objects.filter(match)
        .exclude(pk=merchant.pk)
        .order_by("pk")
        .values_list("pk", "settlement_account_number", "legal_rep_id_number")
    )
    hits = []
    on_account = [pk for pk, other_account, _id in others if account and other_account == account]
    if on_account:
        details = {
            "account_last4": account[-4:],
            **_other_merchants(on_account),
        }
        count = len(on_account)
        hits.append(
            SignalHit(
                signal=FraudSignal.SHARED_BANK_ACCOUNT,
                details=details,
                message_en=(
                    f"The settlement account ending {account[-4:]} is also the settlement account of "
                    f"{count} other merchant{'s' if count > 1 else ''} on the platform."
                ),
                message_zh=f"尾号 {account[-4:]} 的结算账户同时是平台上另外 {count} 家商户的结算账户。",
            )
        )
    on_id = [pk for pk, _account, other_id in others if id_number and other_id == id_number]
    if on_id:
        masked = mask_resident_id(id_number)
        details = {"id_number_masked": masked, **_other_merchants(on_id)}
        count = len(on_id)
        hits.append(
            SignalHit(
                signal=FraudSignal.SHARED_ID_NUMBER,
                details=details,
                message_en=(
                    f"The legal representative's ID number {masked} is also registered as the legal "
                    f"representative of {count} other merchant{'s' if count > 1 else ''}."
                ),
                message_zh=f"法定代表人身份证号 {masked} 同时登记为另外 {count} 家商户的法定代表人。",
            )
        )
    return hits


def _other_merchants(ids: list[int]) -> dict[str, Any]:
    return {"other_merchant_ids": ids[:MAX_OTHER_MERCHANTS_LISTED], "other_merchant_count": len(ids)}


def _window_dressing_hit(merchant: Merchant, *, as_of: datetime.date, limits: dict[str, Decimal]) -> SignalHit | None:
    # The last *full* calendar month: the month before as_of's, whose takings are all in.
    last_month = month_start(as_of, months_back=1)
    first_baseline = month_start(as_of, months_back=1 + BASELINE_MONTHS)
    rows = (
        SalesDay.objects.filter(merchant=merchant, date__gte=first_baseline, date__lt=month_start(as_of))
        .annotate(month=TruncMonth("date"))
        .values("month")
        .annotate(gross=Sum("gross_sales"))
        .order_by("month")
    )
    totals = {_as_date(row["month"]): row["gross"] or Decimal(0) for row in rows}
    last_total = totals.pop(last_month, Decimal(0))
    # Only months with sales on file form the baseline: a month before the merchant joined the
    # platform is not a month of zero takings. Too short a baseline proves nothing either way
    # (the young-merchant signal covers newcomers).
    if len(totals) < limits["WINDOW_DRESSING_MIN_MONTHS"]:
        return None
    median = statistics.median(totals.values())
    factor = limits["WINDOW_DRESSING_FACTOR"]
    if last_total <= factor * median:
        return None
    ratio = (last_total / median).quantize(RATIO_PLACES) if median else None
    month_label = f"{last_month:%Y-%m}"
    details = {
        "month": month_label,
        "month_sales": str(to_fen(last_total)),
        "baseline_months": [f"{month:%Y-%m}" for month in sorted(totals)],
        "baseline_median": str(to_fen(median)),
        "ratio": str(ratio) if ratio is not None else None,
        "factor": _number(factor),
    }
    times_en = f"{ratio} times" if ratio is not None else "far above"
    times_zh = f"{ratio} 倍" if ratio is not None else "远高于中位数"
    return SignalHit(
        signal=FraudSignal.WINDOW_DRESSING,
        details=details,
        message_en=(
            f"Sales in {month_label} ({yuan(last_total)}) were {times_en} the median month of the "
            f"{len(totals)} months before ({yuan(median)}); more than {_number(factor)} times is unusual."
        ),
        message_zh=(
            f"{last_month.year}年{last_month.month}月的销售额（{yuan(last_total)}）是此前 {len(totals)} 个月"
            f"月销售额中位数（{yuan(median)}）的 {times_zh}，超过 {_number(factor)} 倍属于异常。"
        ),
    )


def _velocity_hit(applications_last_30_days: int, *, limits: dict[str, Decimal]) -> SignalHit | None:
    threshold = limits["VELOCITY_APPLICATIONS"]
    if applications_last_30_days < threshold:
        return None
    return SignalHit(
        signal=FraudSignal.APPLICATION_VELOCITY,
        details={"applications_last_30_days": applications_last_30_days, "threshold": int(threshold)},
        message_en=(
            f"{applications_last_30_days} loan applications in the last 30 days; "
            f"{_number(threshold)} or more in 30 days is reviewed by an officer."
        ),
        message_zh=(
            f"过去 30 天内提交了 {applications_last_30_days} 笔贷款申请；"
            f"30 天内达到 {_number(threshold)} 笔及以上需由信贷员审核。"
        ),
    )


def _young_large_amount_hit(
    features: Any, *, requested_amount: Decimal, limits: dict[str, Decimal]
) -> SignalHit | None:
    months_active = int(getattr(features, "months_active", None) or 0)
    if months_active >= limits["YOUNG_MERCHANT_MONTHS"]:
        return None
    # No sales on file is an average of nothing: any amount is large against it.
    monthly_sales = getattr(features, "monthly_sales_avg", None) or Decimal(0)
    multiple = limits["YOUNG_MERCHANT_SALES_MULTIPLE"]
    max_amount = limits["YOUNG_MERCHANT_MAX_AMOUNT"]
    above_multiple = requested_amount > multiple * monthly_sales
    above_max = requested_amount > max_amount
    if not (above_multiple or above_max):
        return None
    details = {
        "months_active": months_active,
        "monthly_sales_avg": str(to_fen(monthly_sales)),
        "requested_amount": str(to_fen(requested_amount)),
        "sales_multiple": _number(multiple),
        "max_amount": str(to_fen(max_amount)),
        "exceeds": [name for name, hit in (("sales_multiple", above_multiple), ("max_amount", above_max)) if hit],
    }
    reasons_en, reasons_zh = [], []
    if above_multiple:
        reasons_en.append(f"more than {_number(multiple)} times its average monthly sales ({yuan(monthly_sales)})")
        reasons_zh.append(f"超过月均销售额（{yuan(monthly_sales)}）的 {_number(multiple)} 倍")
    if above_max:
        reasons_en.append(f"more than {yuan(max_amount)}")
        reasons_zh.append(f"超过 {yuan(max_amount)}")
    young = int(limits["YOUNG_MERCHANT_MONTHS"])
    return SignalHit(
        signal=FraudSignal.YOUNG_MERCHANT_LARGE_AMOUNT,
        details=details,
        message_en=(
            f"A merchant trading for {months_active} month{'s' if months_active != 1 else ''} (under {young}) "
            f"asks for {yuan(requested_amount)}, {' and '.join(reasons_en)}."
        ),
        message_zh=(
            f"商户仅经营 {months_active} 个月（不足 {young} 个月），申请金额 {yuan(requested_amount)}，"
            f"{'，且'.join(reasons_zh)}。"
        ),
    )


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    # TruncMonth over a DateField gives a date; some backends hand back a datetime at midnight.
    return value.date() if isinstance(value, datetime.datetime) else value
