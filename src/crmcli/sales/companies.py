"""Company rules: the normalized name that identifies a company, domains, and which
company a customer belongs to (`--company-id`, `--company NAME`, `--link-by-domain`)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from crmcli.core.errors import InvalidInput, NotFound
from crmcli.db import Database
from crmcli.db import companies as repo

# Free-mail and ISP domains: an address there says nothing about the employer, so
# `--link-by-domain` never links by them (README "Companies" lists them).
FREE_MAIL_DOMAINS = frozenset(
    [
        "qq.com",
        "vip.qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "vip.163.com",
        "188.com",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "wo.cn",
        "tom.com",
        "21cn.com",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "protonmail.com",
        "proton.me",
        "zoho.com",
        "hey.com",
        "fastmail.com",
        "naver.com",
    ]
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def company_key(name: str) -> str:
    """The name that identifies a company: NFKC, whitespace folded, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def clean_name(name: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", name).split())
    if not text:
        raise InvalidInput("a company needs a name")
    return text


def normalize_domain(value: str | None) -> str | None:
    """'https://www.Acme.com/' -> 'acme.com'; empty is None; anything else not a domain
    is refused."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0].removeprefix("www.")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(f"invalid domain {value!r}") from None
    if not _DOMAIN.match(text):
        raise InvalidInput(f"invalid domain {value!r}; expected e.g. example.com")
    return text


def check_size(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"--size must not be negative, got {value}")
    return value


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def company_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate user-given company fields (None = not given)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key == "name":
            out["name"] = clean_name(value)
            out["name_key"] = company_key(value)
        elif key == "domain":
            out["domain"] = normalize_domain(value)
        elif key == "size":
            out["size"] = check_size(value)
        else:
            text = " ".join(str(value).split())
            out[key] = text or None
    return out


def resolve_customer_company(
    db: Database,
    *,
    company_id: int | None = None,
    name: str | None = None,
    create: bool = False,
    email: str | None = None,
    link_by_domain: bool = False,
) -> tuple[int | None, str | None, str | None]:
    """(company_id, company text, warning) for a customer being added or updated.

    `--company-id` names the company; `--company NAME` finds it by normalized name, creating
    it with `--create-company`; a NAME with no company and no `--create-company` is refused
    (NotFound, exit 3), never kept as unlinked text. `--link-by-domain` links by the
    email's domain unless it is a free-mail domain. (None, None, None): nothing to change.
    """
    if company_id is not None and name is not None:
        raise InvalidInput("give --company-id or --company, not both")
    if create and name is None:
        raise InvalidInput("--create-company needs --company NAME")
    if company_id is not None:
        return company_id, repo.company_name(db, company_id), None
    if name is not None:
        if not name.strip():
            return None, None, None
        found = repo.find_by_key(db, company_key(name))
        if found is not None:
            return found, repo.company_name(db, found), None
        if create:
            new_id = repo.add_company(db, company_values({"name": name}))
            return new_id, clean_name(name), None
        text = " ".join(name.split())
        raise NotFound(f"no company named {text!r}; --create-company creates it")
    if link_by_domain:
        domain = email_domain(email)
        if domain is None:
            return None, None, "--link-by-domain: no email to take a domain from"
        if domain in FREE_MAIL_DOMAINS:
            return None, None, f"--link-by-domain: {domain} is a free-mail domain; not linked"
        found = repo.find_by_domain(db, domain)
        if found is None:
            return None, None, f"--link-by-domain: no company with domain {domain}"
        return found, repo.company_name(db, found), None
    return None, None, None


def require_company(db: Database, company_id: int) -> None:
    try:
        repo.get_company(db, company_id)
    except NotFound:
        raise
