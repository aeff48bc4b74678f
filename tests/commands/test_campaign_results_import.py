"""`crm campaign import-results`: revenue only in the campaign's currency, no invented
response times, and one result per member (found by a tester: each stored a wrong value
and exited 0)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any


def test_results_keep_the_currency_the_time_and_one_row_per_member(
    cli: Any, add_customer: Any, tmp_path: Path, db_path: Path
) -> None:
    ids = {
        email: add_customer(name, email=email, tag="vip")
        for name, email in (("Alice", "alice@example.com"), ("Bob", "bob@example.com"),
                            ("张伟", "zw@example.cn"))
    }  # fmt: skip
    cli.ok("campaign", "create", "Spring", "--channel", "email")  # CNY, the default
    cli.ok("campaign", "target", "1", "--segment", "tag=vip")
    src = tmp_path / "r.csv"
    src.write_text(
        "customer_email,result,revenue,responded_at\n"
        "alice@example.com,success,$299.00,2024-03-05 10:00\n"  # dollars in a CNY campaign
        "bob@example.com,成功,¥12.50,yesterday-ish\n"  # a time that is no time
        'zw@example.cn,success,"1,234.00",2024-03-05\n'
        "zw@example.cn,failure,,2024-03-06\n",  # the same member again
        encoding="utf-8",
    )
    summary = cli.json("campaign", "import-results", "1", str(src))
    assert (summary["updated"], summary["duplicates"], summary["warnings"]) == (3, 1, 2)
    with sqlite3.connect(db_path) as con:
        stored = {
            cid: (result, revenue, at)
            for cid, result, revenue, at in con.execute(
                "SELECT customer_id, result, revenue, responded_at FROM campaign_members"
            )
        }
    assert stored[ids["alice@example.com"]][:2] == ("success", None)  # not 29900 "CNY"
    assert stored[ids["bob@example.com"]] == ("success", 1250, None)  # no invented time
    assert stored[ids["zw@example.cn"]][:2] == ("success", 123400)  # the first row stands
    with open(tmp_path / "r.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {(r["line"], r["field"]): r["reason"] for r in csv.DictReader(fh)}
    assert rows[("2", "revenue")] == "revenue '$299.00' is not in CNY, the campaign's currency"
    # the same file again changes nothing: unchanged, not "3 updated"
    again = cli.json("campaign", "import-results", "1", str(src))
    assert (again["updated"], again["unchanged"]) == (0, 3)
    assert ("3", "responded_at") in rows
    assert (
        rows[("5", "")] == f"duplicate of line 4 (the same member, customer {ids['zw@example.cn']})"
    )
