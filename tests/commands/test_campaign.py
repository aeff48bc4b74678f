"""`crm campaign ...` through the real CLI: lifecycle, seeded targeting, results, evaluation
(numbers equal statsmodels / scipy), planning, suggestions, and a shell-script run."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)


def make_customers(add_customer: Any, n: int, tag: str = "vip") -> list[int]:
    return [add_customer(f"c{i}", tag=tag) for i in range(n)]


def test_create_list_show_update_close(cli: Any) -> None:
    cid = cli.json("campaign", "create", "Spring sale", "--channel", "邮件", "--cost", "1,200.50")
    assert cid == {"id": 1}
    listed = cli.json("campaign", "list")
    assert listed[0]["name"] == "Spring sale" and listed[0]["channel"] == "email"
    assert listed[0]["cost"] == 1200.5 and listed[0]["status"] == "draft"
    changed = cli.json("campaign", "update", "1", "--cost", "1500", "--description", "SMS too")
    assert {r["field"] for r in changed} == {"cost", "description"}
    shown = cli.json("campaign", "show", "1")
    assert shown["cost"] == 1500.0 and shown["members"] == [] and shown["arms"] == []
    assert cli.json("campaign", "close", "1")["status"] == "closed"
    again = cli("campaign", "close", "1")
    assert again.exit_code == 4 and "already closed" in again.stderr
    assert cli("campaign", "update", "1", "--cost", "1").exit_code == 4
    assert cli("campaign", "show", "99").exit_code == 3
    bad = cli("campaign", "create", "X", "--channel", "pigeon")
    assert bad.exit_code == 2 and "channel" in bad.stderr
    assert cli.json("campaign", "list", "--status", "active") == []


def test_target_is_reproducible_with_a_seed(cli: Any, add_customer: Any) -> None:
    ids = make_customers(add_customer, 40)
    add_customer("other", tag="trial")
    for name in ("one", "two", "three"):
        cli.ok("campaign", "create", name, "--channel", "sms")
    args = ["--segment", "tag=vip", "--variants", "A,B", "--control", "0.25", "--sample", "30"]
    first = cli.json("campaign", "target", "1", *args, "--seed", "42")
    second = cli.json("campaign", "target", "2", *args, "--seed", "42")
    third = cli.json("campaign", "target", "3", *args, "--seed", "43")
    assert first["members"] == 30 and first["arms"] == {"control": 8, "A": 11, "B": 11}
    assert second["arms"] == first["arms"] and third["seed"] == 43

    def arms(campaign: int) -> dict[int, str]:
        shown = cli.json("campaign", "show", str(campaign), "--members", "0")
        return {m["customer_id"]: m["variant"] for m in shown["members"]}

    assert arms(1) == arms(2)
    assert arms(1) != arms(3)
    # The documented algorithm, replayed independently.
    rng = random.Random(42)
    sample = sorted(rng.sample(sorted(ids), 30))
    rng.shuffle(sample)
    expected = {c: "control" for c in sample[:8]}
    expected |= {c: "AB"[i % 2] for i, c in enumerate(sample[8:])}
    assert arms(1) == expected
    # Targeting again needs --replace; a bad segment names the column.
    assert cli("campaign", "target", "1", "--segment", "tag=vip").exit_code == 4
    bad = cli("campaign", "target", "1", "--segment", "tag=vip and bogus>1", "--replace")
    assert bad.exit_code == 2 and "column 13" in bad.stderr
    assert cli("campaign", "target", "1", "--segment", "tag=nobody", "--replace").exit_code == 2


def test_results_and_evaluation_equal_statsmodels(
    cli: Any, add_customer: Any, tmp_path: Path
) -> None:
    make_customers(add_customer, 60)
    cli.ok("campaign", "create", "Test", "--channel", "email", "--cost", "100")
    cli.ok(
        "campaign",
        "target",
        "1",
        "--segment",
        "tag=vip",
        "--variants",
        "A,B",
        "--control",
        "0.2",
        "--seed",
        "1",
    )
    members = cli.json("campaign", "show", "1", "--members", "0")["members"]
    by_arm: dict[str, list[int]] = {}
    for m in members:
        by_arm.setdefault(m["variant"], []).append(m["customer_id"])
    wins = {"A": 3, "B": 9, "control": 1}
    lines = ["customer_id,result,revenue"]
    for arm, customers in by_arm.items():
        for i, customer in enumerate(customers):
            lines.append(
                f"{customer},{'成功' if i < wins[arm] else '失败'},{50 if i < wins[arm] else ''}"
            )
    lines.append("9999,success,1")  # not a member -> rejected
    lines.append(f"{by_arm['A'][0]},maybe,1")  # bad result -> rejected
    results = tmp_path / "results.csv"
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pending = cli.json("campaign", "evaluate", "1")
    # --dry-run counts and changes nothing; --strict refuses the file because of 2 rejects.
    dry = cli.json("campaign", "import-results", "1", str(results), "--dry-run")
    assert dry["dry_run"] is True and dry["updated"] == 60 and dry["rejected"] == 2
    strict = cli("campaign", "import-results", "1", str(results), "--strict")
    assert strict.exit_code == 2 and "nothing imported (--strict)" in strict.stderr
    assert cli.json("campaign", "evaluate", "1") == pending
    summary = cli.json("campaign", "import-results", "1", str(results))
    assert summary["updated"] == 60 and summary["rejected"] == 2
    assert cli("campaign", "result", "1", "9999", "success").exit_code == 3
    cli.ok("campaign", "result", "1", str(by_arm["B"][-1]), "成功", "--revenue", "50")
    wins["B"] += 1

    report = cli.json("campaign", "evaluate", "1")
    arms = {a["variant"]: a for a in report["arms"]}
    n = {k: len(v) for k, v in by_arm.items()}
    for arm in ("A", "B", "control"):
        assert arms[arm]["members"] == n[arm] and arms[arm]["responses"] == wins[arm]
        low, high = proportion_confint(wins[arm], n[arm], method="wilson")
        assert arms[arm]["conversion_low"] == pytest.approx(low, rel=1e-9)
        assert arms[arm]["conversion_high"] == pytest.approx(high, rel=1e-9)
    comparisons = {c["comparison"]: c for c in report["comparisons"]}
    b_vs_a = comparisons["B vs A"]
    z, p = proportions_ztest([wins["B"], wins["A"]], [n["B"], n["A"]])
    assert b_vs_a["z"] == pytest.approx(z, rel=1e-9) and b_vs_a["p_value"] == pytest.approx(p)
    table = [[wins["B"], n["B"] - wins["B"]], [wins["A"], n["A"] - wins["A"]]]
    assert b_vs_a["chi2_p_value"] == pytest.approx(chi2_contingency(table)[1], rel=1e-9)
    assert set(comparisons) == {"A vs control", "B vs control", "B vs A"}
    s = report["summary"]
    assert s["revenue"] == 50.0 * (wins["A"] + wins["B"]) and s["cost"] == 100.0
    assert s["roi"] == pytest.approx((s["revenue"] - 100) / 100)
    if b_vs_a["p_value"] < 0.05:
        assert s["verdict"] == "B beats A at 95%"
    else:
        needed = NormalIndPower().solve_power(
            effect_size=proportion_effectsize(wins["B"] / n["B"], wins["A"] / n["A"]),
            alpha=0.05,
            power=0.8,
        )
        more = int(-(-needed // 1)) - min(n["A"], n["B"])
        assert s["verdict"].startswith(f"not significant yet: about {more} more members")


def test_plan_equals_statsmodels(cli: Any) -> None:
    plan = cli.json("campaign", "plan", "--baseline", "0.05", "--lift", "0.01")["plan"]
    needed = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.06, 0.05), alpha=0.05, power=0.8
    )
    assert plan["per_arm"] == int(-(-needed // 1)) == 8143
    relative = cli.json("campaign", "plan", "--baseline", "0.05", "--lift", "20%")["plan"]
    assert relative["per_arm"] == plan["per_arm"]
    assert cli("campaign", "plan", "--baseline", "1.5", "--lift", "0.01").exit_code == 2


def test_suggest_needs_history_then_ranks_responders_first(cli: Any, add_customer: Any) -> None:
    hot = [add_customer(f"h{i}", tag="hot") for i in range(30)]
    cold = [add_customer(f"k{i}", tag="cold") for i in range(30)]
    too_little = cli("campaign", "suggest", "--segment", "tag=hot or tag=cold")
    assert too_little.exit_code == 1 and "too little campaign history" in too_little.stderr
    cli.ok("campaign", "create", "Past", "--channel", "email")
    cli.ok("campaign", "target", "1", "--segment", "tag=hot or tag=cold", "--seed", "3")
    for i, customer in enumerate(hot):
        cli.ok("campaign", "result", "1", str(customer), "failure" if i % 6 == 0 else "success")
    for i, customer in enumerate(cold):
        cli.ok("campaign", "result", "1", str(customer), "success" if i % 6 == 0 else "failure")
    report = cli.json("campaign", "suggest", "--segment", "tag=hot or tag=cold", "--top", "10")
    assert report["model"]["training_rows"] == 60
    assert report["model"]["cv_auc"] > 0.75  # 5/6 of each tag behaves like its tag
    assert {c["customer_id"] for c in report["customers"]} <= set(hot)


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("jq") is None, reason="needs bash and jq"
)
def test_campaign_from_a_shell_script(tmp_path: Path) -> None:
    crm = Path(sys.executable).with_name("crm")
    script = tmp_path / "campaign.sh"
    script.write_text(
        rf"""#!/usr/bin/env bash
set -euo pipefail
crm={crm}
for i in $(seq 1 20); do $crm customer add --name "c$i" --tag vip > /dev/null; done
id=$($crm --format json campaign create "Shell run" --channel sms --cost 80 | jq -r .id)
$crm --format json campaign target "$id" --segment 'tag=vip' --variants A,B --seed 9 > /dev/null
{{ echo "customer_id,result,revenue"
  $crm --format json campaign show "$id" --members 0 |
    jq -r '.members[] | select(.variant=="B") | "\(.customer_id),成功,20"'; }} > results.csv
$crm --format json campaign import-results "$id" results.csv | jq -e '.rejected == 0' > /dev/null
$crm --format json campaign evaluate "$id" > evaluation.json
$crm --format json campaign close "$id" | jq -r .status
""",
        encoding="utf-8",
    )
    env = {**os.environ, "CRM_DB": str(tmp_path / "shell.db")}
    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    arms = {a["variant"]: a for a in evaluation["arms"]}
    assert arms["B"]["responses"] == arms["B"]["members"] == 10
    assert arms["A"]["responses"] == 0
    assert evaluation["summary"]["verdict"] == "B beats A at 95%"
    assert evaluation["summary"]["revenue"] == 200.0


def test_an_end_date_includes_its_whole_local_day(cli) -> None:  # type: ignore[no-untyped-def]
    made = cli.json("campaign", "create", "Spring", "--channel", "email", "--starts", "2024-04-01")
    cli.ok("campaign", "update", str(made["id"]), "--ends", "2024-04-30")
    shown = cli.json("campaign", "show", str(made["id"]))
    # CRM_TZ is Asia/Shanghai in tests: the last second of 30 April, local time.
    assert shown["ends_at"] == "2024-04-30T23:59:59+08:00"
    assert shown["starts_at"] == "2024-04-01T00:00:00+08:00"
    cli.ok("campaign", "update", str(made["id"]), "--ends", "2024-04-30 18:00")
    assert cli.json("campaign", "show", str(made["id"]))["ends_at"] == "2024-04-30T18:00:00+08:00"
