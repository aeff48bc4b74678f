"""A labelled set of helpdesk texts in Chinese and English, built reproducibly for tests."""

from __future__ import annotations

import random

PHRASES: dict[str, list[str]] = {
    "billing": [
        "发票开错了",
        "重复扣款",
        "申请退款",
        "账单金额不对",
        "付款失败",
        "多收了费用",
        "invoice is wrong",
        "charged twice",
        "refund request",
        "billing amount incorrect",
        "payment failed",
        "overcharged on my card",
    ],
    "shipping": [
        "快递还没到",
        "物流信息不更新",
        "包裹丢失",
        "发货太慢",
        "收货地址写错",
        "快递员态度差",
        "package not delivered",
        "tracking number not updating",
        "parcel lost",
        "shipping is too slow",
        "wrong delivery address",
        "courier never came",
    ],
    "technical": [
        "无法登录",
        "应用闪退",
        "页面报错",
        "密码重置邮件收不到",
        "系统很卡",
        "上传文件失败",
        "cannot log in",
        "app crashes on start",
        "error page 500",
        "password reset email missing",
        "system is very slow",
        "file upload fails",
    ],
    "account": [
        "注销账号",
        "修改手机号",
        "更改绑定邮箱",
        "实名认证失败",
        "合并两个账户",
        "会员等级不对",
        "close my account",
        "change my phone number",
        "update account email",
        "identity verification failed",
        "merge two accounts",
        "membership level wrong",
    ],
}
FILLER = ["请尽快处理", "谢谢", "急", "please help", "thanks", "as soon as possible", "", ""]


def labelled_texts(n_per_class: int = 40, seed: int = 7) -> list[tuple[str, str]]:
    """n texts per category: one or two phrases of the category plus filler, shuffled."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for category, phrases in PHRASES.items():
        for _ in range(n_per_class):
            parts = rng.sample(phrases, k=rng.choice((1, 2))) + [rng.choice(FILLER)]
            rng.shuffle(parts)
            out.append((" ".join(p for p in parts if p), category))
    rng.shuffle(out)
    return out
