"""A phone system's call log has no channel column: `comm import --channel phone` gives the
rows without one their channel (a channel cell still wins), and its Chinese headers
(通话时间, 通话时长) are read without --map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CALL_LOG = (
    "通话时间,电话,方向,通话时长,备注\r\n"
    "2024-01-05 10:00 +0800,138 0013 8000,呼入,00:05:30,报价\r\n"
    "2024-01-06 09:00,+1 (415) 555-0100,呼出,2m 5s,回访\r\n"
)


def test_a_call_log_without_a_channel_column(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    cli.ok("customer", "add", "--name", "张伟", "--phone", "13800138000")
    cli.ok("customer", "add", "--name", "Ann", "--phone", "+1 415 555 0100")
    src = tmp_path / "calls.csv"
    src.write_bytes(CALL_LOG.encode("gb18030"))
    refused = cli("comm", "import", str(src), "--customer-key", "phone")
    assert refused.exit_code == 2 and "no channel column" in refused.stderr
    cli.ok("comm", "import", str(src), "--customer-key", "phone", "--channel", "电话")
    rows = sql_rows(
        "SELECT customer_id, channel, direction, occurred_at, duration_s, content"
        " FROM communications ORDER BY occurred_at"
    )
    assert rows == [
        (1, "phone", "inbound", "2024-01-05T02:00:00Z", 330, "报价"),
        (2, "phone", "outbound", "2024-01-06T01:00:00Z", 125, "回访"),
    ]
    bad = cli("comm", "import", str(src), "--customer-key", "phone", "--channel", "pigeon")
    assert bad.exit_code == 2 and "channel" in bad.stderr


def test_a_channel_cell_wins_over_the_option(cli: Any, tmp_path: Path, sql_rows: Any) -> None:
    cli.ok("customer", "add", "--name", "Ann", "--email", "ann@example.com")
    src = tmp_path / "log.csv"
    src.write_text(
        "customer_email,channel,occurred_at\n"
        "ann@example.com,email,2024-01-05 10:00\n"
        "ann@example.com,,2024-01-06 10:00\n",
        encoding="utf-8",
    )
    cli.ok("comm", "import", str(src), "--channel", "meeting")
    got = [r[0] for r in sql_rows("SELECT channel FROM communications ORDER BY id")]
    assert got == ["email", "meeting"]
