"""Likely-duplicate customers: exact matches on normalised email or phone, and fuzzy matches
on a similar name plus the same or a similar company or address.

`find_duplicate_groups(rows, threshold)` is a pure function over plain rows (mappings with
`id`, `name` and optionally `email`, `phone`, `company`, `address`); `crm customer duplicates`
and the data-quality report both call it.

Scoring (0..100): exact email or phone = 100. Otherwise 60% name similarity + 40% similarity
of the better of company and address (rapidfuzz ratios on normalised text; a name alone is
never enough: two 张伟 at different companies are different people). Pairs at or above the
threshold are joined into groups (connected components); a group's score is its weakest link.

Blocking keeps it near-linear: fuzzy pairs are only compared inside blocks that share
(normalised company, first letter of the name), (normalised address, first letter) or the
exact normalised name; an oversized block is compared in overlapping windows of its sorted
members. Measured cost is dominated by the blocks of common names and companies.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

NAME_WEIGHT = 0.6
CONTEXT_WEIGHT = 0.4
MAX_BLOCK = 1500  # larger blocks are compared in sorted, overlapping windows of this size
SMALL_BLOCK = 8  # below this, plain pairwise calls beat a cdist matrix
OUTPUT_FIELDS = ("id", "name", "email", "phone", "company", "address")

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_COMPANY_SUFFIX = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司)$"
    r"|\b(co|company|corp|corporation|inc|incorporated|llc|ltd|limited|gmbh|plc|group)\b\.?",
    re.IGNORECASE,
)


def normalise_name(text: str | None) -> str:
    """Case-folded words in sorted order ('Smith,  John' == 'john smith'; '张 伟' == '张伟')."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = [w for w in _NON_WORD.split(folded) if w]
    if all(_is_cjk(w) for w in words):
        return "".join(words)
    return " ".join(sorted(words))


def normalise_company(text: str | None) -> str:
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for _ in range(2):
        folded = _COMPANY_SUFFIX.sub(" ", folded).strip()
    return _NON_WORD.sub("", folded)


def normalise_address(text: str | None) -> str:
    if not text:
        return ""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def normalise_phone(text: str | None) -> str:
    digits = re.sub(r"\D", "", text or "")
    return digits if len(digits) >= 6 else ""


def _is_cjk(word: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)


class _Groups:
    """Union-find over row positions, remembering each link's score and reason."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.links: list[tuple[int, int, float, str]] = []
        self.seen: set[tuple[int, int]] = set()

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(self, i: int, j: int, score: float, reason: str) -> None:
        pair = (i, j) if i < j else (j, i)
        if pair in self.seen:
            return
        self.seen.add(pair)
        self.links.append((pair[0], pair[1], score, reason))
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _pairs(
    values: list[str], members: list[int], cutoff: float
) -> Iterable[tuple[int, int, float]]:
    """(i, j, similarity) for members whose values are at least `cutoff` similar."""
    from rapidfuzz import fuzz

    n = len(members)
    if n <= SMALL_BLOCK:
        for a in range(n):
            for b in range(a + 1, n):
                sim = fuzz.ratio(values[a], values[b], score_cutoff=cutoff)
                if sim:
                    yield members[a], members[b], sim
        return
    import numpy as np
    from rapidfuzz import process

    matrix = process.cdist(
        values, values, scorer=fuzz.ratio, score_cutoff=max(cutoff, 1), dtype=np.uint8
    )
    rows, cols = np.nonzero(np.triu(matrix, k=1))
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        yield members[a], members[b], float(matrix[a, b])


def _windows(members: list[int], keys: list[str]) -> Iterable[list[int]]:
    """The block itself, or overlapping windows of it sorted by key when it is too big."""
    if len(members) <= MAX_BLOCK:
        yield members
        return
    ordered = [m for _, m in sorted(zip(keys, members, strict=True))]
    step = MAX_BLOCK // 2
    for start in range(0, len(ordered) - step, step):
        yield ordered[start : start + MAX_BLOCK]


def find_duplicate_groups(
    rows: Iterable[Mapping[str, Any]], threshold: float = 90.0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Groups of likely duplicates, strongest first.

    Each group: {"group": n (1-based), "score": 0..100, "reason": "same email, ...",
    "customers": [{id, name, email, phone, company, address}, ...]} with customers in id
    order. Exact email/phone matches are always reported; fuzzy ones when their score is at
    least `threshold`. `limit` keeps the first N groups.
    """
    if not 0 <= threshold <= 100:
        raise ValueError("threshold must be between 0 and 100")
    records: list[dict[str, Any]] = []
    names: list[str] = []
    companies: list[str] = []
    addresses: list[str] = []
    exact: dict[tuple[str, str], int] = {}
    pending_exact: list[tuple[int, int, str]] = []
    for i, row in enumerate(rows):
        records.append({f: row.get(f) for f in OUTPUT_FIELDS})
        names.append(normalise_name(row.get("name")))
        companies.append(normalise_company(row.get("company")))
        addresses.append(normalise_address(row.get("address")))
        email = (row.get("email") or "").strip().lower()
        for kind, value in (("email", email), ("phone", normalise_phone(row.get("phone")))):
            if value:
                first = exact.setdefault((kind, value), i)
                if first != i:
                    pending_exact.append((first, i, f"same {kind}"))
    exact.clear()
    groups = _Groups(len(records))
    for i, j, reason in pending_exact:
        groups.link(i, j, 100.0, reason)
    _fuzzy(groups, names, companies, addresses, threshold)
    return _collect(groups, records, limit)


def _fuzzy(
    groups: _Groups, names: list[str], companies: list[str], addresses: list[str], threshold: float
) -> None:
    by_company: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_address: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        if not name:
            continue
        if companies[i]:
            by_company[(companies[i], name[0])].append(i)
        if addresses[i]:
            by_address[(addresses[i], name[0])].append(i)
        if companies[i] or addresses[i]:
            by_name[name].append(i)
    # Same company (or address) after normalisation: the name decides.
    name_cutoff = max(0.0, (threshold - CONTEXT_WEIGHT * 100) / NAME_WEIGHT)
    for blocks, reason in (
        (by_company, "similar name + same company"),
        (by_address, "similar name + same address"),
    ):
        for members in blocks.values():
            if len(members) < 2:
                continue
            for window in _windows(members, [names[m] for m in members]):
                for i, j, sim in _pairs([names[m] for m in window], window, name_cutoff):
                    groups.link(i, j, round(NAME_WEIGHT * sim + CONTEXT_WEIGHT * 100, 1), reason)
    # Same name: the better of company and address similarity decides.
    context_cutoff = max(0.0, (threshold - NAME_WEIGHT * 100) / CONTEXT_WEIGHT)
    for members in by_name.values():
        if len(members) < 2:
            continue
        for field, values in (("company", companies), ("address", addresses)):
            having = [m for m in members if values[m]]
            if len(having) < 2:
                continue
            for window in _windows(having, [values[m] for m in having]):
                for i, j, sim in _pairs([values[m] for m in window], window, context_cutoff):
                    score = round(NAME_WEIGHT * 100 + CONTEXT_WEIGHT * sim, 1)
                    groups.link(i, j, score, f"same name + similar {field}")


def _collect(
    groups: _Groups, records: list[dict[str, Any]], limit: int | None
) -> list[dict[str, Any]]:
    members: dict[int, set[int]] = defaultdict(set)
    scores: dict[int, float] = {}
    reasons: dict[int, set[str]] = defaultdict(set)
    for i, j, score, reason in groups.links:
        root = groups.find(i)
        members[root].update((i, j))
        scores[root] = min(scores.get(root, 100.0), score)
        reasons[root].add(reason)
    found: list[tuple[float, list[dict[str, Any]], str]] = []
    for root, positions in members.items():
        customers = sorted((records[p] for p in positions), key=lambda r: r["id"])
        found.append((scores[root], customers, ", ".join(sorted(reasons[root]))))
    found.sort(key=lambda g: (-g[0], -len(g[1]), g[1][0]["id"]))
    if limit is not None:
        found = found[:limit]
    return [
        {"group": n, "score": score, "reason": reason, "customers": customers}
        for n, (score, customers, reason) in enumerate(found, 1)
    ]
