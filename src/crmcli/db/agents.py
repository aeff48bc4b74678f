"""Repository functions for helpdesk agents, their skills, and the settings they depend on."""

from __future__ import annotations

import sqlite3
from typing import Any

from crmcli.core.clock import now_iso
from crmcli.core.errors import Conflict, InvalidInput, NotFound
from crmcli.db import audit
from crmcli.db.database import Database

ACTIVE = "('open', 'in_progress', 'waiting')"


def _clean_skills(skills: list[str] | None) -> list[str]:
    out: list[str] = []
    for skill in skills or []:
        text = skill.strip()
        if text and text not in out:
            out.append(text)
    return out


def add_agent(
    db: Database,
    name: str,
    skills: list[str] | None = None,
    max_open: int | None = None,
    email: str | None = None,
) -> int:
    name = name.strip()
    if not name:
        raise InvalidInput("an agent needs a name")
    if max_open is not None and max_open < 1:
        raise InvalidInput("--max-open must be at least 1")
    skills = _clean_skills(skills)
    with db.transaction():
        try:
            cur = db.execute(
                "INSERT INTO agents(name, email, active, max_open, created_at)"
                " VALUES (?, ?, 1, ?, ?)",
                (name, email, max_open, now_iso()),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"an agent named {name!r} already exists") from None
        agent_id = int(cur.lastrowid or 0)
        db.executemany(
            "INSERT INTO agent_skills(agent_id, category) VALUES (?, ?)",
            [(agent_id, s) for s in skills],
        )
        audit.record(
            db, "create", "agent", agent_id, {"name": name, "skills": skills, "max_open": max_open}
        )
    return agent_id


def get_agent(db: Database, name: str) -> dict[str, Any]:
    rows = list_agents(db, name=name)
    if not rows:
        raise NotFound(f"no agent named {name!r}")
    return rows[0]


def list_agents(db: Database, name: str | None = None) -> list[dict[str, Any]]:
    """Agents with their skills and current load (tickets open, in progress or waiting)."""
    sql = (
        "SELECT a.id, a.name, a.email, a.active, a.max_open,"
        f" (SELECT count(*) FROM tickets t WHERE t.assignee = a.name AND t.status IN {ACTIVE})"
        " AS open_tickets, a.created_at FROM agents a"
    )
    params: list[Any] = []
    if name is not None:
        sql += " WHERE a.name = ?"
        params.append(name)
    rows = db.query(sql + " ORDER BY a.id", params)
    skills: dict[int, list[str]] = {r["id"]: [] for r in rows}
    for agent_id, category in db.execute(
        "SELECT agent_id, category FROM agent_skills ORDER BY agent_id, category"
    ):
        if agent_id in skills:
            skills[agent_id].append(category)
    for r in rows:
        r["active"] = bool(r["active"])
        r["skills"] = skills[r["id"]]
    return rows


def set_active(db: Database, name: str, active: bool) -> bool:
    """Enable or disable an agent; returns False when nothing changed."""
    with db.transaction():
        agent = get_agent(db, name)
        if agent["active"] == active:
            return False
        db.execute("UPDATE agents SET active = ? WHERE id = ?", (int(active), agent["id"]))
        audit.record(db, "enable" if active else "disable", "agent", agent["id"], {"name": name})
    return True


def update_agent(
    db: Database,
    name: str,
    skills: list[str] | None = None,
    max_open: int | None = None,
    clear_max_open: bool = False,
) -> dict[str, Any]:
    """Replace an agent's skills and/or change its open-ticket limit."""
    if max_open is not None and max_open < 1:
        raise InvalidInput("--max-open must be at least 1")
    with db.transaction():
        agent = get_agent(db, name)
        changes: dict[str, Any] = {}
        if skills is not None:
            new = _clean_skills(skills)
            db.execute("DELETE FROM agent_skills WHERE agent_id = ?", (agent["id"],))
            db.executemany(
                "INSERT INTO agent_skills(agent_id, category) VALUES (?, ?)",
                [(agent["id"], s) for s in new],
            )
            changes["skills"] = [agent["skills"], new]
        if max_open is not None or clear_max_open:
            db.execute("UPDATE agents SET max_open = ? WHERE id = ?", (max_open, agent["id"]))
            changes["max_open"] = [agent["max_open"], max_open]
        if changes:
            audit.record(db, "update", "agent", agent["id"], {"changes": changes})
    return get_agent(db, name)


def read_settings(db: Database, prefix: str) -> dict[str, str]:
    """Settings whose key starts with `prefix`."""
    rows = db.execute(
        "SELECT key, value FROM settings WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
    )
    return {k: v for k, v in rows}


def write_setting(db: Database, key: str, value: str) -> None:
    """Upsert one setting (call inside the caller's transaction)."""
    db.execute(
        "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, now_iso()),
    )
