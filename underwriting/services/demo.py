"""The default expert scorecard and policy rules the portal ships with (``underwriting_seed``).

The scorecard is expert judgement, not a fitted model: every feature's bins and points say what a credit officer
would say about a small merchant's payment history, and each bin that costs points carries the reason the
merchant is told, in English and Chinese. A trained version (``manage.py train_scorecard``) replaces it when there
is repayment history to learn from.

Scaling: 600 points at odds of 50:1 (PD ≈ 2 %), 20 points to double the odds. With the grade ceilings below,
A starts near 620 points, B near 593, C near 572, D near 551. Applications at 565 and above (PD ≈ 6.3 %) are
approved automatically, from 545 (PD ≈ 12 %) they go to an officer, below 545 they are declined. Calibrated on
400 demo merchants (``merchants.services.demo.seed_merchants``, seed 7) each asking for one month of sales: 86 %
approved,
12 % referred (grey band, fraud signals), 2 % declined; asking for half a month's sales, 91 % are approved.
"""

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.services.audit import audit_record
from merchants.choices import Industry
from underwriting.choices import Feature, Outcome, RuleKind, ScorecardState
from underwriting.models import PolicyRule, Scorecard, ScorecardBin

DEFAULT_SCORECARD_VERSION = 1
DEFAULT_SCORECARD_NAME = "Expert scorecard"

SCORECARD = {
    "name": DEFAULT_SCORECARD_NAME,
    "source": "expert",
    "base_score": Decimal(600),
    "base_odds": Decimal(50),
    "pdo": Decimal(20),
    "intercept_points": Decimal(360),
    "grade_pd_ceilings": {"A": "0.01", "B": "0.025", "C": "0.05", "D": "0.10"},
    "approve_min_score": Decimal(565),
    "refer_min_score": Decimal(545),
    "notes": (
        "Expert judgement for merchants with a payment history on the platform; replace with a trained version "
        "once loans have a repayment record. Best possible score 650; a typical steady shop scores 590 to 630."
    ),
}

# Per feature: (lower, upper, points, reason_en, reason_zh); None is an open end. The best bin has no reason:
# it never costs points.
NUMERIC_BINS: dict[str, list[tuple]] = {
    Feature.MONTHS_ACTIVE: [
        (
            None,
            6,
            0,
            "Fewer than 6 months of sales on the platform: too short a record to judge the business by.",
            "在平台上的销售记录不足 6 个月，记录太短，难以判断经营状况。",
        ),
        (
            6,
            12,
            12,
            "Only 6 to 12 months of sales on the platform; a longer record scores higher.",
            "在平台上的销售记录仅 6 至 12 个月，记录越长得分越高。",
        ),
        (
            12,
            18,
            24,
            "12 to 18 months of sales on the platform; two years and more score highest.",
            "在平台上的销售记录为 12 至 18 个月，满两年得分最高。",
        ),
        (
            18,
            24,
            32,
            "Just under two years of sales on the platform; two years and more score highest.",
            "在平台上的销售记录接近两年，满两年得分最高。",
        ),
        (24, None, 40, "", ""),
    ],
    Feature.MONTHLY_SALES_AVG: [
        (
            None,
            10000,
            0,
            "Average monthly sales under ¥10,000 are too low to support a loan repayment.",
            "月均销售额低于 1 万元，难以支撑贷款还款。",
        ),
        (
            10000,
            30000,
            10,
            "Average monthly sales of ¥10,000 to ¥30,000 leave little room for repayments.",
            "月均销售额为 1 万至 3 万元，还款空间较小。",
        ),
        (
            30000,
            100000,
            20,
            "Average monthly sales of ¥30,000 to ¥100,000; larger businesses score higher.",
            "月均销售额为 3 万至 10 万元，经营规模越大得分越高。",
        ),
        (
            100000,
            300000,
            30,
            "Average monthly sales of ¥100,000 to ¥300,000; above ¥300,000 scores highest.",
            "月均销售额为 10 万至 30 万元，超过 30 万元得分最高。",
        ),
        (300000, None, 35, "", ""),
    ],
    Feature.SALES_TREND: [
        (
            None,
            Decimal("-0.3"),
            0,
            "Sales in the last 3 months fell by more than 30 % against the 3 months before.",
            "近 3 个月销售额比之前 3 个月下降超过 30%。",
        ),
        (
            Decimal("-0.3"),
            Decimal("-0.1"),
            10,
            "Sales in the last 3 months fell by 10 % to 30 % against the 3 before.",
            "近 3 个月销售额比之前 3 个月下降 10% 至 30%。",
        ),
        (
            Decimal("-0.1"),
            Decimal("0.1"),
            25,
            "Sales are flat; steadily growing sales score a little higher.",
            "销售额基本持平；稳步增长的销售额得分略高。",
        ),
        (Decimal("0.1"), Decimal("0.5"), 30, "", ""),
        (
            Decimal("0.5"),
            None,
            18,
            "Sales jumped by more than half in the last 3 months; a sudden jump is checked before it is trusted.",
            "近 3 个月销售额骤增超过 50%，突然的增长需要核实。",
        ),
    ],
    Feature.SALES_CV: [
        (None, Decimal("0.15"), 30, "", ""),
        (
            Decimal("0.15"),
            Decimal("0.3"),
            20,
            "Monthly sales vary by 15 % to 30 % from month to month.",
            "月销售额的波动幅度为 15% 至 30%。",
        ),
        (
            Decimal("0.3"),
            Decimal("0.5"),
            8,
            "Monthly sales vary by 30 % to 50 % from month to month: repayments would be hard in the weak months.",
            "月销售额波动幅度为 30% 至 50%，淡季还款会有困难。",
        ),
        (
            Decimal("0.5"),
            None,
            0,
            "Monthly sales swing by more than half from month to month, or there are fewer "
            "than 3 months of sales to judge by.",
            "月销售额波动超过 50%，或销售记录不足 3 个月无法判断。",
        ),
    ],
    Feature.REFUND_RATIO: [
        (None, Decimal("0.01"), 25, "", ""),
        (
            Decimal("0.01"),
            Decimal("0.03"),
            18,
            "Refunds are 1 % to 3 % of sales; under 1 % scores highest.",
            "退款占销售额的 1% 至 3%，低于 1% 得分最高。",
        ),
        (
            Decimal("0.03"),
            Decimal("0.08"),
            8,
            "Refunds are 3 % to 8 % of sales: more customers than usual ask for their money back.",
            "退款占销售额的 3% 至 8%，退款的顾客比一般商户多。",
        ),
        (
            Decimal("0.08"),
            None,
            0,
            "Refunds are more than 8 % of sales, or there were no sales in the last 12 months to measure them against.",
            "退款超过销售额的 8%，或近 12 个月没有销售额可供衡量。",
        ),
    ],
    Feature.ACTIVE_DAY_SHARE: [
        (
            None,
            Decimal("0.5"),
            0,
            "Sales on fewer than half of the days: the business trades irregularly.",
            "有销售的天数不足一半，经营不连续。",
        ),
        (
            Decimal("0.5"),
            Decimal("0.8"),
            10,
            "Sales on only 50 % to 80 % of days; trading more days scores higher.",
            "仅 50% 至 80% 的天数有销售，经营天数越多得分越高。",
        ),
        (
            Decimal("0.8"),
            Decimal("0.95"),
            18,
            "Sales on 80 % to 95 % of days; gaps in trading cost a few points.",
            "80% 至 95% 的天数有销售，经营中断会扣减少量分数。",
        ),
        (Decimal("0.95"), None, 25, "", ""),
    ],
    Feature.DISTINCT_CUSTOMERS: [
        (
            None,
            100,
            0,
            "Fewer than 100 customers in the last 90 days: the business depends on very few buyers.",
            "近 90 天顾客少于 100 人次，经营依赖极少数买家。",
        ),
        (
            100,
            500,
            8,
            "100 to 500 customers in the last 90 days; a broader customer base scores higher.",
            "近 90 天顾客为 100 至 500 人次，顾客群越广得分越高。",
        ),
        (
            500,
            2000,
            15,
            "500 to 2,000 customers in the last 90 days; more than 2,000 scores highest.",
            "近 90 天顾客为 500 至 2000 人次，超过 2000 人次得分最高。",
        ),
        (2000, None, 20, "", ""),
    ],
    Feature.DAYS_SINCE_LAST_SALE: [
        (None, 7, 20, "", ""),
        (7, 30, 8, "No sale on the platform for a week or more.", "已有一周以上在平台上没有销售。"),
        (
            30,
            None,
            0,
            "No sale on the platform for a month or more, or no sale at all.",
            "已有一个月以上在平台上没有销售，或从未有过销售。",
        ),
    ],
    Feature.SEASONALITY: [
        (None, Decimal("1.3"), 15, "", ""),
        (
            Decimal("1.3"),
            Decimal("1.6"),
            10,
            "The best month sells 30 % to 60 % above the average month.",
            "销售最好的月份比月均高出 30% 至 60%。",
        ),
        (
            Decimal("1.6"),
            Decimal("2"),
            4,
            "Sales are seasonal: the best month sells 60 % to 100 % above the average.",
            "销售季节性明显：最好的月份比月均高出 60% 至 100%。",
        ),
        (
            Decimal("2"),
            None,
            0,
            "Sales depend on one season (the best month sells twice the average or more), or "
            "there are fewer than 3 months of sales to judge by.",
            "销售高度依赖旺季（最好月份达月均两倍以上），或销售记录不足 3 个月。",
        ),
    ],
    Feature.AMOUNT_TO_MONTHLY_SALES: [
        (None, Decimal("0.5"), 30, "", ""),
        (
            Decimal("0.5"),
            Decimal("1"),
            22,
            "The amount is half to one month of sales; a smaller amount scores higher.",
            "申请金额相当于半个月至一个月的销售额，金额越小得分越高。",
        ),
        (
            Decimal("1"),
            Decimal("1.5"),
            12,
            "The amount is one to one and a half months of sales: monthly sales are below the level for this amount.",
            "申请金额相当于一至一个半月的销售额，月销售额低于该金额所需水平。",
        ),
        (
            Decimal("1.5"),
            Decimal("3"),
            5,
            "The amount is more than one and a half months of sales: monthly sales are "
            "well below the level for this amount.",
            "申请金额超过一个半月的销售额，月销售额远低于该金额所需水平。",
        ),
        (
            Decimal("3"),
            None,
            0,
            "The amount is more than three months of sales, or there are no recent sales to measure it against.",
            "申请金额超过三个月的销售额，或近期没有销售额可供衡量。",
        ),
    ],
}

# Industry groups by how small merchants in them usually repay: (points, industries, reason_en, reason_zh).
INDUSTRY_GROUPS: list[tuple] = [
    (20, [Industry.PHARMACY, Industry.SUPERMARKET, Industry.GROCERY], "", ""),
    (
        16,
        [Industry.WHOLESALE, Industry.LAUNDRY, Industry.REPAIR, Industry.LOGISTICS],
        "Trade and local services repay well but a little less steadily than grocers and pharmacies.",
        "批发和本地服务业还款较好，但稳定性略逊于便利店和药店。",
    ),
    (
        12,
        [Industry.RESTAURANT, Industry.FAST_FOOD, Industry.BEVERAGE, Industry.BEAUTY],
        "Restaurants, food outlets and salons open and close more often than grocers and pharmacies.",
        "餐饮和美容美发行业的开业和关店比便利店和药店更频繁。",
    ),
    (
        8,
        [Industry.APPAREL, Industry.ELECTRONICS, Industry.ONLINE_RETAIL, Industry.HOTEL],
        "Fashion, electronics, online shops and hotels face sharp swings in demand and stock risk.",
        "服装、电子产品、网店和酒店行业需求波动大，且有库存风险。",
    ),
    (
        4,
        [Industry.EDUCATION, ""],
        "Tutoring is paid in advance and refunded when a centre closes, so it repays least reliably.",
        "培训行业预收学费，机构关闭时需退费，还款最不稳定。",
    ),
]

RULES: list[dict] = [
    {
        "code": "kyc-verified",
        "kind": RuleKind.KYC_VERIFIED,
        "outcome": Outcome.DECLINE,
        "message_en": "Your business's identity check (KYC) is not verified. Once it is verified you can apply.",
        "message_zh": "贵商户的身份核验（KYC）尚未通过。核验通过后即可申请。",
    },
    {
        "code": "min-months-active",
        "kind": RuleKind.MIN_MONTHS_ACTIVE,
        "threshold": Decimal(6),
        "outcome": Outcome.DECLINE,
        "message_en": (
            "Your business has {value} months of sales on the platform; we lend from {threshold} months. "
            "Apply again once it has {threshold} months of sales."
        ),
        "message_zh": (
            "贵商户在平台上有 {value} 个月的销售记录，我们要求至少 {threshold} 个月。满 {threshold} 个月后可再次申请。"
        ),
    },
    {
        "code": "no-default",
        "kind": RuleKind.NO_DEFAULT,
        "outcome": Outcome.DECLINE,
        "message_en": "A loan of yours is in default. Repay it in full, then apply again.",
        "message_zh": "您有一笔贷款已违约。全部还清后可再次申请。",
    },
    {
        "code": "no-fraud-flag",
        "kind": RuleKind.NO_FRAUD_FLAG,
        "outcome": Outcome.DECLINE,
        "message_en": (
            "Your business is under a security review. We will contact you; you can apply again once the review "
            "is closed."
        ),
        "message_zh": "贵商户正在接受安全审查。我们会与您联系，审查结束后可再次申请。",
    },
    {
        "code": "industry-not-excluded",
        "kind": RuleKind.INDUSTRY_NOT_EXCLUDED,
        "parameters": {"industries": []},
        "outcome": Outcome.DECLINE,
        "message_en": "We do not lend to businesses in your industry at present.",
        "message_zh": "我们目前不向贵商户所在行业提供贷款。",
    },
    {
        "code": "amount-within-line",
        "kind": RuleKind.AMOUNT_WITHIN_LINE,
        "outcome": Outcome.REFER,
        "message_en": (
            "You asked for ¥{value}; the credit line your sales support is ¥{threshold}. An officer will review "
            "the application; ¥{threshold} or less is decided automatically."
        ),
        "message_zh": (
            "您申请 ¥{value}，您的销售额可支持的额度为 ¥{threshold}。"
            "信贷员将审核本申请；申请不超过 ¥{threshold} 可自动审批。"
        ),
    },
    {
        "code": "max-open-applications",
        "kind": RuleKind.MAX_OPEN_APPLICATIONS,
        "threshold": Decimal(1),
        "outcome": Outcome.DECLINE,
        "message_en": (
            "You have {value} other applications in progress; we handle at most {threshold} besides this one. "
            "Finish or withdraw one, then apply again."
        ),
        "message_zh": (
            "您还有 {value} 笔其他申请正在处理中，除本申请外最多允许 {threshold} 笔。请完成或撤回一笔后再申请。"
        ),
    },
]


def default_scorecard_bins(scorecard: Scorecard) -> list[ScorecardBin]:
    """The expert scorecard's bins, unsaved."""
    bins = [
        ScorecardBin(
            scorecard=scorecard,
            feature=feature,
            lower=None if lower is None else Decimal(lower),
            upper=None if upper is None else Decimal(upper),
            points=Decimal(points),
            reason_en=reason_en,
            reason_zh=reason_zh,
        )
        for feature, rows in NUMERIC_BINS.items()
        for lower, upper, points, reason_en, reason_zh in rows
    ]
    bins.extend(
        ScorecardBin(
            scorecard=scorecard,
            feature=Feature.INDUSTRY,
            category=str(industry),
            points=Decimal(points),
            reason_en=reason_en or ("" if industry else "The industry is not one we have a lending record for."),
            reason_zh=reason_zh or ("" if industry else "该行业缺乏放贷记录。"),
        )
        for points, industries, reason_en, reason_zh in INDUSTRY_GROUPS
        for industry in industries
    )
    return bins


def underwriting_seed(*, activated_at: datetime.datetime | None = None) -> dict[str, int]:
    """Create the default scorecard (version 1) and policy rules if missing; running it again changes nothing.

    Version 1 is created active when no scorecard is active (one audit row, by the system), activated at
    ``activated_at`` (now by default: the demo's history needs it active from the history's first day); a rule
    that exists is left as the risk manager set it. Returns what was created.
    """
    created = {"scorecards": 0, "rules": 0}
    with transaction.atomic():
        if not Scorecard.objects.filter(version=DEFAULT_SCORECARD_VERSION).exists():
            # Created in its final state: this is an insert of the shipped configuration, not a transition.
            active = not Scorecard.objects.filter(state=ScorecardState.ACTIVE).exists()
            scorecard = Scorecard(
                version=DEFAULT_SCORECARD_VERSION,
                state=ScorecardState.ACTIVE if active else ScorecardState.DRAFT,
                **SCORECARD,
            )
            if active:
                scorecard.activated_at = activated_at or timezone.now()
            scorecard.save()
            ScorecardBin.objects.bulk_create(default_scorecard_bins(scorecard))
            audit_record(
                subject=scorecard,
                action="scorecard.seed",
                to_state=scorecard.state,
                reason="Demo data: the default expert scorecard, created by underwriting.services.demo.",
                data={"version": scorecard.version},
            )
            created["scorecards"] = 1
        for rule in RULES:
            _rule, was_created = PolicyRule.objects.get_or_create(code=rule["code"], defaults=rule)
            created["rules"] += int(was_created)
    return created


__all__ = ["DEFAULT_SCORECARD_VERSION", "RULES", "SCORECARD", "default_scorecard_bins", "underwriting_seed"]
