"""Repository functions for communications: the contact log, follow-ups and the counts that
`crm report comm` aggregates (from the comm_hourly table kept by triggers, see m010)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import audit
from crmcli.db.database import Database

COMM_FIELDS = (
    "customer_id",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "content",
    "agent",
    "duration_s",
    "follow_up_at",
    "done_at",
    "external_id",
)
COLUMNS = (
    "m.id, m.customer_id, c.name AS customer_name, m.channel, m.direction, m.occurred_at,"
    " m.subject, m.content, m.agent, m.duration_s, m.follow_up_at, m.done_at, m.external_id,"
    " m.created_at, m.updated_at"
)
FROM = "communications m JOIN customers c ON c.id = m.customer_id"


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class CommFilter:
    """Criteria of `comm list` (times in the stored UTC form)."""

    customer_id: int | None = None
    channels: list[str] = field(default_factory=list)
    agent: str | None = None
    since: str | None = None
    until: str | None = None
    search: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.customer_id is not None:
            clauses.append("m.customer_id = ?")
            params.append(self.customer_id)
        if self.channels:
            clauses.append(f"m.channel IN ({','.join('?' * len(self.channels))})")
            params += self.channels
        if self.agent:
            clauses.append("m.agent = ?")
            params.append(self.agent)
        if self.since:
            clauses.append("m.occurred_at >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("m.occurred_at < ?")
            params.append(self.until)
        if self.search:
            clauses.append("(m.subject LIKE ? ESCAPE '\\' OR m.content LIKE ? ESCAPE '\\')")
            params += [_like(self.search)] * 2
        return (" AND ".join(clauses) or "1"), params


def _customer_exists(db: Database, customer_id: int) -> None:
    if db.scalar("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
        raise NotFound(f"no customer with id {customer_id}")


def add_communication(db: Database, values: dict[str, Any]) -> int:
    """Insert one communication (values already normalized) and return its id."""
    now = now_iso()
    columns = (*COMM_FIELDS, "deal_id") if values.get("deal_id") is not None else COMM_FIELDS
    row = {k: values.get(k) for k in columns}
    if not row["channel"] or not row["occurred_at"] or row["customer_id"] is None:
        raise InvalidInput("a communication needs a customer, a channel and a time")
    row["direction"] = row["direction"] or "outbound"
    with db.transaction():
        _customer_exists(db, int(row["customer_id"]))
        deal_id = row.get("deal_id")
        if deal_id is not None:
            from crmcli.db.deals import check_deal_link

            check_deal_link(db, int(deal_id), int(row["customer_id"] or 0))
        try:
            cur = db.execute(
                f"INSERT INTO communications({', '.join(columns)}, created_at, updated_at)"
                f" VALUES ({', '.join(':' + k for k in columns)}, :now, :now)",
                {**row, "now": now},
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"cannot log communication: {exc}") from None
        new_id = int(cur.lastrowid or 0)
        audit.record(
            db,
            "create",
            "communication",
            new_id,
            {k: v for k, v in row.items() if v is not None and k != "content"}
            | ({"content_chars": len(row["content"])} if row["content"] else {}),
        )
    return new_id


def get_communication(db: Database, comm_id: int) -> dict[str, Any]:
    row = db.query_one(f"SELECT {COLUMNS} FROM {FROM} WHERE m.id = ?", (comm_id,))
    if row is None:
        raise NotFound(f"no communication with id {comm_id}")
    return row


def list_communications(
    db: Database, flt: CommFilter, limit: int | None = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Newest first."""
    where, params = flt.where()
    sql = f"SELECT {COLUMNS} FROM {FROM} WHERE {where} ORDER BY m.occurred_at DESC, m.id DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, limit, offset]
    return db.query(sql, params)


def count_communications(db: Database, flt: CommFilter) -> int:
    """How many communications list_communications() would list without a limit."""
    where, params = flt.where()
    return int(db.scalar(f"SELECT count(*) FROM {FROM} WHERE {where}", params))


def update_communication(db: Database, comm_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply field changes (already normalized); returns {field: [old, new]} of real changes."""
    unknown = set(changes) - set(COMM_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown communication field(s): {', '.join(sorted(unknown))}")
    for required in ("channel", "occurred_at", "direction", "customer_id"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"a communication's {required} cannot be empty")
    with db.transaction():
        current = get_communication(db, comm_id)
        diff = {k: [current[k], v] for k, v in changes.items() if current[k] != v}
        if "customer_id" in diff:
            _customer_exists(db, int(changes["customer_id"]))
        if diff:
            sets = ", ".join(f"{k} = :{k}" for k in diff)
            try:
                db.execute(
                    f"UPDATE communications SET {sets}, updated_at = :updated_at WHERE id = :id",
                    {**{k: v[1] for k, v in diff.items()}, "updated_at": now_iso(), "id": comm_id},
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"cannot update communication {comm_id}: {exc}") from None
            logged = {
                k: (v if k != "content" else ["...", f"{len(v[1] or '')} characters"])
                for k, v in diff.items()
            }
            audit.record(db, "update", "communication", comm_id, {"changes": logged})
    return diff


def delete_communication(db: Database, comm_id: int) -> dict[str, Any]:
    with db.transaction():
        current = get_communication(db, comm_id)
        db.execute("DELETE FROM communications WHERE id = ?", (comm_id,))
        audit.record(
            db,
            "delete",
            "communication",
            comm_id,
            {k: current[k] for k in ("customer_id", "channel", "direction", "occurred_at")},
        )
    return current


def mark_done(db: Database, comm_id: int) -> dict[str, Any]:
    """Close a communication's follow-up; Conflict if it has none or is already done."""
    with db.transaction():
        current = get_communication(db, comm_id)
        if not current["follow_up_at"]:
            raise Conflict(f"communication {comm_id} has no follow-up to close")
        if current["done_at"]:
            raise Conflict(f"the follow-up of communication {comm_id} is already done")
        now = now_iso()
        db.execute(
            "UPDATE communications SET done_at = ?, updated_at = ? WHERE id = ?",
            (now, now, comm_id),
        )
        audit.record(
            db, "done", "communication", comm_id, {"follow_up_at": current["follow_up_at"]}
        )
        current["done_at"] = now
    return current


DUE_COLUMNS = (
    "m.id, m.customer_id, c.name AS customer_name, c.phone AS customer_phone, m.channel,"
    " m.subject, m.agent, m.occurred_at, m.follow_up_at"
)


def due_follow_ups(
    db: Database,
    until: str | None,
    now: str,
    agent: str | None = None,
    overdue_only: bool = False,
) -> list[dict[str, Any]]:
    """Open follow-ups due before `until` (all when None), oldest first; `overdue` flags."""
    clauses = ["m.follow_up_at IS NOT NULL", "m.done_at IS NULL"]
    params: list[Any] = []
    limit = now if overdue_only else until
    if limit is not None:
        clauses.append("m.follow_up_at < ?")
        params.append(limit)
    if agent:
        clauses.append("m.agent = ?")
        params.append(agent)
    rows = db.query(
        f"SELECT {DUE_COLUMNS} FROM {FROM} WHERE {' AND '.join(clauses)}"
        " ORDER BY m.follow_up_at, m.id",
        params,
    )
    for r in rows:
        r["overdue"] = r["follow_up_at"] < now
    return rows


def customer_contacts(db: Database, customer_id: int, limit: int = 5) -> dict[str, Any]:
    """The last `limit` contacts of a customer and the next open follow-up (for `show`)."""
    recent = db.query(
        "SELECT id, channel, direction, occurred_at, subject, agent FROM communications"
        " WHERE customer_id = ? ORDER BY occurred_at DESC, id DESC LIMIT ?",
        (customer_id, limit),
    )
    follow = db.query_one(
        "SELECT id, follow_up_at, subject, agent FROM communications"
        " WHERE customer_id = ? AND follow_up_at IS NOT NULL AND done_at IS NULL"
        " ORDER BY follow_up_at, id LIMIT 1",
        (customer_id,),
    )
    return {"communications": recent, "next_follow_up": follow}


# ------------------------------------------------------------------ counts for reports


def first_and_last_hour(db: Database) -> tuple[str | None, str | None]:
    """The earliest and latest 'YYYY-MM-DDTHH' keys of comm_hourly."""
    row = db.execute("SELECT min(hour_utc), max(hour_utc) FROM comm_hourly").fetchone()
    return (row[0], row[1]) if row else (None, None)


def local_day_counts(
    db: Database,
    segments: list[tuple[str, str, int]],
    use_aggregate: bool = True,
    channels: list[str] | None = None,
    agent: str | None = None,
    customer_id: int | None = None,
) -> list[tuple[str, str, str, int]]:
    """(local day 'YYYY-MM-DD', channel, direction, n) over time segments.

    `segments` are (start, end, UTC offset in minutes) with stored-form bounds, covering the
    window in pieces of constant offset (DST changes split it); start <= occurred_at < end.
    With `use_aggregate` (no agent or customer filter, a zone whose offsets are whole hours)
    whole hours come from comm_hourly and only the partial first and last hour from
    communications; otherwise an indexed GROUP BY over communications does it all. SQLite
    folds the hours into local days, so Python receives a few rows per day, not per hour.
    """
    chan_sql = ""
    chan_params: list[Any] = []
    if channels:
        chan_sql = f" AND channel IN ({','.join('?' * len(channels))})"
        chan_params = list(channels)
    raw_extra = chan_sql
    raw_params = list(chan_params)
    if agent is not None:
        raw_extra += " AND agent = ?"
        raw_params.append(agent)
    if customer_id is not None:
        raw_extra += " AND customer_id = ?"
        raw_params.append(customer_id)
    aggregate = use_aggregate and agent is None and customer_id is None
    out: list[tuple[str, str, str, int]] = []

    def raw(lo: str, hi: str, shift: str) -> None:
        if lo >= hi:
            return
        out.extend(
            tuple(r)  # type: ignore[misc]
            for r in db.execute(
                "SELECT date(occurred_at, ?), channel, direction, count(*) FROM communications"
                f" WHERE occurred_at >= ? AND occurred_at < ?{raw_extra} GROUP BY 1, 2, 3",
                [shift, lo, hi, *raw_params],
            )
        )

    for start, end, offset in segments:
        shift = f"{int(offset):+d} minutes"
        if not aggregate:
            raw(start, end, shift)
            continue
        first_whole = start[:13] if start[13:] == ":00:00Z" else _next_hour(start[:13])
        last_whole = end[:13]  # exclusive
        if first_whole >= last_whole:
            raw(start, end, shift)
            continue
        out.extend(_hourly_by_local_day(db, first_whole, last_whole, offset, chan_sql, chan_params))
        raw(start, first_whole + ":00:00Z", shift)
        raw(last_whole + ":00:00Z", end, shift)
    return out


def _hourly_by_local_day(
    db: Database, first: str, last: str, offset: int, chan_sql: str, chan_params: list[Any]
) -> list[tuple[str, str, str, int]]:
    """comm_hourly over whole hours [first, last) ('YYYY-MM-DDTHH'), folded into local days
    for a whole-hour UTC `offset` (minutes): one primary-key range query per local day, each
    grouping a few hundred rows. A single GROUP BY date(hour_utc, shift) over the window
    sorts every hourly row instead (0.7 s against 0.3 s CPU for 400k hourly rows)."""
    from datetime import datetime, timedelta

    lo, hi = db.execute(
        "SELECT min(hour_utc), max(hour_utc) FROM comm_hourly WHERE hour_utc >= ? AND hour_utc < ?",
        (first, last),
    ).fetchone()
    if lo is None:
        return []
    fmt = "%Y-%m-%dT%H"
    cur = datetime.strptime(lo, fmt)
    stop = datetime.strptime(hi, fmt) + timedelta(hours=1)
    shift = timedelta(minutes=offset)
    sql = (
        "SELECT channel, direction, sum(n) FROM comm_hourly"
        f" WHERE hour_utc >= ? AND hour_utc < ?{chan_sql} GROUP BY 1, 2"
    )
    out: list[tuple[str, str, str, int]] = []
    while cur < stop:
        day = (cur + shift).date()
        nxt = min(datetime(day.year, day.month, day.day) + timedelta(days=1) - shift, stop)
        label = day.isoformat()
        out.extend(
            (label, channel, direction, n)
            for channel, direction, n in db.execute(
                sql, [cur.strftime(fmt), nxt.strftime(fmt), *chan_params]
            )
        )
        cur = nxt
    return out


def _next_hour(hour: str) -> str:
    from datetime import datetime, timedelta

    moment = datetime.strptime(hour, "%Y-%m-%dT%H") + timedelta(hours=1)
    return moment.strftime("%Y-%m-%dT%H")


def first_occurred(
    db: Database, agent: str | None = None, customer_id: int | None = None
) -> str | None:
    """The earliest occurred_at (for a filter the aggregate cannot serve), or None."""
    if agent is None and customer_id is None:
        first, _ = first_and_last_hour(db)
        return first + ":00:00Z" if first else None
    clauses: list[str] = []
    params: list[Any] = []
    if agent is not None:
        clauses.append("agent = ?")
        params.append(agent)
    if customer_id is not None:
        clauses.append("customer_id = ?")
        params.append(customer_id)
    return db.scalar(
        f"SELECT min(occurred_at) FROM communications WHERE {' AND '.join(clauses)}", params
    )
