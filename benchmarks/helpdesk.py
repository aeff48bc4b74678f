"""A seeded helpdesk history for the classifier benchmark: N resolved tickets whose texts
look like real ones (a subject from the category's phrases, a description of two to four
sentences mixing category phrases, shared boilerplate, order numbers and product names),
about 10% of them carrying a misleading phrase of another category.

    python benchmarks/helpdesk.py --tickets 10000 --out benchmarks/data/helpdesk-10000.csv

Columns: external_id,customer_external_id,subject,description,category,status,created_at,
resolved_at - the `crm ticket import` contract.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

PHRASES = {
    "billing": ["发票开错了", "重复扣款", "申请退款", "账单金额不对", "付款失败", "多收了费用",
                "invoice is wrong", "charged twice", "refund request", "billing amount incorrect",
                "payment failed", "overcharged on my card", "VAT number missing on invoice",
                "优惠券没有抵扣", "subscription renewed without notice"],
    "delivery": ["快递还没到", "物流信息不更新", "包裹丢失", "发货太慢", "收货地址写错", "快递员态度差",
                 "package not delivered", "tracking number not updating", "parcel lost",
                 "shipping is too slow", "wrong delivery address", "courier never came",
                 "box arrived damaged", "少发了一件", "item missing from the order"],
    "technical": ["无法登录", "应用闪退", "页面报错", "密码重置邮件收不到", "系统很卡", "上传文件失败",
                  "cannot log in", "app crashes on start", "error page 500",
                  "password reset email missing", "system is very slow", "file upload fails",
                  "数据同步失败", "export to excel fails", "two-factor code never arrives"],
    "account": ["注销账号", "修改手机号", "更改绑定邮箱", "实名认证失败", "合并两个账户", "会员等级不对",
                "close my account", "change my phone number", "update account email",
                "identity verification failed", "merge two accounts", "membership level wrong",
                "权限申请", "add a colleague as admin", "change company name"],
    "complaint": ["服务态度太差", "投诉客服", "等了很久没人回复", "非常不满意", "要求经理回电",
                  "terrible service", "nobody answered for days", "I want to speak to a manager",
                  "very disappointed", "rude support agent", "承诺的事情没做到",
                  "this is the third time I write", "再不处理就去消协投诉", "unacceptable delay",
                  "worst experience so far"],
    "product": ["产品尺寸不对", "颜色和图片不一样", "质量有问题", "想了解新款", "配件怎么买",
                "size does not fit", "colour differs from the photo", "quality issue",
                "question about the new model", "where to buy spare parts", "说明书看不懂",
                "does it work with older versions", "product stopped working after a week",
                "保修期多久", "is there a bulk discount"],
}  # fmt: skip
BOILERPLATE = ["您好", "请尽快处理", "谢谢", "急", "Hello", "please help", "thanks in advance",
               "as soon as possible", "见附件截图", "see the attached screenshot", "客户反馈",
               "Best regards", "麻烦了", "looking forward to your reply"]  # fmt: skip
PRODUCTS = ["X100", "Pro Max", "智能手表", "蓝牙耳机", "Desk Lamp", "扫地机器人", "Router AX3000"]


def tickets(n: int, seed: int = 42) -> list[dict[str, str]]:
    rng = random.Random(seed)
    categories = sorted(PHRASES)
    weights = [3, 3, 4, 2, 1, 2]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        cat = rng.choices(categories, weights)[0]
        phrases = PHRASES[cat]
        sentences = rng.sample(phrases, k=rng.choice((1, 2, 2, 3)))
        sentences += rng.sample(BOILERPLATE, k=rng.choice((1, 2)))
        if rng.random() < 0.5:
            sentences.append(f"订单号 {rng.randrange(10**7, 10**8)} order {rng.choice(PRODUCTS)}")
        if rng.random() < 0.1:  # a misleading phrase of another category
            sentences.append(rng.choice(PHRASES[rng.choice([c for c in categories if c != cat])]))
        rng.shuffle(sentences)
        created = start + timedelta(minutes=rng.randrange(0, 600 * 24 * 60))
        rows.append(
            {
                "external_id": f"T{i + 1:06d}",
                "customer_external_id": f"C{rng.randrange(1, 2001):05d}",
                "subject": rng.choice(phrases),
                "description": "，".join(sentences) if rng.random() < 0.5 else ". ".join(sentences),
                "category": cat,
                "status": "resolved",
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resolved_at": (created + timedelta(hours=rng.randrange(1, 72))).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        )
    return rows


def customers_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["external_id", "name", "email"])
        for i in range(1, 2001):
            out.writerow([f"C{i:05d}", f"Customer {i}", f"c{i}@example.com"])


def write(path: Path, n: int, seed: int = 42) -> None:
    rows = tickets(n, seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    write(args.out, args.tickets, args.seed)
    customers_csv(args.out.with_name("helpdesk-customers.csv"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
