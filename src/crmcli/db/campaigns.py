"""Repository functions for campaigns and their members: create, update, close, target
(segment -> randomised variants and hold-out control), results, per-arm counts, and the
history the response model learns from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import audit
from crmcli.db.database import Database

CAMPAIGN_FIELDS = ("name", "channel", "description", "starts_at", "ends_at", "cost", "currency")
COLUMNS = (
    "id, name, channel, description, starts_at, ends_at, cost, currency, status, segment,"
    " created_at, updated_at"
)
CONTROL = "control"


def _row(db: Database, campaign_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS} FROM campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return row


def create_campaign(db: Database, values: dict[str, Any]) -> int:
    if not values.get("name"):
        raise InvalidInput("a campaign needs a name")
    stamp = now_iso()
    row = {k: values.get(k) for k in CAMPAIGN_FIELDS}
    row["cost"] = row["cost"] or 0
    row["currency"] = row["currency"] or "CNY"
    with db.transaction():
        cur = db.execute(
            f"INSERT INTO campaigns({', '.join(CAMPAIGN_FIELDS)}, status, created_at, updated_at)"
            f" VALUES ({', '.join(':' + k for k in CAMPAIGN_FIELDS)}, 'draft', :stamp, :stamp)",
            {**row, "stamp": stamp},
        )
        cid = int(cur.lastrowid or 0)
        audit.record(db, "create", "campaign", cid, {k: v for k, v in row.items() if v is not None})
    return cid


def get_campaign(db: Database, campaign_id: int) -> dict[str, Any]:
    return _row(db, campaign_id)


def arm_counts(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """Per variant: members, successes, failures, pending, revenue (cents)."""
    return db.query(
        "SELECT variant, count(*) AS members,"
        " sum(result = 'success') AS responses, sum(result = 'failure') AS failures,"
        " sum(result = 'pending') AS pending, coalesce(sum(revenue), 0) AS revenue"
        " FROM campaign_members WHERE campaign_id = ? GROUP BY variant"
        " ORDER BY variant = 'control', variant",
        (campaign_id,),
    )


def list_campaigns(db: Database, status: str | None = None) -> list[dict[str, Any]]:
    return db.query(
        f"SELECT {COLUMNS}, (SELECT count(*) FROM campaign_members m"
        " WHERE m.campaign_id = campaigns.id) AS members FROM campaigns"
        " WHERE (? IS NULL OR status = ?) ORDER BY id",
        (status, status),
    )


def _members_where(
    campaign_id: int, variant: str | None, result: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = ["m.campaign_id = ?"]
    params: list[Any] = [campaign_id]
    if variant is not None:
        clauses.append("m.variant = ?")
        params.append(variant)
    if result is not None:
        clauses.append("m.result = ?")
        params.append(result)
    return " AND ".join(clauses), params


def members(
    db: Database,
    campaign_id: int,
    limit: int | None = None,
    variant: str | None = None,
    result: str | None = None,
) -> list[dict[str, Any]]:
    """A campaign's members (optionally of one variant / with one result), by variant and id."""
    where, params = _members_where(campaign_id, variant, result)
    sql = (
        "SELECT m.customer_id, c.name, m.variant, m.result, m.revenue, m.contacted_at,"
        " m.responded_at FROM campaign_members m JOIN customers c ON c.id = m.customer_id"
        f" WHERE {where} ORDER BY m.variant, m.customer_id"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return db.query(sql, params)


def count_members(
    db: Database, campaign_id: int, variant: str | None = None, result: str | None = None
) -> int:
    """How many members members() would list without a limit."""
    where, params = _members_where(campaign_id, variant, result)
    return int(db.scalar(f"SELECT count(*) FROM campaign_members m WHERE {where}", params))


def update_campaign(db: Database, campaign_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    allowed = set(CAMPAIGN_FIELDS) | {"status"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"unknown campaign field(s): {', '.join(sorted(unknown))}")
    with db.transaction():
        current = _row(db, campaign_id)
        if current["status"] == "closed":
            raise Conflict(f"campaign {campaign_id} is closed; it cannot be changed")
        if changes.get("status") == "closed":
            raise InvalidInput("use `crm campaign close` to close a campaign")
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            db.execute(
                f"UPDATE campaigns SET {sets}, updated_at = :stamp WHERE id = :id",
                {**{k: v[1] for k, v in diff.items()}, "stamp": now_iso(), "id": campaign_id},
            )
            audit.record(db, "update", "campaign", campaign_id, {"changes": diff})
    return diff


def close_campaign(db: Database, campaign_id: int) -> dict[str, Any]:
    with db.transaction():
        current = _row(db, campaign_id)
        if current["status"] == "closed":
            raise Conflict(f"campaign {campaign_id} is already closed")
        stamp = now_iso()
        db.execute(
            "UPDATE campaigns SET status = 'closed', updated_at = ?,"
            " ends_at = coalesce(ends_at, ?) WHERE id = ?",
            (stamp, stamp, campaign_id),
        )
        audit.record(
            db, "close", "campaign", campaign_id, {"status": [current["status"], "closed"]}
        )
    return _row(db, campaign_id)


# ------------------------------------------------------------------- targeting


@dataclass
class TargetPlan:
    segment: str
    variants: list[str]
    control: float = 0.0
    sample: int | None = None
    seed: int | None = None
    replace: bool = False


def assign_arms(customer_ids: list[int], plan: TargetPlan, seed: int) -> list[tuple[int, str]]:
    """Reproducible random assignment: random.Random(seed) over the sorted ids draws the
    sample (if any), shuffles it, gives the first round(control * n) to the control group
    and deals the rest to the variants in turn."""
    rng = random.Random(seed)
    ids = sorted(customer_ids)
    if plan.sample is not None and plan.sample < len(ids):
        ids = sorted(rng.sample(ids, plan.sample))
    rng.shuffle(ids)
    n_control = round(plan.control * len(ids))
    arms = [(cid, CONTROL) for cid in ids[:n_control]]
    k = len(plan.variants)
    arms += [(cid, plan.variants[i % k]) for i, cid in enumerate(ids[n_control:])]
    return arms


def target(db: Database, campaign_id: int, plan: TargetPlan) -> dict[str, Any]:
    """Add the segment's customers to the campaign, split into variants and control."""
    from crmcli.db.segments import compile_segment

    where, params = compile_segment(plan.segment, db=db)
    seed = plan.seed if plan.seed is not None else random.SystemRandom().randrange(2**31)
    with db.transaction():
        campaign = _row(db, campaign_id)
        if campaign["status"] == "closed":
            raise Conflict(f"campaign {campaign_id} is closed")
        existing = int(
            db.scalar("SELECT count(*) FROM campaign_members WHERE campaign_id = ?", (campaign_id,))
        )
        if existing:
            if not plan.replace:
                raise Conflict(
                    f"campaign {campaign_id} already has {existing} members; use --replace"
                )
            answered = db.scalar(
                "SELECT count(*) FROM campaign_members WHERE campaign_id = ?"
                " AND result != 'pending'",
                (campaign_id,),
            )
            if answered:
                raise Conflict(f"campaign {campaign_id} already has {answered} results recorded")
            db.execute("DELETE FROM campaign_members WHERE campaign_id = ?", (campaign_id,))
        ids = [
            int(r[0])
            for r in db.execute(
                f"SELECT c.id FROM customers c WHERE c.erased_at IS NULL AND ({where})", params
            )
        ]
        if not ids:
            raise InvalidInput(f"segment {plan.segment!r} matches no customers")
        arms = assign_arms(ids, plan, seed)
        db.executemany(
            "INSERT INTO campaign_members(campaign_id, customer_id, variant) VALUES (?, ?, ?)",
            [(campaign_id, cid, arm) for cid, arm in arms],
        )
        db.execute(
            "UPDATE campaigns SET segment = ?, status = 'active', updated_at = ? WHERE id = ?",
            (plan.segment, now_iso(), campaign_id),
        )
        counts: dict[str, int] = {}
        for _, arm in arms:
            counts[arm] = counts.get(arm, 0) + 1
        summary = {
            "campaign_id": campaign_id,
            "segment": plan.segment,
            "matched": len(ids),
            "members": len(arms),
            "seed": seed,
            "arms": counts,
        }
        audit.record(db, "target", "campaign", campaign_id, summary)
    return summary


# ------------------------------------------------------------------- results


def record_result(
    db: Database,
    campaign_id: int,
    customer_id: int,
    result: str,
    revenue: int | None,
    responded_at: str,
) -> dict[str, Any]:
    with db.transaction():
        campaign = _row(db, campaign_id)
        if campaign["status"] == "closed":
            raise Conflict(f"campaign {campaign_id} is closed; results can no longer change")
        _set_result(db, campaign_id, customer_id, result, revenue, responded_at)
        audit.record(
            db,
            "result",
            "campaign",
            campaign_id,
            {"customer_id": customer_id, "result": result, "revenue": revenue},
        )
    return {"campaign_id": campaign_id, "customer_id": customer_id, "result": result}


def _set_result(
    db: Database,
    campaign_id: int,
    customer_id: int,
    result: str,
    revenue: int | None,
    responded_at: str | None,
) -> None:
    cur = db.execute(
        "UPDATE campaign_members SET result = ?, revenue = ?, responded_at = ?"
        " WHERE campaign_id = ? AND customer_id = ?",
        (result, revenue, responded_at if result != "pending" else None, campaign_id, customer_id),
    )
    if cur.rowcount == 0:
        raise NotFound(f"customer {customer_id} is not a member of campaign {campaign_id}")


def set_result(
    db: Database,
    campaign_id: int,
    customer_id: int,
    result: str,
    revenue: int | None,
    responded_at: str | None,
) -> bool:
    """One member's result (for `crm campaign import-results`; responded_at None: not
    known); returns whether it changed (a file imported again changes nothing); NotFound
    for a non-member."""
    at = responded_at if result != "pending" else None
    cur = db.execute(
        "UPDATE campaign_members SET result = ?, revenue = ?, responded_at = ?"
        " WHERE campaign_id = ? AND customer_id = ?"
        " AND (result IS NOT ? OR revenue IS NOT ? OR responded_at IS NOT ?)",
        (result, revenue, at, campaign_id, customer_id, result, revenue, at),
    )
    if cur.rowcount:
        return True
    if db.scalar(
        "SELECT 1 FROM campaign_members WHERE campaign_id = ? AND customer_id = ?",
        (campaign_id, customer_id),
    ):
        return False
    raise NotFound(f"customer {customer_id} is not a member of campaign {campaign_id}")


def campaign_status(db: Database, campaign_id: int) -> str:
    return str(_row(db, campaign_id)["status"])


# ------------------------------------------------------------------- response history


def response_history(db: Database) -> list[dict[str, Any]]:
    """Every decided past campaign contact (success / failure; pending members of closed
    campaigns count as failures) with features known when the campaign started: the
    customer's orders, spend and last order before it, and earlier campaign outcomes."""
    return db.query(
        """
        SELECT m.customer_id, m.campaign_id, cp.channel,
               CASE WHEN m.result = 'success' THEN 1 ELSE 0 END AS responded,
               (SELECT count(*) FROM orders o WHERE o.customer_id = m.customer_id
                    AND o.ordered_at < coalesce(cp.starts_at, cp.created_at)) AS orders,
               (SELECT coalesce(sum(o.amount), 0) FROM orders o
                    WHERE o.customer_id = m.customer_id
                    AND o.ordered_at < coalesce(cp.starts_at, cp.created_at)) AS spend,
               julianday(coalesce(cp.starts_at, cp.created_at)) - julianday(
                   (SELECT max(o.ordered_at) FROM orders o WHERE o.customer_id = m.customer_id
                    AND o.ordered_at < coalesce(cp.starts_at, cp.created_at))) AS recency_days,
               (SELECT count(*) FROM campaign_members p JOIN campaigns pc ON pc.id = p.campaign_id
                    WHERE p.customer_id = m.customer_id AND p.campaign_id != m.campaign_id
                    AND p.variant != 'control' AND coalesce(pc.starts_at, pc.created_at)
                        < coalesce(cp.starts_at, cp.created_at)) AS past_campaigns,
               (SELECT count(*) FROM campaign_members p JOIN campaigns pc ON pc.id = p.campaign_id
                    WHERE p.customer_id = m.customer_id AND p.campaign_id != m.campaign_id
                    AND p.result = 'success'
                    AND coalesce(pc.starts_at, pc.created_at)
                        < coalesce(cp.starts_at, cp.created_at)) AS past_successes
        FROM campaign_members m JOIN campaigns cp ON cp.id = m.campaign_id
        WHERE m.variant != 'control' AND (m.result != 'pending' OR cp.status = 'closed')
        ORDER BY m.campaign_id, m.customer_id
        """
    )


def candidate_features(
    db: Database, where: str, params: list[Any], at: str
) -> list[dict[str, Any]]:
    """The same features for the customers of a segment, as of `at`."""
    sql = f"""
        SELECT c.id AS customer_id, c.name,
               (SELECT count(*) FROM orders o WHERE o.customer_id = c.id
                    AND o.ordered_at < ?) AS orders,
               (SELECT coalesce(sum(o.amount), 0) FROM orders o WHERE o.customer_id = c.id
                    AND o.ordered_at < ?) AS spend,
               julianday(?) - julianday((SELECT max(o.ordered_at) FROM orders o
                    WHERE o.customer_id = c.id AND o.ordered_at < ?)) AS recency_days,
               (SELECT count(*) FROM campaign_members p WHERE p.customer_id = c.id
                    AND p.variant != 'control') AS past_campaigns,
               (SELECT count(*) FROM campaign_members p WHERE p.customer_id = c.id
                    AND p.result = 'success') AS past_successes
        FROM customers c WHERE c.erased_at IS NULL AND ({where})
        ORDER BY c.id
    """
    return db.query(sql, [at, at, at, at, *params])


def tags_of(db: Database, customer_ids: list[int]) -> dict[int, list[str]]:
    from crmcli.db.customers import _tags_for

    return _tags_for(db, customer_ids)
