"""The data-quality scorecard: completeness and validity per field, duplicates, stale
customers and orphan records, rolled up into one score out of 100.

Score = 25 % completeness (mean filled share of name, phone, email, address, company, owner)
      + 25 % validity (mean valid share of the filled phones (E.164) and emails)
      + 20 % uniqueness (100 - duplicate rate)
      + 15 % freshness (100 - share of stale customers)
      + 15 % integrity (100 - share of orphan records).
Erased customers (GDPR) are left out: their personal fields are empty on purpose.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmcli.core.clock import to_iso
from crmcli.db import Database
from crmcli.db import reporting as sql
from crmcli.reports.model import ChartSpec, absent

WEIGHTS = {
    "completeness": 0.25,
    "validity": 0.25,
    "uniqueness": 0.20,
    "freshness": 0.15,
    "integrity": 0.15,
}
FUZZY_LIMIT = 20_000  # the fuzzy duplicate finder is pairwise-ish: beyond this, exact SQL only
FUZZY_THRESHOLD = 50  # = dedupe.DEFAULT_THRESHOLD: the groups `customer duplicates` reports
CHARTS: list[ChartSpec] = [
    {
        "section": "fields",
        "x": "field",
        "y": ["completeness_pct"],
        "kind": "bar",
        "title": "Completeness per field (%)",
    }
]


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def duplicates(db: Database, until: str, customers: int) -> dict[str, Any]:
    """Duplicate records: the customers-import engineer's fuzzy finder when it exists and the
    base is small enough, else exact matches (same phone, or same name and company)."""
    rows = sql.live_customer_rows(db, until, FUZZY_LIMIT)
    finder: Any = None
    if rows is not None:
        try:
            from crmcli.analytics import dedupe

            finder = dedupe.find_duplicate_groups
        except (ImportError, AttributeError):
            finder = None
    if finder is not None and rows is not None:
        groups = finder(rows, FUZZY_THRESHOLD)
        extra = sum(max(0, len(_members(g)) - 1) for g in groups)
        method = f"fuzzy (analytics.dedupe, threshold {FUZZY_THRESHOLD})"
    else:
        extra = sql.exact_duplicates(db, until)["duplicates"]
        method = "exact: same phone, or same name and company"
    return {
        "customers": customers,
        "duplicates": extra,
        "duplicate_rate_pct": _pct(extra, customers),
        "method": method,
    }


def _members(group: Any) -> list[Any]:
    if isinstance(group, dict):
        for key in ("ids", "members", "customers", "rows"):
            if key in group:
                return list(group[key])
        return []
    return list(group)


def quality_report(db: Database, until: str, stale_days: int = 180) -> dict[str, Any]:
    """The scorecard at `until` (stored-form UTC)."""
    fields = sql.field_quality(db, until)
    customers = fields["customers"]
    if not customers:
        reason = "no customers to score"
        return {
            "score": absent(reason),
            "fields": absent(reason),
            "duplicates": absent(reason),
            "staleness": absent(reason),
            "orphans": sql.orphan_counts(db),
        }
    field_rows = []
    for f in sql.QUALITY_FIELDS:
        row: dict[str, Any] = {
            "field": f,
            "filled": fields[f"{f}_filled"],
            "completeness_pct": _pct(fields[f"{f}_filled"], customers),
            "valid": None,
            "validity_pct": None,
        }
        if f in ("phone", "email"):
            row["valid"] = fields[f"{f}_valid"]
            row["validity_pct"] = _pct(fields[f"{f}_valid"], fields[f"{f}_filled"])
        if f == "phone":
            # valid only read in the default region, written like a NANP number (import #12)
            row["suspect"] = fields["phone_suspect"]
        field_rows.append(row)
    dup = duplicates(db, until, customers)
    cutoff = to_iso(_from(until) - timedelta(days=stale_days))
    stale = sql.stale_customers(db, until, cutoff)
    orphans = sql.orphan_counts(db)
    records = sum(o["records"] for o in orphans)
    orphan_total = sum(o["orphans"] for o in orphans)

    completeness = sum(r["completeness_pct"] or 0 for r in field_rows) / len(field_rows)
    validities = [r["validity_pct"] for r in field_rows if r["validity_pct"] is not None]
    components = {
        "completeness": completeness,
        "validity": sum(validities) / len(validities) if validities else 100.0,
        "uniqueness": 100 - (dup["duplicate_rate_pct"] or 0),
        "freshness": 100 - (_pct(stale["stale"], stale["eligible"]) or 0),
        "integrity": 100 - (_pct(orphan_total, records) or 0),
    }
    overall = sum(components[k] * w for k, w in WEIGHTS.items())
    score = {"overall": round(overall, 1)}
    score.update({k: round(float(v), 1) for k, v in components.items()})
    return {
        "score": score,
        "fields": field_rows,
        "duplicates": dup,
        "staleness": {
            "stale_days": stale_days,
            "eligible": stale["eligible"],
            "stale": stale["stale"],
            "stale_pct": _pct(stale["stale"], stale["eligible"]),
            "never_contacted": stale["never"],
        },
        "orphans": [
            {**o, "orphan_pct": _pct(o["orphans"], o["records"]) if o["records"] else 0.0}
            for o in orphans
        ],
    }


def _from(text: str):  # type: ignore[no-untyped-def]
    from crmcli.core.clock import from_iso

    return from_iso(text)
