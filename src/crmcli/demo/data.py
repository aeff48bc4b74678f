"""A realistic, seeded demo data set covering every group (pure generation, no SQL).

Everything is relative to an anchor time: `clock.now()` (so --as-of / CRM_NOW pin it)
truncated to midnight UTC, so the same seed on the same day (or with the same CRM_NOW)
builds exactly the same data. `crmcli.db.demo` writes it to the database.

- customers: two years of sign-ups, ~65 % Chinese (names, +86 mobiles, Chinese companies and
  addresses) and ~35 % English; tags and owners; a few dirty records on purpose (duplicates,
  missing phones, legacy emails), always within `crm db check`'s invariants, so the
  data-quality report has something to find;
- communications: the last year, weekdays busy and weekends quiet, in office hours;
- tickets: SLA deadlines by priority, first responses, resolutions, CSAT ratings, events;
- two campaigns, each an A/B test with a control group;
- orders: a BG/NBD-style process (purchase rate ~ Gamma, dropout ~ Beta) with Gamma-Gamma-like
  spend per customer, so the CLV model has repeat purchasing to fit.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕鹏辉斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪晨曦子涵梓萱雨轩浩然"
FIRST_EN = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Emma",
    "Olivia",
    "Liam",
    "Noah",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amelia",
    "Harper",
]
LAST_EN = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
]
COMPANIES_CN = [
    "华为技术",
    "阿里巴巴",
    "腾讯科技",
    "小米科技",
    "京东商城",
    "美团",
    "字节跳动",
    "百度在线",
    "网易",
    "比亚迪",
    "海尔集团",
    "格力电器",
    "联想集团",
    "中兴通讯",
    "顺丰速运",
]  # noqa: E501
COMPANIES_EN = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Ltd",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent Co",
    "Wonka Industries",
]
CITIES_CN = [
    "北京市朝阳区",
    "上海市浦东新区",
    "广州市天河区",
    "深圳市南山区",
    "杭州市西湖区",
    "成都市武侯区",
]
STREETS_EN = ["Main St", "Oak Ave", "Park Rd", "Elm St", "High St", "King's Rd"]
TAGS = ["vip", "newsletter", "wholesale", "retail", "partner", "trial", "重点客户", "华东", "华南"]
OWNERS = ["alice", "bob", "carol", "dave"]
AGENTS = {
    "alice": ["billing", "account"],
    "bob": ["technical", "delivery"],
    "carol": ["technical", "billing"],
    "dave": ["delivery", "account"],
}
MOBILE_PREFIXES = "130 131 132 135 136 137 138 139 150 151 152 158 159 176 177 180 186 187 188 189"
CHANNELS = {"phone": 30, "email": 30, "chat": 15, "meeting": 8, "sms": 8, "visit": 5, "social": 4}
SUBJECTS_CN = ["产品咨询", "报价跟进", "合同续签", "售后回访", "发货确认", "发票问题", "新品推荐"]
SUBJECTS_EN = ["Product question", "Quote follow-up", "Renewal", "Check-in call", "Delivery"]
TICKET_SUBJECTS = {
    "billing": ["发票抬头错误", "Invoice amount wrong", "重复扣款", "Refund request"],
    "technical": ["无法登录", "App crashes on start", "数据同步失败", "Export fails"],
    "delivery": ["物流延迟", "Package damaged", "收货地址修改", "Missing item"],
    "account": ["修改手机号", "Close my account", "权限申请", "Change company name"],
}
# Response / resolution targets per priority, in hours.
SLA_HOURS = {"urgent": (1, 8), "high": (4, 24), "normal": (8, 72), "low": (24, 120)}
# Weekday weights (Monday first): a busy working week, quiet weekends.
WEEKDAY_WEIGHT = [1.0, 1.0, 0.95, 0.9, 0.85, 0.25, 0.15]
LOCAL_OFFSET_H = 8  # office hours are Beijing hours


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DemoData:
    """Rows ready for insertion, ids assigned (the demo fills an empty database)."""

    anchor: datetime
    customers: list[dict[str, Any]] = field(default_factory=list)
    tags: list[tuple[int, str]] = field(default_factory=list)
    agents: list[tuple[str, list[str]]] = field(default_factory=list)
    communications: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    ticket_events: list[tuple[Any, ...]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    deal_events: list[tuple[Any, ...]] = field(default_factory=list)


def anchor_time(now: datetime) -> datetime:
    """Midnight UTC of `now`'s day: the demo is identical for every run on the same day."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _office_time(rng: random.Random, start: datetime, end: datetime) -> datetime | None:
    """A time in (start, end) on a day drawn with the weekly pattern, in office hours."""
    if end <= start:
        return None
    span = (end - start).total_seconds()
    for _ in range(20):
        moment = start + timedelta(seconds=rng.random() * span)
        local = moment + timedelta(hours=LOCAL_OFFSET_H)
        if rng.random() < WEEKDAY_WEIGHT[local.weekday()]:
            day = datetime(local.year, local.month, local.day, tzinfo=UTC)
            hour = rng.choice([9, 9, 10, 10, 10, 11, 11, 13, 14, 14, 15, 15, 16, 16, 17, 19])
            when = day + timedelta(hours=hour - LOCAL_OFFSET_H, minutes=rng.randrange(60))
            if start < when < end:
                return when
    return None


def _customer(rng: random.Random, i: int, created: datetime) -> dict[str, Any]:
    chinese = rng.random() < 0.65
    if chinese:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = "+86" + rng.choice(MOBILE_PREFIXES.split()) + f"{rng.randrange(10**8):08d}"
        company = rng.choice(COMPANIES_CN) + rng.choice(["有限公司", "股份有限公司", ""])
        address = rng.choice(CITIES_CN) + f"{rng.randint(1, 999)}号"
        email = f"user{i}@" + rng.choice(["qq.com", "163.com", "126.com", "sina.com", "example.cn"])
    else:
        first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
        name = f"{first} {last}"
        phone = f"+1415{rng.randint(2, 9)}{rng.randrange(10**6):06d}"
        company = rng.choice(COMPANIES_EN)
        address = f"{rng.randint(1, 999)} {rng.choice(STREETS_EN)}, San Francisco"
        email = f"{first}.{last}{i}@".lower() + rng.choice(["gmail.com", "outlook.com"])
    return {
        "id": i,
        "external_id": f"C{i:06d}",
        "name": name,
        "phone": phone if rng.random() > 0.05 else None,
        "email": email if rng.random() > 0.08 else None,
        "address": address if rng.random() > 0.1 else None,
        "company": company if rng.random() > 0.2 else None,
        "lifecycle": rng.choices(["lead", "prospect", "customer", "churned"], [2, 2, 5, 1])[0],
        "owner": rng.choice(OWNERS) if rng.random() > 0.03 else None,
        "created_at": iso(created),
        "chinese": chinese,
    }


def _dirty(rng: random.Random, rows: list[dict[str, Any]]) -> None:
    """A few realistic defects that every CLI path could have stored (so `crm db check` passes
    and an export imports back): re-entered customers (same phone, the name typed slightly
    differently, their own email) and phones never captured."""
    n = len(rows)
    for k in range(max(1, n // 50)):
        src, dup = rows[rng.randrange(n // 2)], rows[n // 2 + rng.randrange(n - n // 2)]
        dup.update(name=src["name"], phone=src["phone"], company=src["company"])
        if k % 3 == 0:
            # Typed again by someone else: "张伟" as "张 伟", "Mary Smith" as "mary smith".
            dup["name"] = src["name"].lower() if " " in src["name"] else " ".join(src["name"])
    for row in rng.sample(rows, max(1, n // 100)):
        row["phone"] = None  # taken at a trade fair without a number


def build_customers(rng: random.Random, data: DemoData, n: int) -> None:
    start = data.anchor - timedelta(days=730)
    for i in range(1, n + 1):
        # Sign-ups grow over time: later days are likelier (square-root shape).
        created = start + timedelta(
            days=728 * math.sqrt(rng.random()), seconds=rng.randrange(86400)
        )
        data.customers.append(_customer(rng, i, created))
    data.customers.sort(key=lambda r: r["created_at"])
    for i, row in enumerate(data.customers, start=1):
        row["id"] = i
        row["external_id"] = f"C{i:06d}"
    _dirty(rng, data.customers)
    for row in data.customers:
        for tag in rng.sample(TAGS, rng.choice((0, 1, 1, 2))):
            data.tags.append((row["id"], tag))
    data.agents = [(name, skills) for name, skills in AGENTS.items()]


def build_communications(rng: random.Random, data: DemoData) -> None:
    year_ago = data.anchor - timedelta(days=365)
    channels, weights = list(CHANNELS), list(CHANNELS.values())
    for c in data.customers:
        created = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
        begin = max(created, year_ago)
        activity = {"lead": 3, "prospect": 8, "customer": 12, "churned": 2}[c["lifecycle"]]
        share = (data.anchor - begin).total_seconds() / (365 * 86400)
        for _ in range(int(rng.expovariate(1 / (activity * share)) + rng.random() * share)):
            when = _office_time(rng, begin, data.anchor)
            if when is None:
                continue
            channel = rng.choices(channels, weights)[0]
            subject = rng.choice(SUBJECTS_CN if c["chinese"] else SUBJECTS_EN)
            follow = when + timedelta(days=rng.choice((1, 2, 3, 7))) if rng.random() < 0.2 else None
            done = follow if follow and follow < data.anchor and rng.random() < 0.8 else None
            data.communications.append(
                {
                    "customer_id": c["id"],
                    "channel": channel,
                    "direction": "inbound" if rng.random() < 0.4 else "outbound",
                    "occurred_at": iso(when),
                    "subject": subject,
                    "content": f"{subject} — {c['name']}",
                    "agent": c["owner"] or rng.choice(OWNERS),
                    "duration_s": rng.randrange(60, 1800)
                    if channel in ("phone", "meeting")
                    else None,
                    "follow_up_at": iso(follow) if follow else None,
                    "done_at": iso(done) if done else None,
                }
            )
    data.communications.sort(key=lambda r: r["occurred_at"])


def build_tickets(rng: random.Random, data: DemoData) -> None:
    year_ago = data.anchor - timedelta(days=365)
    eligible = [c for c in data.customers if c["lifecycle"] in ("customer", "churned", "prospect")]
    count = int(len(data.customers) * 0.35)
    for _ in range(count):
        c = rng.choice(eligible)
        created = _office_time(rng, year_ago, data.anchor)
        if created is None or iso(created) < c["created_at"]:
            continue
        category = rng.choice(list(TICKET_SUBJECTS))
        priority = rng.choices(["low", "normal", "high", "urgent"], [2, 6, 2, 0.5])[0]
        respond_h, resolve_h = SLA_HOURS[priority]
        agent = rng.choice([a for a, skills in AGENTS.items() if category in skills])
        t: dict[str, Any] = {
            "id": len(data.tickets) + 1,
            "customer_id": c["id"],
            "subject": rng.choice(TICKET_SUBJECTS[category]),
            "description": "客户反馈 / customer report",
            "category": category,
            "priority": priority,
            "channel": rng.choice(["email", "phone", "chat"]),
            "assignee": agent,
            "created_at": iso(created),
            "response_due_at": iso(created + timedelta(hours=respond_h)),
            "due_at": iso(created + timedelta(hours=resolve_h)),
            "status": "open",
            "first_response_at": None,
            "resolved_at": None,
            "closed_at": None,
            "satisfaction": None,
            "rated_at": None,
        }
        events: list[tuple[Any, ...]] = [
            (t["id"], t["created_at"], "demo", "opened", None, "open", t["description"], 0),
            (t["id"], t["created_at"], "demo", "assigned", None, None, agent, 0),
        ]
        response = created + timedelta(hours=rng.expovariate(1 / (respond_h * 0.6)))
        if response < data.anchor:
            t["first_response_at"], t["status"] = iso(response), "in_progress"
            events.append((t["id"], iso(response), agent, "status", "open", "in_progress", None, 0))
            events.append(
                (t["id"], iso(response), agent, "comment", None, None, "已收到，正在处理", 0)
            )
            resolved = response + timedelta(hours=rng.expovariate(1 / (resolve_h * 0.5)))
            if resolved < data.anchor:
                t["resolved_at"], t["status"] = iso(resolved), "resolved"
                events.append(
                    (t["id"], iso(resolved), agent, "status", "in_progress", "resolved", None, 0)
                )
                late = resolved > created + timedelta(hours=resolve_h)
                if rng.random() < 0.6:
                    score = rng.choices(
                        [1, 2, 3, 4, 5], [1, 1, 3, 8, 10] if not late else [3, 3, 4, 4, 3]
                    )[0]  # noqa: E501
                    rated = resolved + timedelta(hours=rng.uniform(1, 48))
                    if rated < data.anchor:
                        t["satisfaction"], t["rated_at"] = score, iso(rated)
                        events.append(
                            (t["id"], iso(rated), "customer", "rated", None, None, None, 0)
                        )
                closed = resolved + timedelta(days=3)
                if closed < data.anchor:
                    t["closed_at"], t["status"] = iso(closed), "closed"
                    events.append(
                        (t["id"], iso(closed), "demo", "status", "resolved", "closed", None, 0)
                    )
        t["updated_at"] = max(e[1] for e in events)
        data.tickets.append(t)
        data.ticket_events.extend(events)


def build_campaigns(rng: random.Random, data: DemoData) -> None:
    plans = [
        ("春季促销 Spring promotion", "email", 200, 14, 150_000, (0.06, 0.10, 0.04)),
        ("会员日短信 Member day SMS", "sms", 45, 7, 80_000, (0.09, 0.07, 0.05)),
    ]
    for cid, (name, channel, days_ago, length, cost, rates) in enumerate(plans, start=1):
        starts = data.anchor - timedelta(days=days_ago)
        ends = starts + timedelta(days=length)
        data.campaigns.append(
            {
                "id": cid,
                "name": name,
                "channel": channel,
                "description": "A/B test with a control group",
                "starts_at": iso(starts),
                "ends_at": iso(ends),
                "cost": cost * 100,
                "status": "closed",
                "segment": "lifecycle=customer or lifecycle=prospect",
            }
        )
        pool = [
            c
            for c in data.customers
            if c["lifecycle"] in ("customer", "prospect") and c["created_at"] < iso(starts)
        ]
        for c in rng.sample(pool, min(len(pool), max(30, len(data.customers) // 4))):
            variant = rng.choices(["A", "B", "control"], [4, 4, 2])[0]
            rate = rates[["A", "B", "control"].index(variant)]
            contacted = (
                None if variant == "control" else starts + timedelta(hours=rng.uniform(1, 48))
            )
            success = rng.random() < rate
            responded = starts + timedelta(days=rng.uniform(1, length)) if success else None
            data.members.append(
                {
                    "campaign_id": cid,
                    "customer_id": c["id"],
                    "variant": variant,
                    "contacted_at": iso(contacted) if contacted else None,
                    "result": "success" if success else "failure",
                    "responded_at": iso(responded) if responded else None,
                    "revenue": int(rng.lognormvariate(math.log(400), 0.5) * 100)
                    if success
                    else None,
                }
            )


def build_orders(rng: random.Random, data: DemoData) -> None:
    """BG/NBD-style buyers: rate ~ Gamma(1.5, 1/90) per day, dropout ~ Beta(1, 4)."""
    n = 0
    for c in data.customers:
        if c["lifecycle"] not in ("customer", "churned"):
            continue
        rate = rng.gammavariate(1.5, 1 / 90)
        dropout = rng.betavariate(1, 4) if c["lifecycle"] == "customer" else rng.betavariate(3, 2)
        mean_spend = rng.lognormvariate(math.log(350), 0.6)
        currency = "USD" if not c["chinese"] and rng.random() < 0.1 else "CNY"
        when = _dt(c["created_at"]) + timedelta(days=rng.expovariate(1 / 10))
        while when < data.anchor:
            n += 1
            amount = max(100, int(rng.gammavariate(6, mean_spend / 6) * 100))
            data.orders.append(
                {
                    "external_id": f"SO{n:07d}",
                    "customer_id": c["id"],
                    "ordered_at": iso(when),
                    "amount": amount,
                    "currency": currency,
                }
            )
            if rng.random() < dropout:
                break
            when += timedelta(days=rng.expovariate(rate) + 1)
    data.orders.sort(key=lambda r: r["ordered_at"])


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def generate(customers: int, seed: int, now: datetime) -> DemoData:
    """The whole demo data set for `customers` customers, anchored at `now`'s day."""
    rng = random.Random(seed)
    data = DemoData(anchor=anchor_time(now))
    build_customers(rng, data, customers)
    build_communications(rng, data)
    build_tickets(rng, data)
    build_campaigns(rng, data)
    build_orders(rng, data)
    build_sales(random.Random(seed + 1), data)  # own stream: the data above stays as it was
    return data


def build_sales(rng: random.Random, data: DemoData) -> None:
    from crmcli.demo.sales import build_companies, build_deals

    data.companies = build_companies(rng, data.customers)
    data.deals, data.deal_events = build_deals(rng, data.customers, data.anchor)
