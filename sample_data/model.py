"""The sample ecosystem's fixed parts: sizes by scale, id arithmetic, industries, places, names, curves.

Everything here is a pure function of (scale, seed): the generator (`sample_data.generator`) and the
live event source (`sample_data.live`) build the same dimension tables and the same per-minute event
process from it, so ids and volumes agree between a generated file and a live stream.

Data over ~500 lines: sizes, industries, places, names and curves of the sample ecosystem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

# Local day numbers (D) count days since this date in the display zone.
DAY_EPOCH = date(2020, 1, 1)

# A large prime: (k * PBIG + c) % n is a permutation of [0, n) for every n < PBIG.
PBIG = 2_147_483_647

# Live ids without a file: minute since 1970 * ID_STRIDE + index within the minute (see live.py).
ID_STRIDE = 10_000_000


@dataclass(frozen=True)
class Industry:
    key: str
    merchant_share: float  # share of merchants
    mean_amount: float  # CNY, mean of the log-normal ticket
    sigma: float  # log-normal sigma
    mp_category: str  # Mini Program category of its merchants
    mp_lift: float  # ticket multiplier when paid in a Mini Program
    cn: tuple[str, ...]  # Chinese shop words
    en: tuple[str, ...]  # Latin shop words


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "catering",
        0.3,
        26.0,
        0.75,
        "food",
        1.2,
        ("面馆", "小吃", "火锅", "饺子馆", "餐厅"),
        ("Noodles", "Kitchen", "Hot Pot", "Dumplings", "Bistro"),
    ),
    Industry(
        "beverage",
        0.13,
        18.0,
        0.55,
        "food",
        1.3,
        ("茶饮", "咖啡", "奶茶", "果汁"),
        ("Tea House", "Coffee", "Bubble Tea", "Juice Bar"),
    ),
    Industry(
        "convenience",
        0.16,
        14.0,
        0.85,
        "retail",
        1.5,
        ("便利店", "小卖部", "超市"),
        ("Mart", "Express", "Corner Store"),
    ),
    Industry(
        "fresh",
        0.07,
        32.0,
        0.75,
        "retail",
        1.6,
        ("鲜果", "果园", "生鲜", "菜场"),
        ("Fresh", "Orchard", "Greens", "Market"),
    ),
    Industry(
        "supermarket",
        0.04,
        55.0,
        0.85,
        "retail",
        1.5,
        ("超市", "量贩", "百货"),
        ("Supermarket", "Hypermart", "Department Store"),
    ),
    Industry(
        "apparel",
        0.04,
        110.0,
        0.8,
        "retail",
        1.3,
        ("服饰", "鞋业", "童装", "女装"),
        ("Boutique", "Shoes", "Apparel", "Fashion"),
    ),
    Industry(
        "daily_chemicals",
        0.03,
        45.0,
        0.8,
        "retail",
        1.5,
        ("日化", "美妆", "个护"),
        ("Beauty", "Cosmetics", "Care"),
    ),
    Industry(
        "pharmacy",
        0.04,
        40.0,
        0.8,
        "health",
        1.2,
        ("大药房", "药店", "医药"),
        ("Pharmacy", "Drugstore", "Health"),
    ),
    Industry(
        "transport",
        0.06,
        10.0,
        0.7,
        "travel",
        1.1,
        ("出行", "单车", "打车", "租车"),
        ("Rides", "Bikes", "Mobility", "Car Rental"),
    ),
    Industry(
        "services",
        0.07,
        40.0,
        0.9,
        "services",
        1.2,
        ("洗衣", "快递", "美发", "家政", "充电"),
        ("Laundry", "Courier", "Hair Salon", "Home Services", "Power"),
    ),
    Industry(
        "entertainment",
        0.04,
        50.0,
        0.8,
        "entertainment",
        1.2,
        ("影城", "KTV", "游乐园", "书店"),
        ("Cinema", "Karaoke", "Games", "Books"),
    ),
    Industry(
        "lodging",
        0.01,
        240.0,
        0.6,
        "travel",
        1.1,
        ("酒店", "民宿", "公寓", "宾馆"),
        ("Hotel", "Inn", "Suites", "Lodge"),
    ),
    Industry(
        "education",
        0.01,
        110.0,
        0.9,
        "education",
        1.1,
        ("教育", "培训", "琴行"),
        ("Academy", "Learning", "Music School"),
    ),
)

ENTRIES = ("qr", "face", "mini_program", "in_app", "channels_live")

# Pay Score scenarios: share of orders, industries that run them, mean amount, sigma, deposit
# waived, duration (log-normal minutes: mu, sigma), day-0 collection, bad debt (never paid).
SCENARIOS: tuple[
    tuple[str, float, tuple[str, ...], float, float, int, float, float, float, float], ...
] = (
    (
        "power_bank",
        0.34,
        ("services", "catering", "entertainment"),
        6.0,
        0.6,
        99,
        5.0,
        0.8,
        0.90,
        0.040,
    ),
    ("ride_hailing", 0.20, ("transport",), 32.0, 0.6, 0, 3.2, 0.5, 0.93, 0.030),
    ("bike_sharing", 0.26, ("transport",), 2.5, 0.5, 199, 2.7, 0.6, 0.995, 0.0),
    ("lodging", 0.05, ("lodging",), 360.0, 0.5, 500, 7.6, 0.4, 0.97, 0.008),
    ("car_rental", 0.05, ("transport",), 420.0, 0.6, 3000, 8.0, 0.6, 0.95, 0.012),
    ("courier", 0.10, ("services",), 18.0, 0.5, 0, 7.0, 0.5, 0.96, 0.015),
)

FOLLOW_SOURCES = (
    "search",
    "qr",
    "article",
    "mini_program",
    "channels",
    "card",
    "live",
    "ad",
    "other",
)
FOLLOW_SOURCE_CUM = (0.25, 0.45, 0.63, 0.73, 0.83, 0.88, 0.93, 0.98, 1.0)

MEMBER_CHANNELS = ("pay_after", "mini_program", "official_account", "wecom", "channels")
MEMBER_CHANNEL_CUM = (0.70, 0.82, 0.90, 0.95, 1.0)

# (province, city, population weight)
CITIES: tuple[tuple[str, str, float], ...] = (
    ("Guangdong", "Guangzhou", 8.0),
    ("Guangdong", "Shenzhen", 8.0),
    ("Guangdong", "Dongguan", 4.0),
    ("Guangdong", "Foshan", 3.5),
    ("Shanghai", "Shanghai", 9.0),
    ("Beijing", "Beijing", 8.5),
    ("Zhejiang", "Hangzhou", 5.0),
    ("Zhejiang", "Ningbo", 3.0),
    ("Zhejiang", "Wenzhou", 2.5),
    ("Jiangsu", "Suzhou", 4.5),
    ("Jiangsu", "Nanjing", 4.0),
    ("Jiangsu", "Wuxi", 2.5),
    ("Sichuan", "Chengdu", 6.0),
    ("Chongqing", "Chongqing", 6.0),
    ("Hubei", "Wuhan", 4.5),
    ("Hunan", "Changsha", 3.5),
    ("Henan", "Zhengzhou", 4.0),
    ("Shandong", "Jinan", 3.0),
    ("Shandong", "Qingdao", 3.0),
    ("Fujian", "Xiamen", 2.0),
    ("Fujian", "Fuzhou", 2.5),
    ("Shaanxi", "Xi'an", 4.0),
    ("Tianjin", "Tianjin", 4.0),
    ("Liaoning", "Shenyang", 2.5),
    ("Liaoning", "Dalian", 2.0),
    ("Anhui", "Hefei", 3.0),
    ("Yunnan", "Kunming", 2.5),
    ("Guangxi", "Nanning", 2.0),
    ("Jiangxi", "Nanchang", 2.0),
    ("Hebei", "Shijiazhuang", 2.5),
    ("Heilongjiang", "Harbin", 2.0),
    ("Jilin", "Changchun", 1.8),
    ("Shanxi", "Taiyuan", 1.5),
    ("Guizhou", "Guiyang", 1.5),
    ("Hainan", "Haikou", 0.8),
    ("Gansu", "Lanzhou", 1.0),
    ("Inner Mongolia", "Hohhot", 0.8),
    ("Xinjiang", "Urumqi", 1.0),
    ("Ningxia", "Yinchuan", 0.5),
    ("Qinghai", "Xining", 0.4),
    ("Tibet", "Lhasa", 0.2),
)

CN_PREFIX = (
    "金",
    "福",
    "鑫",
    "老",
    "新",
    "大",
    "小",
    "好",
    "佳",
    "乐",
    "鲜",
    "喜",
    "鸿",
    "悦",
    "春",
    "盛",
    "德",
    "和",
    "顺",
    "兴",
)
CN_CORE = ("味", "客", "家", "源", "来", "记", "隆", "丰", "果", "满", "香", "意", "宝", "达", "康")
# Districts (区/县) of each city in CITIES, in the same order: a branch is named after a district of
# its own city ("瑞幸咖啡·南山店" is in Shenzhen, never in Shanghai).
CITY_DISTRICTS: dict[str, tuple[str, ...]] = {
    "Guangzhou": ("天河", "越秀", "海珠", "番禺", "白云"),
    "Shenzhen": ("南山", "福田", "罗湖", "宝安", "龙岗"),
    "Dongguan": ("南城", "东城", "莞城", "长安", "虎门"),
    "Foshan": ("禅城", "南海", "顺德", "三水"),
    "Shanghai": ("徐汇", "静安", "浦东", "黄浦", "长宁"),
    "Beijing": ("朝阳", "海淀", "东城", "西城", "丰台"),
    "Hangzhou": ("西湖", "滨江", "上城", "拱墅", "余杭"),
    "Ningbo": ("海曙", "江北", "鄞州", "北仑"),
    "Wenzhou": ("鹿城", "龙湾", "瓯海"),
    "Suzhou": ("姑苏", "吴中", "相城", "工业园区"),
    "Nanjing": ("鼓楼", "玄武", "秦淮", "建邺", "江宁"),
    "Wuxi": ("梁溪", "滨湖", "新吴"),
    "Chengdu": ("武侯", "锦江", "青羊", "金牛", "成华"),
    "Chongqing": ("渝中", "江北", "南岸", "沙坪坝", "渝北"),
    "Wuhan": ("江汉", "江岸", "武昌", "洪山", "汉阳"),
    "Changsha": ("雨花", "岳麓", "芙蓉", "天心", "开福"),
    "Zhengzhou": ("金水", "二七", "中原", "管城"),
    "Jinan": ("历下", "市中", "槐荫", "天桥"),
    "Qingdao": ("市南", "市北", "崂山", "黄岛"),
    "Xiamen": ("思明", "湖里", "集美"),
    "Fuzhou": ("鼓楼", "台江", "仓山", "晋安"),
    "Xi'an": ("雁塔", "碑林", "新城", "莲湖"),
    "Tianjin": ("和平", "河西", "南开", "滨海"),
    "Shenyang": ("和平", "沈河", "皇姑", "铁西"),
    "Dalian": ("中山", "西岗", "沙河口", "甘井子"),
    "Hefei": ("蜀山", "庐阳", "包河", "瑶海"),
    "Kunming": ("五华", "盘龙", "官渡", "西山"),
    "Nanning": ("青秀", "兴宁", "西乡塘"),
    "Nanchang": ("东湖", "西湖", "红谷滩", "青山湖"),
    "Shijiazhuang": ("长安", "桥西", "新华", "裕华"),
    "Harbin": ("道里", "南岗", "道外", "香坊"),
    "Changchun": ("朝阳", "南关", "宽城", "绿园"),
    "Taiyuan": ("小店", "迎泽", "杏花岭"),
    "Guiyang": ("南明", "云岩", "观山湖"),
    "Haikou": ("龙华", "美兰", "秀英"),
    "Lanzhou": ("城关", "七里河", "安宁"),
    "Hohhot": ("新城", "回民", "赛罕"),
    "Urumqi": ("天山", "沙依巴克", "新市"),
    "Yinchuan": ("兴庆", "金凤", "西夏"),
    "Xining": ("城中", "城东", "城西"),
    "Lhasa": ("城关", "堆龙德庆"),
}
EN_ADJ = (
    "Golden",
    "Red",
    "Jade",
    "Lucky",
    "Happy",
    "Silver",
    "Eastern",
    "Grand",
    "Little",
    "Old",
    "Bright",
    "Blue",
    "Green",
    "Harmony",
    "Star",
)
EN_NOUN = (
    "Dragon",
    "Lotus",
    "Panda",
    "Phoenix",
    "Bamboo",
    "Tiger",
    "Crane",
    "Pearl",
    "Lantern",
    "Peony",
    "Willow",
    "Orchid",
    "Harbor",
    "River",
    "Moon",
)
CREATOR_CN = (
    "旅行日记",
    "美食探店",
    "生活记录",
    "科技说",
    "宠物日常",
    "健身打卡",
    "读书会",
    "穿搭分享",
    "音乐现场",
    "手工坊",
)
ARTICLE_CN = (
    "新品上市",
    "会员专享",
    "本周优惠",
    "门店活动",
    "新春特惠",
    "限时折扣",
    "每日推荐",
    "生活小贴士",
    "品牌故事",
    "福利来了",
)

# Daily curves: (floor, ((hour, weight, width), ...)) in the display zone; normalised to mean 1.
CURVES: dict[str, tuple[float, tuple[tuple[float, float, float], ...]]] = {
    "app": (
        0.08,
        ((8.0, 0.8, 1.0), (12.0, 1.0, 1.3), (15.0, 0.5, 2.5), (18.5, 0.9, 1.3), (21.0, 1.1, 1.6)),
    ),
    "pay": (
        0.04,
        ((8.0, 0.9, 0.9), (12.0, 1.3, 1.0), (15.0, 0.5, 2.5), (18.5, 1.2, 1.2), (21.0, 0.6, 1.5)),
    ),
    "mp": (
        0.05,
        ((8.0, 0.6, 1.0), (12.0, 1.1, 1.1), (15.0, 0.5, 2.5), (18.5, 1.0, 1.3), (21.0, 1.0, 1.5)),
    ),
    "oa": (
        0.05,
        ((8.0, 0.7, 1.0), (12.0, 0.7, 1.0), (15.0, 0.3, 2.5), (18.5, 0.6, 1.2), (21.0, 1.5, 1.3)),
    ),
    "channels": (
        0.06,
        ((8.0, 0.4, 1.0), (12.0, 0.8, 1.2), (15.0, 0.4, 2.5), (18.5, 0.8, 1.3), (21.0, 1.5, 1.6)),
    ),
    "payscore": (
        0.05,
        ((8.0, 1.0, 1.0), (12.0, 0.8, 1.2), (15.0, 0.5, 2.5), (18.5, 1.1, 1.3), (21.0, 0.6, 1.5)),
    ),
    "wecom": (0.03, ((10.0, 1.0, 1.8), (15.0, 1.0, 1.8), (20.0, 0.6, 1.5))),
}


def curve_value(name: str, h: float) -> float:
    floor, peaks = CURVES[name]
    return floor + sum(w * math.exp(-((h - mu) ** 2) / (2 * s * s)) for mu, w, s in peaks)


def curve_mean(name: str) -> float:
    return sum(curve_value(name, i / 60) for i in range(1440)) / 1440


def curve_sql(name: str, h: str = "h") -> str:
    """SQL for the named daily curve at local hour `h` (DOUBLE), with mean 1 over a day."""
    floor, peaks = CURVES[name]
    terms = " + ".join(
        f"{w!r} * exp(-(({h} - {mu!r}) * ({h} - {mu!r})) / {2 * s * s!r})" for mu, w, s in peaks
    )
    return f"(({floor!r} + {terms}) / {curve_mean(name)!r})"


@dataclass(frozen=True)
class EventSpec:
    """One event table's per-minute arrival process at scale 1."""

    table: str
    per_day: float  # rows per day at scale 1 on a weekday (before daily noise)
    curve: str
    weekend: float  # weekend multiplier
    salt: int


# Per-day volumes at scale 1 (a weekday): the arrival processes of the slot-generated tables.
EVENTS: dict[str, EventSpec] = {
    s.table: s
    for s in (
        EventSpec("app_sessions", 253_000, "app", 1.03, 11),
        EventSpec("oa_reads", 90_000, "oa", 1.04, 12),
        EventSpec("mp_visits", 120_000, "mp", 1.08, 13),
        EventSpec("transactions", 343_000, "pay", 1.12, 14),
        EventSpec("channel_views", 80_000, "channels", 1.10, 15),
        EventSpec("payscore_orders", 20_000, "payscore", 1.10, 16),
        EventSpec("oa_follows", 10_000, "oa", 1.02, 17),
        EventSpec("wecom_contacts_removed", 900, "wecom", 0.9, 18),
        EventSpec("group_members_left", 900, "wecom", 0.9, 19),
        EventSpec("wecom_messages", 2_000, "wecom", 0.8, 20),
        EventSpec("new_users", 1_000, "app", 1.05, 21),
        EventSpec("new_merchants", 50, "wecom", 0.8, 22),
    )
}

# Distinct users of each pillar per day, as a share of DAU (DESIGN.md calibration).
DAU_SHARE = 0.23  # active users per day / users
CORE_SHARE = 0.17  # users active every day / users
POOL_SHARE = 0.40  # users who are active on some days / users
SESSION_PER_DAU = 1.1
VIDEO_SHARE = 0.30
MOMENTS_VIEW_SHARE = 0.72
MOMENTS_POST_SHARE = 0.15  # of viewers
POOL_RATIO = {
    "oa_reads": 0.33,
    "mp_visits": 0.37,
    "transactions": 0.55,
    "channel_views": 0.25,
    "payscore_orders": 0.075,
    "oa_follows": 0.04,
    "wecom_contacts_removed": 0.004,
    "group_members_left": 0.004,
}

# Share of a pillar's events that are the same user's next event straight after the previous one
# (a second payment at the till, another page of the Mini Program, the next video): what makes
# unique users fewer than events within an hour. The day's distinct users (POOL_RATIO) are kept:
# the share is lowered where a day has too few events per user to afford it. Payments: WeChat Pay's
# ~1.8 payments per payer per day (DESIGN) put about one in ten within minutes of the previous one.
REPEAT_SHARE = {
    "transactions": 0.10,
    "mp_visits": 0.30,
    "oa_reads": 0.15,
    "channel_views": 0.35,
    "payscore_orders": 0.08,
}

# Live commerce: views per live-minute per peak viewer, transactions per live view.
LIVE_VIEW_RATE = 0.01
LIVE_TX_PER_VIEW = 0.30

FAVOURITES = 6  # favourite merchants per user (repurchase, closed loop)
MP_GROWTH_PER_DAY = 0.004  # gentle Mini Program growth (the share of MP payments)

# Derived-event probabilities (per paid transaction / per contact add).
P_MEMBER = 0.035
P_CONTACT = 0.05
P_GROUP_JOIN = 0.9


def _coprime_near(n: int, frac: float) -> int:
    """A multiplier near frac*n that is coprime to n (for id scrambling permutations)."""
    c = max(1, int(n * frac)) | 1
    while math.gcd(c, n) != 1:
        c += 2
    return c


def _prime_above(n: int) -> int:
    c = max(3, n + 1) | 1
    while any(c % d == 0 for d in range(3, int(c**0.5) + 1, 2)):
        c += 2
    return c


@dataclass(frozen=True)
class Params:
    """Sizes and id arithmetic for one (scale, seed)."""

    scale: float
    seed: int

    @property
    def n_users(self) -> int:
        return max(300, round(1_000_000 * self.scale))

    @property
    def n_merchants(self) -> int:
        return max(40, round(100_000 * self.scale))

    @property
    def n_media(self) -> int:
        return max(5, round(0.2 * self.n_merchants))

    @property
    def n_creators(self) -> int:
        return max(5, round(0.3 * self.n_merchants))

    @property
    def n_other_corps(self) -> int:
        return max(2, round(0.05 * self.n_merchants))

    @property
    def n_chat_groups(self) -> int:
        return max(10, round(0.05 * self.n_users))

    @property
    def zipf_r0(self) -> float:
        return 5.0

    @property
    def merchant_mult(self) -> int:
        """Merchant id = ((rank - 1) * merchant_mult) % M + 1 (rank 1 is the biggest)."""
        return _coprime_near(self.n_merchants, 0.618)

    @property
    def merchant_mult_inv(self) -> int:
        return pow(self.merchant_mult, -1, self.n_merchants)

    @property
    def user_mult(self) -> int:
        """User id = (r * user_mult) % N + 1 for activity rank r in [0, N)."""
        return _coprime_near(self.n_users, 0.382)

    @property
    def core(self) -> int:
        return round(CORE_SHARE * self.n_users)

    @property
    def pool(self) -> int:
        return max(1, round(POOL_SHARE * self.n_users))

    @property
    def pool_mult(self) -> int:
        return _prime_above(self.pool)

    @property
    def seed_sql(self) -> int:
        return int(self.seed) % (2**62)


def day_number(d: date) -> int:
    return (d - DAY_EPOCH).days


assert list(CITY_DISTRICTS) == [c[1] for c in CITIES]
