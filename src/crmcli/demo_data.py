"""A realistic, seeded demo database: customers in Chinese and English (extended per group)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from crmcli.db import Database, audit

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
]
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
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
]


def _customer(rng: random.Random, i: int, start: datetime, span_days: int) -> dict[str, Any]:
    chinese = rng.random() < 0.65
    if chinese:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = "+86" + rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        company = rng.choice(COMPANIES_CN) + rng.choice(["有限公司", "股份有限公司", ""])
        address = rng.choice(CITIES_CN) + f"{rng.randint(1, 999)}号"
        email_user = f"user{i}"
        domain = rng.choice(["qq.com", "163.com", "126.com", "sina.com", "example.cn"])
    else:
        first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
        name = f"{first} {last}"
        phone = (
            f"+1202555{rng.randrange(10**4):04d}"
            if rng.random() < 0.1
            else f"+1415{rng.randint(2, 9)}{rng.randrange(10**6):06d}"
        )
        company = rng.choice(COMPANIES_EN)
        address = f"{rng.randint(1, 999)} {rng.choice(STREETS_EN)}, San Francisco"
        email_user = f"{first}.{last}{i}".lower()
        domain = rng.choice(["gmail.com", "outlook.com", "example.com"])
    created = start + timedelta(days=rng.random() * span_days)
    return {
        "external_id": f"C{i:06d}",
        "name": name,
        "phone": phone if rng.random() > 0.05 else None,
        "email": f"{email_user}@{domain}" if rng.random() > 0.08 else None,
        "address": address,
        "company": company if rng.random() > 0.2 else None,
        "lifecycle": rng.choices(["lead", "prospect", "customer", "churned"], [0.2, 0.2, 0.5, 0.1])[
            0
        ],
        "owner": rng.choice(OWNERS),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def build_customers(db: Database, rng: random.Random, n: int, now: datetime) -> list[int]:
    start = now - timedelta(days=730)
    rows = [_customer(rng, i + 1, start, 700) for i in range(n)]
    fields = list(rows[0])
    with db.transaction():
        db.conn.executemany(
            f"INSERT INTO customers({', '.join(fields)}, updated_at) VALUES ({', '.join('?' * len(fields))}, ?)",
            [[r[f] for f in fields] + [r["created_at"]] for r in rows],
        )
        ids = [r[0] for r in db.execute("SELECT id FROM customers ORDER BY id")]
        tag_rows = [(cid, t) for cid in ids for t in rng.sample(TAGS, rng.choice((0, 1, 1, 2)))]
        db.conn.executemany("INSERT OR IGNORE INTO customer_tags VALUES (?, ?)", tag_rows)
        audit.record(db, "demo", "customer", None, {"customers": n})
    return ids


def build(db: Database, customers: int = 3000, seed: int = 7) -> None:
    """Fill an empty database with demo data (refuses a database that already has customers)."""
    from crmcli import config
    from crmcli.errors import Conflict

    if db.scalar("SELECT count(*) FROM customers"):
        raise Conflict("the database already has customers; give --db with a new file for the demo")
    rng = random.Random(seed)
    now = config.now().astimezone(UTC)
    build_customers(db, rng, customers, now)


def summary(db: Database) -> dict[str, Any]:
    by_lifecycle = db.query(
        "SELECT lifecycle, count(*) AS customers FROM customers GROUP BY lifecycle ORDER BY lifecycle"
    )
    return {
        "database": str(db.path),
        "customers": db.scalar("SELECT count(*) FROM customers"),
        "by_lifecycle": by_lifecycle,
    }
