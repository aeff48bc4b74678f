"""Demo companies and deals with a realistic stage history.

Companies: one per distinct (normalized) company name of the demo customers, with an
industry, a size and a domain for the English ones. Deals: about one per three customers
with a company, created over the last year; each walks the default stages with a chance to
advance, be lost or stall at every step and days between steps, so the pipeline report
has won, lost, open and stalled deals, a funnel and a history to backtest against.
"""

from __future__ import annotations

import math
import random
import unicodedata
from datetime import datetime, timedelta
from typing import Any

INDUSTRIES = ["制造", "软件", "零售", "物流", "金融", "医疗", "教育"]
OPEN_STAGES = [("lead", 10), ("qualified", 25), ("proposal", 50), ("negotiation", 75)]
# Per step: P(advance), P(lost) - the rest stays (stalls) where it is.
STEP = {"lead": (0.55, 0.25), "qualified": (0.6, 0.2), "proposal": (0.6, 0.25),
        "negotiation": (0.65, 0.25)}  # fmt: skip
REASONS = ["price", "competitor", "no budget", "timing", "价格", "选择了竞争对手"]
TITLES = ["ERP 升级", "CRM 实施", "年度采购", "设备更新", "Support renewal", "Pilot project",
          "扩容", "Training package"]  # fmt: skip


def _key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _iso(moment: datetime) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_companies(rng: random.Random, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Companies for the customers' company names; sets each customer's company_id."""
    by_key: dict[str, dict[str, Any]] = {}
    for c in customers:
        if not c.get("company"):
            continue
        key = _key(c["company"])
        company = by_key.get(key)
        if company is None:
            ascii_name = c["company"].isascii()
            slug = "".join(ch for ch in c["company"].lower() if ch.isalnum())
            company = {
                "id": len(by_key) + 1,
                "name": " ".join(c["company"].split()),
                "name_key": key,
                "domain": f"{slug}.example.com" if ascii_name else None,
                "industry": rng.choice(INDUSTRIES),
                "size": int(rng.lognormvariate(math.log(200), 1.2)) + 5,
                "owner": c.get("owner"),
                "created_at": c["created_at"],
            }
            by_key[key] = company
        c["company_id"] = company["id"]
    return list(by_key.values())


def build_deals(
    rng: random.Random, customers: list[dict[str, Any]], anchor: datetime
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Deals and their events (deal_id, at, actor, kind, from, to, amount, close_date, note)."""
    deals: list[dict[str, Any]] = []
    events: list[tuple[Any, ...]] = []
    start = anchor - timedelta(days=365)
    candidates = [c for c in customers if c.get("company_id")]
    for c in candidates:
        if rng.random() > 0.35:
            continue
        created = start + timedelta(days=rng.random() * 360, seconds=rng.randrange(86400))
        if _iso(created) < c["created_at"]:
            continue
        deal_id = len(deals) + 1
        amount = int(rng.lognormvariate(math.log(30000), 0.8)) * 100
        owner = c.get("owner") or "alice"
        close = (created + timedelta(days=rng.randint(30, 120))).date().isoformat()
        stage, at, outcome = "lead", created, None
        events.append((deal_id, _iso(at), owner, "create", None, "lead", amount, close, None))
        won_at = lost_at = reason = None
        index = 0
        while True:
            at = at + timedelta(days=rng.expovariate(1 / 12) + 0.5)
            if at >= anchor:
                break
            advance, lose = STEP[stage]
            roll = rng.random()
            if roll < lose:
                outcome, reason, lost_at = "lost", rng.choice(REASONS), at
                events.append(
                    (deal_id, _iso(at), owner, "lost", stage, "lost", amount, close, reason)
                )
                break
            if roll < lose + advance:
                if index == len(OPEN_STAGES) - 1:
                    outcome, won_at = "won", at
                    events.append(
                        (deal_id, _iso(at), owner, "won", stage, "won", amount, close, None)
                    )
                    break
                index += 1
                new = OPEN_STAGES[index][0]
                events.append((deal_id, _iso(at), owner, "move", stage, new, amount, close, None))
                stage = new
            elif rng.random() < 0.3:
                break  # stalls here: nothing more happens
        final = outcome or stage
        changed = [e for e in events if e[0] == deal_id][-1][1]
        deals.append(
            {
                "id": deal_id,
                "external_id": f"D{deal_id:06d}",
                "customer_id": c["id"],
                "company_id": c["company_id"],
                "title": rng.choice(TITLES),
                "amount": amount,
                "currency": "CNY",
                "stage": final,
                "close_date": close,
                "owner": owner,
                "source": rng.choice(["web", "referral", "campaign", "trade fair", "cold call"]),
                "created_at": _iso(created),
                "updated_at": changed,
                "stage_changed_at": changed,
                "won_at": _iso(won_at) if won_at else None,
                "lost_at": _iso(lost_at) if lost_at else None,
                "lost_reason": reason,
            }
        )
    return deals, events
