"""Deterministic demo merchants: verified businesses with two years of plausible daily sales.

For a given seed every merchant is the same on every machine: merchant ``index`` draws from its own
``random.Random`` stream, so seeding 5 merchants gives the first 5 of a 10,000-merchant run. The sales
follow each trade's week (restaurants peak at the weekend, wholesale on weekdays), the seasons, the
Spring Festival and Double 11, with growth and decline, volatile merchants, refund spikes, gaps and
closed days, and a few that look fraudulent: window-dressing in the last month, and pairs of merchants
sharing a legal representative's ID number and a settlement account.

Writing is built for volume (10,000 merchants by 730 days in well under three minutes on PostgreSQL):
users, merchants and audit rows go in with ``bulk_create``, and the sales rows stream into PostgreSQL
with ``COPY`` while the next ones are generated (``bulk_create`` on other databases). The histories are written
as the platform's settlement feed would send them: platform rows of batch ``demo-seed``.
"""

import contextlib
import datetime
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.models import User
from accounts.roles import Role
from core.models import AuditEvent
from merchants.choices import Industry, KycState, Province, SalesSource
from merchants.models import Merchant, SalesDay
from merchants.validators import credit_code_check_char, resident_id_check_char

DEMO_EMAIL_DOMAIN = "demo.example"
# The demo's shared sign-in password: demo data only, printed by the demo loader for people trying the portal.
DEMO_PASSWORD = "demo-merchant-2025"  # noqa: S105 - a published demo password, on purpose
# Merchants per transaction: small enough to keep each COPY and its locks short, large enough to amortise.
CHUNK_MERCHANTS = 500
SALES_BULK_BATCH = 2000
# The demo's histories stand in for the platform's settlement feed: they are platform rows of this batch.
SEED_BATCH = "demo-seed"
# From this many merchants on PostgreSQL, the sales table's foreign key is checked once after the load.
BULK_LOAD_MIN_MERCHANTS = 1000

# Spring Festival (Lunar New Year's Day) by Gregorian year; the holiday shapes every trade's January/February.
SPRING_FESTIVAL = {
    2018: datetime.date(2018, 2, 16),
    2019: datetime.date(2019, 2, 5),
    2020: datetime.date(2020, 1, 25),
    2021: datetime.date(2021, 2, 12),
    2022: datetime.date(2022, 2, 1),
    2023: datetime.date(2023, 1, 22),
    2024: datetime.date(2024, 2, 10),
    2025: datetime.date(2025, 1, 29),
    2026: datetime.date(2026, 2, 17),
    2027: datetime.date(2027, 2, 6),
    2028: datetime.date(2028, 1, 26),
    2029: datetime.date(2029, 2, 13),
    2030: datetime.date(2030, 2, 3),
    2031: datetime.date(2031, 1, 23),
    2032: datetime.date(2032, 2, 11),
}

# Monday … Sunday.
_WEEKEND_PEAK = (0.85, 0.85, 0.9, 0.95, 1.1, 1.35, 1.3)
_WEEKDAY_PEAK = (1.15, 1.15, 1.1, 1.1, 1.05, 0.6, 0.45)
_FLAT_WEEK = (1.0, 0.97, 0.97, 1.0, 1.05, 1.1, 1.05)
_CLASS_WEEK = (0.7, 0.7, 0.7, 0.75, 0.85, 1.6, 1.6)
# January … December.
_RETAIL_YEAR = (1.1, 1.0, 0.9, 0.95, 1.0, 0.95, 0.95, 0.95, 1.0, 1.05, 1.05, 1.15)
_SUMMER_YEAR = (0.8, 0.8, 0.9, 1.0, 1.1, 1.25, 1.3, 1.3, 1.1, 0.95, 0.85, 0.8)
_FASHION_YEAR = (1.2, 0.9, 1.0, 1.0, 0.95, 0.9, 0.85, 0.85, 1.0, 1.15, 1.2, 1.25)
_HOLIDAY_YEAR = (0.8, 1.0, 0.9, 1.0, 1.15, 1.0, 1.3, 1.3, 1.0, 1.2, 0.9, 0.8)
_SCHOOL_YEAR = (1.1, 0.9, 1.0, 1.0, 1.0, 0.9, 1.4, 1.3, 1.0, 0.9, 0.9, 0.9)
_ONLINE_YEAR = (1.0, 0.85, 0.9, 0.95, 1.0, 1.2, 0.95, 0.95, 1.0, 1.05, 1.5, 1.2)


@dataclass(frozen=True)
class Trade:
    """How a trade sells: a typical day, a typical ticket, its week and year, and what the holidays do to it."""

    daily_sales: int  # yuan, a typical merchant's ordinary day
    ticket: int  # yuan per transaction
    week: tuple[float, ...]
    year: tuple[float, ...]
    refund_rate: float
    customers: tuple[float, float]  # distinct customers per transaction, low and high
    festival: str  # "shop", "food", "service" or "travel": what the Spring Festival does
    shopping_festivals: float  # how much of Double 11's and 618's lift the trade gets (0: none, 1: all)
    shop_word: str  # an individual business's name ends with it
    company_word: str  # a company's name has it before 有限公司
    weight: int  # how common the trade is among the platform's merchants


TRADES: dict[str, Trade] = {
    Industry.GROCERY: Trade(2500, 35, _FLAT_WEEK, _RETAIL_YEAR, 0.003, (0.8, 0.95), "shop", 0, "便利店", "商贸", 14),
    Industry.SUPERMARKET: Trade(
        9000, 70, _FLAT_WEEK, _RETAIL_YEAR, 0.005, (0.85, 0.97), "shop", 0.05, "超市", "超市", 5
    ),
    Industry.APPAREL: Trade(
        4000, 260, _WEEKEND_PEAK, _FASHION_YEAR, 0.04, (0.9, 1.0), "shop", 0.3, "服装店", "服饰", 7
    ),
    Industry.ELECTRONICS: Trade(
        6000, 900, _FLAT_WEEK, _RETAIL_YEAR, 0.03, (0.92, 1.0), "shop", 0.3, "手机店", "电子科技", 4
    ),
    Industry.PHARMACY: Trade(3500, 60, _FLAT_WEEK, _RETAIL_YEAR, 0.002, (0.85, 0.97), "shop", 0, "大药房", "医药", 4),
    Industry.ONLINE_RETAIL: Trade(
        6000, 120, _FLAT_WEEK, _ONLINE_YEAR, 0.06, (0.9, 0.99), "shop", 1, "网店", "电子商务", 6
    ),
    Industry.RESTAURANT: Trade(
        4500, 90, _WEEKEND_PEAK, _RETAIL_YEAR, 0.004, (0.85, 0.97), "food", 0, "饭店", "餐饮管理", 14
    ),
    Industry.FAST_FOOD: Trade(
        2200, 28, _WEEKEND_PEAK, _RETAIL_YEAR, 0.003, (0.8, 0.95), "food", 0, "小吃店", "餐饮", 10
    ),
    Industry.BEVERAGE: Trade(
        1800, 22, _WEEKEND_PEAK, _SUMMER_YEAR, 0.004, (0.75, 0.92), "food", 0, "奶茶店", "茶饮", 7
    ),
    Industry.HOTEL: Trade(
        5000, 320, _WEEKEND_PEAK, _HOLIDAY_YEAR, 0.02, (0.9, 1.0), "travel", 0, "宾馆", "酒店管理", 3
    ),
    Industry.BEAUTY: Trade(
        2500, 150, _WEEKEND_PEAK, _RETAIL_YEAR, 0.01, (0.92, 1.0), "service", 0, "美发店", "美容美发", 6
    ),
    Industry.REPAIR: Trade(
        4000, 600, _WEEKDAY_PEAK, _RETAIL_YEAR, 0.01, (0.95, 1.0), "service", 0, "汽修店", "汽车维修服务", 3
    ),
    Industry.LAUNDRY: Trade(
        900, 45, _FLAT_WEEK, _RETAIL_YEAR, 0.005, (0.9, 1.0), "service", 0, "洗衣店", "洗涤服务", 2
    ),
    Industry.EDUCATION: Trade(
        3000, 800, _CLASS_WEEK, _SCHOOL_YEAR, 0.05, (0.95, 1.0), "service", 0, "培训中心", "教育咨询", 3
    ),
    Industry.LOGISTICS: Trade(
        2500, 18, _WEEKDAY_PEAK, _ONLINE_YEAR, 0.01, (0.5, 0.8), "service", 0.3, "快递服务部", "物流", 3
    ),
    Industry.WHOLESALE: Trade(
        15000, 1500, _WEEKDAY_PEAK, _RETAIL_YEAR, 0.01, (0.5, 0.8), "shop", 0, "食品商行", "食品批发", 6
    ),
}

# Cities (with a district's GB/T 2260 code) per province, and how common merchants are there.
CITIES: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {
    Province.BEIJING: (5, (("北京", "110105"),)),
    Province.TIANJIN: (2, (("天津", "120101"),)),
    Province.HEBEI: (4, (("石家庄", "130102"), ("保定", "130602"))),
    Province.SHANXI: (2, (("太原", "140105"),)),
    Province.INNER_MONGOLIA: (1, (("呼和浩特", "150102"),)),
    Province.LIAONING: (3, (("沈阳", "210102"), ("大连", "210202"))),
    Province.JILIN: (1, (("长春", "220102"),)),
    Province.HEILONGJIANG: (2, (("哈尔滨", "230102"),)),
    Province.SHANGHAI: (5, (("上海", "310101"),)),
    Province.JIANGSU: (8, (("南京", "320102"), ("苏州", "320505"))),
    Province.ZHEJIANG: (9, (("杭州", "330106"), ("宁波", "330203"), ("义乌", "330782"))),
    Province.ANHUI: (3, (("合肥", "340102"),)),
    Province.FUJIAN: (4, (("福州", "350102"), ("厦门", "350203"))),
    Province.JIANGXI: (2, (("南昌", "360102"),)),
    Province.SHANDONG: (7, (("济南", "370102"), ("青岛", "370202"))),
    Province.HENAN: (5, (("郑州", "410102"),)),
    Province.HUBEI: (4, (("武汉", "420102"),)),
    Province.HUNAN: (4, (("长沙", "430102"),)),
    Province.GUANGDONG: (12, (("广州", "440103"), ("深圳", "440305"), ("东莞", "441900"))),
    Province.GUANGXI: (2, (("南宁", "450102"),)),
    Province.HAINAN: (1, (("海口", "460105"),)),
    Province.CHONGQING: (3, (("重庆", "500103"),)),
    Province.SICHUAN: (5, (("成都", "510104"),)),
    Province.GUIZHOU: (2, (("贵阳", "520102"),)),
    Province.YUNNAN: (2, (("昆明", "530102"),)),
    Province.TIBET: (1, (("拉萨", "540102"),)),
    Province.SHAANXI: (3, (("西安", "610102"),)),
    Province.GANSU: (1, (("兰州", "620102"),)),
    Province.QINGHAI: (1, (("西宁", "630102"),)),
    Province.NINGXIA: (1, (("银川", "640104"),)),
    Province.XINJIANG: (1, (("乌鲁木齐", "650102"),)),
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
GIVEN_NAME_CHARACTERS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉海燕鹏辉玲丹萍鑫宇浩然晨欣怡子轩梓涵俊杰嘉文"
)
BRANDS = (
    "鑫盛", "福源", "金福", "惠民", "佳美", "顺达", "宏发", "永兴", "恒通", "东方", "华美", "红星", "天天", "家和",
    "聚福", "喜来", "万家", "福满", "兴隆", "瑞丰", "祥和", "百味", "益民", "新华", "盛世", "和顺", "锦程", "康宁",
)  # fmt: skip
BANKS = ("中国工商银行", "中国建设银行", "中国农业银行", "中国银行", "招商银行", "交通银行", "兴业银行", "平安银行")

# Sales patterns and how often each is drawn; the first merchants get one of each, so a small demo shows them all.
PATTERNS = (
    ("steady", 64),
    ("growing", 9),
    ("declining", 8),
    ("volatile", 7),
    ("young", 4),
    ("gappy", 3),
    ("refund_spike", 3),
    ("window_dressing", 1),
    ("shared_identity", 1),
)
FIRST_MERCHANTS = (
    ("steady", Industry.RESTAURANT),
    ("growing", Industry.ONLINE_RETAIL),
    ("declining", Industry.GROCERY),
    ("volatile", Industry.APPAREL),
    ("young", Industry.BEVERAGE),
    ("gappy", Industry.BEAUTY),
    ("refund_spike", Industry.ELECTRONICS),
    ("window_dressing", Industry.WHOLESALE),
    # Shares its legal representative's ID number and settlement account with the merchant before it.
    ("shared_identity", Industry.FAST_FOOD),
)

# A day's state in a merchant's year: an ordinary day, a day on file with no sales, a day with no row at all.
OPEN, CLOSED, NO_ROW = 0, 1, 2


@dataclass(frozen=True)
class DemoIdentity:
    legal_rep_name: str
    legal_rep_id_number: str
    mobile: str
    settlement_bank_name: str
    settlement_account_number: str


@dataclass(frozen=True)
class DemoMerchant:
    """Everything about demo merchant ``index`` for a seed, before anything is written."""

    index: int
    email: str
    pattern: str
    industry: str
    province: str
    city: str
    legal_name: str
    credit_code: str
    founded_on: datetime.date
    identity: DemoIdentity
    sales_seed: str
    extra: dict = field(default_factory=dict)


def demo_email(index: int) -> str:
    """Merchant ``index`` (from 0) signs in as shop1@demo.example, shop2@… and so on.

    A prefix of its own, so seeded merchants never collide with the hand-made demo logins
    (merchant@, merchant2@) that ``load_demo`` creates.
    """
    return f"shop{index + 1}@{DEMO_EMAIL_DOMAIN}"


def demo_merchant(*, seed: int, index: int) -> DemoMerchant:
    """Demo merchant ``index`` for ``seed``: the same on every run and machine."""
    rng = random.Random(f"demo-merchant:{seed}:{index}")
    if index < len(FIRST_MERCHANTS):
        pattern, industry = FIRST_MERCHANTS[index]
    else:
        pattern = _weighted(rng, PATTERNS)
        industry = _weighted(rng, [(code, trade.weight) for code, trade in TRADES.items()])
    if pattern == "shared_identity" and index == 0:
        pattern = "steady"
    province = _weighted(rng, [(code, weight) for code, (weight, _cities) in CITIES.items()])
    city, district = rng.choice(CITIES[province][1])
    trade = TRADES[industry]
    individual = rng.random() < 0.7  # most small merchants are individual businesses (个体工商户), not companies
    identity = _identity(seed=seed, index=index, city=city, district=district)
    brand = rng.choice(BRANDS)
    if pattern == "shared_identity":
        # The same person and bank account behind two "different" businesses: a fraud signal to catch.
        partner = demo_merchant(seed=seed, index=index - 1).identity
        identity = DemoIdentity(
            legal_rep_name=partner.legal_rep_name,
            legal_rep_id_number=partner.legal_rep_id_number,
            mobile=identity.mobile,
            settlement_bank_name=partner.settlement_bank_name,
            settlement_account_number=partner.settlement_account_number,
        )
    if individual:
        legal_name = f"{city}市{identity.legal_rep_name[0]}记{trade.shop_word}"
    else:
        legal_name = f"{city}{brand}{trade.company_word}有限公司"
    # 92: individual business, 91: company; then the district, then an organisation code unique per index.
    first17 = f"{'92' if individual else '91'}{district}DM{index:07d}"
    return DemoMerchant(
        index=index,
        email=demo_email(index),
        pattern=pattern,
        industry=industry,
        province=province,
        city=city,
        legal_name=legal_name,
        credit_code=first17 + credit_code_check_char(first17),
        founded_on=datetime.date(rng.randint(2005, 2020), rng.randint(1, 12), rng.randint(1, 28)),
        identity=identity,
        sales_seed=f"demo-sales:{seed}:{index}",
    )


def _identity(*, seed: int, index: int, city: str, district: str) -> DemoIdentity:
    rng = random.Random(f"demo-identity:{seed}:{index}")
    given = "".join(rng.choice(GIVEN_NAME_CHARACTERS) for _ in range(rng.choice((1, 2, 2))))
    born = datetime.date(rng.randint(1965, 2000), rng.randint(1, 12), rng.randint(1, 28))
    id17 = f"{district}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return DemoIdentity(
        legal_rep_name=rng.choice(SURNAMES) + given,
        legal_rep_id_number=id17 + resident_id_check_char(id17),
        mobile=f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        settlement_bank_name=f"{rng.choice(BANKS)}{city}{rng.choice(('分行', '分行营业部', '支行'))}",
        settlement_account_number=f"6222{rng.randint(0, 10**15 - 1):015d}",
    )


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]):
    values = [value for value, _weight in choices]
    weights = [weight for _value, weight in choices]
    return rng.choices(values, weights=weights)[0]


# --- Sales -------------------------------------------------------------------------------------------------


def _spring_festival(year: int) -> datetime.date:
    return SPRING_FESTIVAL.get(year, datetime.date(year, 2, 1))


def _spring_festival_offset(day: datetime.date) -> int:
    """Days from the nearest Spring Festival (negative: before it)."""
    return min(((day - _spring_festival(year)).days for year in (day.year, day.year + 1)), key=abs)


def _festival_factor(kind: str, offset: int) -> float:
    """What the Spring Festival does to a trade ``offset`` days from New Year's Day (negative: before)."""
    if kind == "shop":
        if -21 <= offset < 0:
            return 1.0 + 0.6 * (offset + 22) / 21  # new-year shopping builds to the eve
        if 0 <= offset < 7:
            return 0.35
        if 7 <= offset < 15:
            return 0.8
    elif kind == "food":
        if -7 <= offset < 0:
            return 1.25  # year-end dinners
        if 0 <= offset < 7:
            return 0.5
    elif kind == "service":
        if -20 <= offset < 0:
            return 1.5  # a haircut, a car wash, a laundry run before the new year
        if 0 <= offset < 10:
            return 0.2
    elif kind == "travel" and 0 <= offset < 7:
        return 1.4
    return 1.0


def _shopping_festival_factor(day: datetime.date) -> tuple[float, float]:
    """Double 11 and 618 for a trade with strength 1: (sales factor, refund factor) on ``day``."""
    if day.month == 11:
        if 1 <= day.day <= 10:
            return 1.3, 1.0
        if day.day == 11:
            return 5.0, 1.0
        if 12 <= day.day <= 25:
            return 1.1, 3.0  # returns after the biggest shopping day of the year
    if day.month == 6:
        if 1 <= day.day <= 17:
            return 1.15, 1.0
        if day.day == 18:
            return 2.5, 1.0
        if 19 <= day.day <= 30:
            return 1.0, 2.0
    return 1.0, 1.0


def trade_calendar(industry: str, dates: Sequence[datetime.date]) -> tuple[list[float], list[float]]:
    """The trade's sales and refund factors for each date: week, season, Spring Festival and Double 11 multiplied."""
    trade = TRADES[industry]
    sales, refunds = [], []
    for day in dates:
        offset = _spring_festival_offset(day)
        factor = trade.week[day.weekday()] * trade.year[day.month - 1] * _festival_factor(trade.festival, offset)
        refund = 1.0
        if trade.shopping_festivals:
            lift, returns = _shopping_festival_factor(day)
            factor *= 1 + (lift - 1) * trade.shopping_festivals
            refund = 1 + (returns - 1) * trade.shopping_festivals
        sales.append(factor)
        refunds.append(refund)
    return sales, refunds


def demo_sales(
    merchant: DemoMerchant, dates: Sequence[datetime.date], calendar: tuple[list[float], list[float]] | None = None
) -> list[tuple[int, int, int, int, int]]:
    """The merchant's days as (position in ``dates``, gross fen, refund fen, transactions, distinct customers).

    Amounts are drawn as floats and immediately truncated to whole fen: this is synthetic data, and from
    here on every amount is an integer number of fen (written to the database as an exact decimal).
    """
    rng = random.Random(merchant.sales_seed)
    rand = rng.random
    trade = TRADES[merchant.industry]
    sales_factor, refund_factor = calendar or trade_calendar(merchant.industry, dates)
    days = len(dates)
    pattern = merchant.pattern

    # The merchant's own size, trend and noise.
    level = trade.daily_sales * 100 * rng.lognormvariate(0, 0.6)
    annual = {"growing": rng.uniform(0.4, 1.0), "declining": rng.uniform(-0.6, -0.3)}.get(pattern, rng.gauss(0.04, 0.1))
    daily_growth = math.exp(math.log1p(annual) / 365) if annual > -0.99 else 1.0
    level *= daily_growth ** (-(days // 2))  # so the middle of the period is at the merchant's typical level
    noise = 0.45 if pattern == "volatile" else rng.uniform(0.08, 0.16)
    ticket = trade.ticket * 100 * rng.uniform(0.7, 1.4)
    low, high = trade.customers
    customer_span = high - low
    base_refund = trade.refund_rate * rng.uniform(0.5, 1.5)

    state = bytearray(days)
    _mark_closures(rng, state, merchant, trade, dates)
    refund_rates = [min(base_refund * factor, 0.45) for factor in refund_factor]
    for position in rng.sample(range(days), k=min(days, rng.randint(2, 8))):
        refund_rates[position] = min(base_refund * rng.uniform(8, 20), 0.45)  # a disputed order, a returned batch
    if pattern == "refund_spike" and days > 60:
        start = rng.randrange(days // 3, days - 30)
        for position in range(start, start + rng.randint(14, 28)):
            refund_rates[position] = rng.uniform(0.15, 0.35)
    dress_from = days - 30 if pattern == "window_dressing" else days
    dress_lift = rng.uniform(3.0, 6.0)

    rows = []
    append = rows.append
    spread = 2.0 * noise
    for position in range(days):
        level *= daily_growth
        if state[position]:
            if state[position] == CLOSED:
                append((position, 0, 0, 0, 0))
            continue
        # Irwin-Hall: three uniforms make a bell curve with C-speed draws (random.gauss is several times slower).
        wobble = 1.0 + spread * (rand() + rand() + rand() - 1.5)
        if wobble < 0.1:
            wobble = 0.1
        gross = int(level * sales_factor[position] * wobble)
        if not gross:
            append((position, 0, 0, 0, 0))
            continue
        transactions = int(gross * (0.85 + 0.3 * rand()) / ticket) + 1
        customers = int(transactions * (low + customer_span * rand())) or 1
        refund = int(gross * refund_rates[position] * 2.0 * rand())
        if position >= dress_from:
            # Window-dressing: money cycled through the till by a handful of "customers" to inflate the file.
            ramp = 1 + (dress_lift - 1) * (position - dress_from + 1) / 30
            gross = int(gross * ramp)
            transactions = int(transactions * ramp * 0.6) + 1
            customers = max(1, transactions // rng.randint(5, 12))
        append((position, gross, refund, transactions, customers))
    return rows


def _mark_closures(
    rng: random.Random, state: bytearray, merchant: DemoMerchant, trade: Trade, dates: Sequence[datetime.date]
) -> None:
    days = len(state)
    if trade.festival in ("food", "service", "shop") and rng.random() < 0.4:
        # Closed over the Spring Festival: the owner goes home.
        holiday = rng.randint(4, 8)
        for position, day in enumerate(dates):
            if 0 <= (day - _spring_festival(day.year)).days < holiday:
                state[position] = CLOSED
    if trade.festival == "service" and rng.random() < 0.3:
        rest_day = rng.randrange(7)
        for position, day in enumerate(dates):
            if day.weekday() == rest_day:
                state[position] = CLOSED
    for position in rng.sample(range(days), k=min(days, rng.randint(0, days // 60 + 1))):
        state[position] = CLOSED  # a day off for a family event, a power cut
    if merchant.pattern == "young" and days > 60:
        opened = rng.randrange(days // 6, days * 2 // 3)
        state[:opened] = bytes([NO_ROW]) * opened
    if merchant.pattern == "gappy" and days > 60:
        for _gap in range(rng.randint(1, 3)):
            start = rng.randrange(0, days - 30)
            length = rng.randint(5, 25)
            state[start : start + length] = bytes([NO_ROW]) * length  # the merchant took payments elsewhere


# --- Writing -----------------------------------------------------------------------------------------------


def seed_merchants(
    *,
    count: int,
    seed: int,
    days: int = 730,
    end_date: datetime.date | None = None,
    progress: bool = False,
    start_index: int = 0,
    bulk: bool | None = None,
    joined_at: datetime.datetime | None = None,
) -> int:
    """Create demo merchants ``start_index`` … ``start_index + count - 1`` with ``days`` of sales up to ``end_date``.

    ``joined_at`` (now by default) is when their owners signed up and their KYC was verified: the demo's history
    has them borrowing months before it is loaded.

    Idempotent: merchants are keyed by their owner's email and sales by (merchant, date), so running it
    again creates nothing and only fills in days that are missing. Merchants are created already verified
    (it is creation, not a KYC transition) with one ``kyc.seed_verified`` audit row each. Returns the
    number of merchants created.

    ``bulk`` (by default: on PostgreSQL from ``BULK_LOAD_MIN_MERCHANTS`` merchants) loads everything in one
    transaction with the sales table's foreign key checked once at the end instead of once per row; see
    ``_foreign_key_suspended``.
    """
    if count <= 0:
        return 0
    end_date = end_date or timezone.localdate() - datetime.timedelta(days=1)
    dates = [end_date - datetime.timedelta(days=days - 1 - k) for k in range(days)]
    calendars: dict[str, tuple[list[float], list[float]]] = {}
    # One hash for every demo user: hashing 10,000 passwords one by one would take minutes.
    password_hash = make_password(DEMO_PASSWORD)
    group, _created = Group.objects.get_or_create(name=Role.MERCHANT_OWNER)
    created = 0
    if bulk is None:
        bulk = count >= BULK_LOAD_MIN_MERCHANTS
    bulk = bulk and connection.vendor == "postgresql" and _use_copy()
    with (
        transaction.atomic() if bulk else contextlib.nullcontext(),
        _foreign_key_suspended(SalesDay) if bulk else contextlib.nullcontext(),
        tqdm(total=count, unit="merchant", disable=not progress, desc="Seeding demo merchants") as bar,
    ):
        for chunk_start in range(start_index, start_index + count, CHUNK_MERCHANTS):
            indexes = range(chunk_start, min(chunk_start + CHUNK_MERCHANTS, start_index + count))
            profiles = [demo_merchant(seed=seed, index=index) for index in indexes]
            for profile in profiles:
                if profile.industry not in calendars:
                    calendars[profile.industry] = trade_calendar(profile.industry, dates)
            created += _seed_chunk(
                profiles=profiles,
                dates=dates,
                calendars=calendars,
                password_hash=password_hash,
                group=group,
                seed=seed,
                bar=bar,
                joined_at=joined_at,
            )
    return created


@contextlib.contextmanager
def _foreign_key_suspended(model) -> Iterator[None]:
    """Check ``model``'s foreign keys once, after the load, instead of once per inserted row.

    PostgreSQL checks a foreign key with one query per row; for millions of sales rows that is four
    fifths of the load time. Inside the caller's transaction the constraints are dropped and then added
    back with exactly their old names and definitions, which validates every row in one set-based pass.
    DDL is transactional, so on any error the constraints are back as they were. The price is an
    exclusive lock on the table until the load commits: this is for bulk demo and benchmark loads, and if
    the lock is not granted within a few seconds (the portal is busy) the load runs with per-row checks.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        (lock_timeout,) = cursor.fetchone()
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL lock_timeout = '5s'")
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                    [model._meta.db_table],
                )
                constraints = cursor.fetchall()
                for name, _definition in constraints:
                    cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        except OperationalError:
            constraints = []  # not granted (or the table has checks pending): keep the per-row checks
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
    yield
    with connection.cursor() as cursor:
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")


def _seed_chunk(*, profiles, dates, calendars, password_hash, group, seed, bar, joined_at=None) -> int:
    now = timezone.now()
    joined = joined_at or now
    with transaction.atomic():
        users = _users(profiles=profiles, password_hash=password_hash, group=group, now=joined)
        merchants_by_owner = {m.owner_id: m for m in Merchant.objects.filter(owner__in=users.values())}
        new_merchants = [
            verified_merchant(profile, owner=users[profile.email], now=joined)
            for profile in profiles
            if users[profile.email].pk not in merchants_by_owner
        ]
        Merchant.objects.bulk_create(new_merchants)
        content_type = ContentType.objects.get_for_model(Merchant)
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor=None,
                action="kyc.seed_verified",
                from_state="",
                to_state=KycState.VERIFIED,
                reason="Demo data: created as verified by merchants.services.demo.",
                content_type=content_type,
                object_id=str(merchant.pk),
                data={"seed": seed, "email": merchant.owner.email},
            )
            for merchant in new_merchants
        )
        new_ids = {merchant.pk for merchant in new_merchants}
        merchants_by_owner.update({m.owner_id: m for m in new_merchants})
        pairs = [(profile, merchants_by_owner[users[profile.email].pk]) for profile in profiles]
        on_file = _days_on_file([m.pk for _p, m in pairs if m.pk not in new_ids], dates)
        batches = _sales_batches(pairs=pairs, dates=dates, calendars=calendars, on_file=on_file, bar=bar)
        if connection.vendor == "postgresql" and _use_copy():
            _copy_sales(batches, dates=dates, now=now)
        else:
            _bulk_create_sales(batches, dates=dates)
    return len(new_merchants)


def _use_copy() -> bool:
    """PostgreSQL takes the rows with COPY; tests switch this off to check the portable path gives the same data."""
    return True


def _users(*, profiles, password_hash: str, group: Group, now) -> dict[str, User]:
    emails = [profile.email for profile in profiles]
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    new_users = [
        User(
            email=profile.email,
            password=password_hash,
            first_name=profile.identity.legal_rep_name[1:],
            last_name=profile.identity.legal_rep_name[0],
            date_joined=now,
        )
        for profile in profiles
        if profile.email not in users
    ]
    User.objects.bulk_create(new_users)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=user.pk, group_id=group.pk) for user in new_users], ignore_conflicts=True
    )
    # A verified address, so the demo owners can sign in without the email-code step.
    from allauth.account.models import EmailAddress

    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in new_users],
        ignore_conflicts=True,
    )
    users.update({user.email: user for user in new_users})
    return users


def verified_merchant(profile: DemoMerchant, *, owner: User, now) -> Merchant:
    """An unsaved Merchant for a demo profile, already verified."""
    identity = profile.identity
    # Created verified: this is an insert of a finished review, not a transition, so the FSM is not involved.
    return Merchant(
        owner=owner,
        legal_name=profile.legal_name,
        credit_code=profile.credit_code,
        industry=profile.industry,
        province=profile.province,
        city=profile.city,
        founded_on=profile.founded_on,
        legal_rep_name=identity.legal_rep_name,
        legal_rep_id_number=identity.legal_rep_id_number,
        mobile=identity.mobile,
        settlement_bank_name=identity.settlement_bank_name,
        settlement_account_name=profile.legal_name,
        settlement_account_number=identity.settlement_account_number,
        kyc_state=KycState.VERIFIED,
        kyc_submitted_at=now,
        kyc_reviewed_at=now,
    )


def _days_on_file(merchant_ids: list[int], dates: Sequence[datetime.date]) -> dict[int, set[datetime.date]]:
    """The days already on file in the period, for merchants that existed before this run (one query)."""
    on_file: dict[int, set[datetime.date]] = {}
    if merchant_ids:
        rows = SalesDay.objects.filter(merchant_id__in=merchant_ids, date__range=(dates[0], dates[-1])).values_list(
            "merchant_id", "date"
        )
        for merchant_id, day in rows.order_by().iterator(chunk_size=20_000):
            on_file.setdefault(merchant_id, set()).add(day)
    return on_file


def _sales_batches(*, pairs, dates, calendars, on_file, bar) -> Iterator[tuple[int, list[tuple]]]:
    """Yield (merchant id, rows to insert) per merchant, leaving out the days already on file."""
    for profile, merchant in pairs:
        rows = demo_sales(profile, dates, calendars[profile.industry])
        existing = on_file.get(merchant.pk)
        if existing:
            rows = [row for row in rows if dates[row[0]] not in existing]
        yield merchant.pk, rows
        bar.update(1)


class _CopyStream:
    """A file-like object that psycopg2's ``copy_expert`` reads: each read() is one merchant's rows.

    The rows are generated as PostgreSQL asks for them, so it parses and indexes one merchant's rows
    while Python generates the next (two processes busy instead of one waiting for the other).
    """

    def __init__(self, batches, *, dates, now) -> None:
        suffix = f"\t{now.isoformat()}\t{SalesSource.PLATFORM.value}\t{SEED_BATCH}\n"
        self._lines = self._encode(batches, [f"\t{day.isoformat()}\t" for day in dates], suffix)

    @staticmethod
    def _encode(batches, date_cells: list[str], suffix: str) -> Iterator[bytes]:
        for merchant_id, rows in batches:
            if not rows:
                continue
            prefix = str(merchant_id)
            # "123456e-2" is PostgreSQL numeric input for 1234.56: exact, and cheaper to format than a division.
            yield "".join(
                [
                    f"{prefix}{date_cells[position]}{gross}e-2\t{refund}e-2\t{transactions}\t{customers}{suffix}"
                    for position, gross, refund, transactions, customers in rows
                ]
            ).encode()

    def read(self, size: int = -1) -> bytes:
        return next(self._lines, b"")

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _copy_sales(batches, *, dates, now) -> None:
    table = SalesDay._meta.db_table
    columns = (
        "merchant_id, date, gross_sales, refunds, transaction_count, distinct_customers, imported_at, source, batch_id"
    )
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", _CopyStream(batches, dates=dates, now=now))


def _bulk_create_sales(batches, *, dates) -> None:
    fen = Decimal("0.01")
    buffer: list[SalesDay] = []
    for merchant_id, rows in batches:
        buffer.extend(
            SalesDay(
                merchant_id=merchant_id,
                date=dates[position],
                gross_sales=gross * fen,
                refunds=refund * fen,
                transaction_count=transactions,
                distinct_customers=customers,
                source=SalesSource.PLATFORM,
                batch_id=SEED_BATCH,
            )
            for position, gross, refund, transactions, customers in rows
        )
        if len(buffer) >= SALES_BULK_BATCH * 5:
            SalesDay.objects.bulk_create(buffer, batch_size=SALES_BULK_BATCH)
            buffer = []
    if buffer:
        SalesDay.objects.bulk_create(buffer, batch_size=SALES_BULK_BATCH)
