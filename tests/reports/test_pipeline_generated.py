"""`report pipeline` on a generated 2,000-deal history against a straightforward Python
reference: the deals as of a time (the report's and its backtest's), how far each got, and
the report's counts and amounts from those.

The history is bulk-written (SQL through crmcli.db, as benchmarks/bench_sales.py does):
deals created over 400 days, moved, won, lost, reopened and updated (amount changes), with
linked communications, so that many deals changed after the backtest's origin and some
after the as-of time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crmcli.db import connect
from crmcli.db import deals as repo

NOW = datetime(2026, 11, 1, tzinfo=UTC)
AS_OF = "2026-10-20T00:00:00Z"  # some deals changed after it
ORIGIN = "2026-07-01T00:00:00Z"
OPEN = ["lead", "qualified", "proposal", "negotiation"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(path: Path, n_deals: int = 2000) -> None:
    rng = random.Random(2000)
    db = connect(path)
    with db.transaction():
        stamp = iso(NOW - timedelta(days=500))
        db.executemany(
            "INSERT INTO customers(id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [(i, f"c{i}", stamp, stamp) for i in range(1, 301)],
        )
        deals, events, comms = [], [], []
        for d in range(1, n_deals + 1):
            at = NOW - timedelta(days=rng.random() * 400, seconds=rng.randrange(86400))
            created, owner = at, f"owner{rng.randrange(4)}"
            amount, close = rng.randrange(1, 500) * 1000, (at + timedelta(days=60)).date()
            prob: int | None = None
            stage, position, changed, won_at, lost_at = "lead", 0, at, None, None
            history = [(d, iso(at), "create", None, "lead", amount, close.isoformat(), None)]
            for _ in range(rng.randrange(7)):
                at += timedelta(days=rng.expovariate(1 / 12), seconds=rng.randrange(3600))
                if at >= NOW:
                    break
                roll, before = rng.random(), stage
                if stage in ("won", "lost"):
                    if roll > 0.3:
                        break
                    kind, stage = "reopen", OPEN[position]
                elif roll < 0.15:
                    kind, stage = "lost", "lost"
                elif roll < 0.3 and position >= 2:
                    kind, stage = "won", "won"
                elif roll < 0.45:
                    kind, amount, prob = "update", amount + 500, rng.choice([None, 35, 80])
                    close = close + timedelta(days=rng.randrange(-5, 20))
                else:
                    position = min(position + rng.choice([1, 1, 2]), 3)
                    kind, stage = "move", OPEN[position]
                if kind != "update":
                    changed = at
                    prob = None
                won_at = iso(at) if stage == "won" else None
                lost_at = iso(at) if stage == "lost" else None
                history.append((d, iso(at), kind, before, stage, amount, close.isoformat(), prob))
            events += history
            deals.append((d, rng.randrange(1, 301), f"deal {d}", amount, stage, close.isoformat(),
                          prob, owner, iso(created), history[-1][1], iso(changed), won_at,
                          lost_at))  # fmt: skip
            for _ in range(rng.choice([0, 0, 1, 2])):
                when = created + timedelta(days=rng.random() * 90)
                if when < NOW:
                    comms.append((deals[-1][1], iso(when), d, iso(when), iso(when)))
        db.executemany(
            "INSERT INTO deals(id, customer_id, title, amount, stage, close_date, probability,"
            " owner, created_at, updated_at, stage_changed_at, won_at, lost_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deals,
        )
        db.executemany(
            "INSERT INTO deal_events(deal_id, at, actor, kind, from_stage, to_stage, amount,"
            " close_date, probability) VALUES (?, ?, 'gen', ?, ?, ?, ?, ?, ?)",
            events,
        )
        db.executemany(
            "INSERT INTO communications(customer_id, channel, occurred_at, deal_id, created_at,"
            " updated_at) VALUES (?, 'phone', ?, ?, ?, ?)",
            comms,
        )
    db.close()


def julian(text: str | None) -> float | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.timestamp() / 86400 + 2440587.5


def reference_states(db: Any, t: str, owner: str | None = None) -> list[dict[str, Any]]:
    """Each deal as of t, from its row (not changed since) or else its events, by hand."""
    events: dict[int, list[dict[str, Any]]] = {}
    for e in db.query("SELECT * FROM deal_events ORDER BY id"):
        events.setdefault(e["deal_id"], []).append(e)
    last_comm: dict[int, str] = {}
    for m in db.query("SELECT deal_id, occurred_at FROM communications WHERE deal_id IS NOT NULL"):
        if m["occurred_at"] <= t and m["occurred_at"] > last_comm.get(m["deal_id"], ""):
            last_comm[m["deal_id"]] = m["occurred_at"]
    out = []
    for d in db.query("SELECT * FROM deals ORDER BY id"):
        if d["created_at"] > t or (owner and d["owner"] != owner):
            continue
        state = {k: d[k] for k in ("id", "title", "owner", "currency", "created_at")}
        if d["updated_at"] <= t:
            state |= {k: d[k] for k in ("stage", "amount", "close_date", "probability")}
            state["changed_at"] = d["stage_changed_at"]
        else:
            upto = sorted(
                (e for e in events[d["id"]] if e["at"] <= t), key=lambda e: (e["at"], e["id"])
            )
            last = upto[-1]
            state |= {"stage": last["to_stage"], "amount": last["amount"],
                      "close_date": last["close_date"], "probability": last["probability"]}  # fmt: skip
            moves = [e["at"] for e in upto if e["kind"] != "update"]
            state["changed_at"] = max(moves) if moves else None
        state["last_comm_at"] = last_comm.get(d["id"])
        out.append(state)
    return out


def reference_reached(db: Any, t: str) -> dict[int, int]:
    position = {"lead": 1, "qualified": 2, "proposal": 3, "negotiation": 4}
    out: dict[int, int] = {}
    for e in db.query("SELECT * FROM deal_events"):
        if e["at"] <= t and e["kind"] in ("create", "move", "reopen") and e["to_stage"] in position:
            out[e["deal_id"]] = max(out.get(e["deal_id"], 0), position[e["to_stage"]])
    return out


@pytest.fixture
def generated(db_path: Path) -> Path:
    build(db_path)
    return db_path


@pytest.mark.parametrize("t", [AS_OF, ORIGIN, iso(NOW)])
@pytest.mark.parametrize("owner", [None, "owner2"])
def test_deal_states_and_reached_against_reference(
    generated: Path, t: str, owner: str | None
) -> None:
    db = connect(generated)
    expected = reference_states(db, t, owner)
    got = repo.deal_states(db, t, owner)
    assert len(got) == len(expected) > 300
    assert sum(1 for s in expected if s["changed_at"] != s["created_at"]) > 100
    for g, e in zip(got, expected, strict=True):
        jd = {k: g.pop(k) for k in ("created_jd", "changed_jd", "last_comm_jd")}
        assert g == e
        assert jd["created_jd"] == pytest.approx(julian(e["created_at"]), abs=1e-8)
        assert jd["changed_jd"] == pytest.approx(julian(e["changed_at"]), abs=1e-8)
        assert (jd["last_comm_jd"] is None) == (e["last_comm_at"] is None)
    brief = ("id", "stage", "amount", "close_date", "probability")
    assert repo.deal_states(db, t, owner, brief=True) == [
        {k: e[k] for k in brief} for e in expected
    ]
    assert repo.reached_positions(db, t) == reference_reached(db, t)
    db.close()


def test_report_figures_against_reference(cli, generated: Path) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("report", "pipeline", "--as-of", AS_OF, "--since", "2026-04-01")
    db = connect(generated)
    states = reference_states(db, AS_OF)
    db.close()
    start, end = rep["period"]["since_at"], AS_OF
    since = datetime.fromisoformat(start).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    probability = {"lead": 10, "qualified": 25, "proposal": 50, "negotiation": 75}
    open_ = [s for s in states if s["stage"] in probability]
    won = [s for s in states if s["stage"] == "won" and since < s["changed_at"] <= end]
    lost = [s for s in states if s["stage"] == "lost" and since < s["changed_at"] <= end]
    weighted = sum(
        s["amount"]
        * (s["probability"] if s["probability"] is not None else probability[s["stage"]])
        / 100
        for s in open_
    )
    assert rep["totals"] == {
        "open_deals": len(open_),
        "open_amount": round(sum(s["amount"] for s in open_) / 100, 2),
        "weighted_amount": round(weighted / 100, 2),
        "won_deals": len(won),
        "won_amount": round(sum(s["amount"] for s in won) / 100, 2),
        "lost_deals": len(lost),
        "lost_amount": round(sum(s["amount"] for s in lost) / 100, 2),
    }
    assert min(len(open_), len(won), len(lost)) > 50
    assert {r["stage"]: r["deals"] for r in rep["by_stage"]} == {
        name: sum(1 for s in open_ if s["stage"] == name) for name in probability
    }
    t_jd = julian(AS_OF) or 0.0
    idle = []
    for s in open_:
        last = max(v for v in (s["changed_at"], s["last_comm_at"], s["created_at"]) if v)
        if t_jd - (julian(last) or 0.0) >= 30:
            idle.append((-round(t_jd - (julian(last) or 0.0), 1), s["id"]))
    assert [r["id"] for r in rep["stalled"]] == [i for _, i in sorted(idle)]
    assert len(rep["stalled"]) > 20
    # The terminal shows the first 20 and says how many there are.
    table = cli.ok("report", "pipeline", "--as-of", AS_OF, "--since", "2026-04-01")
    assert f"showing 20 of {len(idle):,}" in table
    assert sum(1 for line in table.splitlines() if "deal " in line) == 20
