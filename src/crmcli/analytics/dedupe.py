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
MAX_BLOCK = 400  # larger blocks are compared in sorted, overlapping windows of this size
SMALL_BLOCK = 8  # below this, plain pairwise calls beat a cdist matrix
OUTPUT_FIELDS = ("id", "name", "email", "phone", "company", "address")

_DIGITS = re.compile(r"\d+")
_NON_DIGIT = re.compile(r"\D")
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
    """'+86 138-0013-8000' -> '+8613800138000' (a plus and the digits; '' if too short)."""
    digits = _NON_DIGIT.sub("", text or "")
    return "+" + digits if len(digits) >= 6 else ""


def _same(original: Any, normalised: str) -> str:
    return original if normalised == original else normalised


def _is_cjk(word: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)


class _Groups:
    """Union-find over row positions; each group root keeps its score and reasons.

    A group's score is the weakest of the links that joined it (exact links come first, so
    a group held together by an email is not weakened by a redundant fuzzy link); every
    link's reason is kept. Memory stays O(rows): links are not stored.
    """

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.score: dict[int, float] = {}
        self.reasons: dict[int, set[str]] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(self, i: int, j: int, score: float, reason: str) -> None:
        a, b = self.find(i), self.find(j)
        if a == b:
            self.reasons[a].add(reason)
            return
        if b < a:
            a, b = b, a
        self.parent[b] = a
        reasons = self.reasons.setdefault(a, set())
        reasons.add(reason)
        if b in self.reasons:
            reasons.update(self.reasons.pop(b))
        self.score[a] = min(self.score.get(a, score), self.score.pop(b, score), score)


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


def _distinct(members: list[int], values: list[str]) -> tuple[list[int], list[tuple[int, int]]]:
    """(one member per distinct value, [(that member, another member with its value)])."""
    first: dict[str, int] = {}
    reps: list[int] = []
    twins: list[tuple[int, int]] = []
    for m in members:
        rep = first.setdefault(values[m], m)
        if rep == m:
            reps.append(m)
        else:
            twins.append((rep, m))
    return reps, twins


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
    records: list[tuple[Any, ...]] = []
    names: list[str] = []
    companies: list[str] = []
    addresses: list[str] = []
    first_email: dict[str, int] = {}
    first_phone: dict[str, int] = {}
    pending_exact: list[tuple[int, int, str]] = []
    company_keys: dict[str, str] = {}  # companies repeat: normalise each once, share the key
    for i, row in enumerate(rows):
        record = tuple(row.get(f) for f in OUTPUT_FIELDS)
        records.append(record)
        # Each normalised key reuses the row's own string when normalising changed nothing
        # (the usual case for stored data): a million rows fit in far less memory.
        names.append(_same(record[1], normalise_name(record[1])))
        company = record[4] or ""
        key = company_keys.get(company)
        if key is None:
            key = company_keys[company] = normalise_company(company)
        companies.append(key)
        addresses.append(_same(record[5], normalise_address(record[5])))
        email = _same(record[2], (record[2] or "").strip().lower())
        phone = _same(record[3], normalise_phone(record[3]))
        if email and first_email.setdefault(email, i) != i:
            pending_exact.append((first_email[email], i, "same email"))
        if phone and first_phone.setdefault(phone, i) != i:
            pending_exact.append((first_phone[phone], i, "same phone"))
    del first_email, first_phone, company_keys
    groups = _Groups(len(records))
    for i, j, reason in pending_exact:
        groups.link(i, j, 100.0, reason)
    del pending_exact
    _fuzzy(groups, names, companies, addresses, threshold)
    del names, companies, addresses
    return _collect(groups, records, limit)


def _add(blocks: dict[str, Any], key: str, i: int) -> None:
    members = blocks.get(key)
    if members is None:
        blocks[key] = i
    elif isinstance(members, int):
        blocks[key] = [members, i]
    else:
        members.append(i)


def _blocks(blocks: dict[str, Any]) -> Iterable[list[int]]:
    """The blocks with at least two members."""
    return (m for m in blocks.values() if not isinstance(m, int))


def _fuzzy(
    groups: _Groups, names: list[str], companies: list[str], addresses: list[str], threshold: float
) -> None:
    # Blocks keyed by the normalised strings themselves (no new objects per row); a key
    # seen once holds its row position, a list only from the second row on.
    by_company: dict[str, Any] = {}
    by_address: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if companies[i]:
            _add(by_company, companies[i], i)
        if addresses[i]:
            _add(by_address, addresses[i], i)
        if companies[i] or addresses[i]:
            _add(by_name, name, i)
    # Same company (or address) after normalisation and the same first letter of the name:
    # the name decides.
    name_cutoff = max(0.0, (threshold - CONTEXT_WEIGHT * 100) / NAME_WEIGHT)
    for blocks, reason in (
        (by_company, "similar name + same company"),
        (by_address, "similar name + same address"),
    ):
        for block in _blocks(blocks):
            by_letter: dict[str, list[int]] = defaultdict(list)
            for m in block:
                by_letter[names[m][0]].append(m)
            for members in by_letter.values():
                if len(members) < 2:
                    continue
                # Identical names only need linking to one of them (union-find closes the
                # group): a block of 300 "John Smith" costs 300 links, not 45,000 pairs.
                reps, twins = _distinct(members, names)
                for rep, twin in twins:
                    groups.link(rep, twin, 100.0, reason)
                for window in _windows(reps, [names[m] for m in reps]):
                    for i, j, sim in _pairs([names[m] for m in window], window, name_cutoff):
                        score = round(NAME_WEIGHT * sim + CONTEXT_WEIGHT * 100, 1)
                        groups.link(i, j, score, reason)
        blocks.clear()
    # Same name: the better of company and address similarity decides. Addresses that
    # differ in their numbers (house 58 vs 343 on the same street) are different places.
    context_cutoff = max(0.0, (threshold - NAME_WEIGHT * 100) / CONTEXT_WEIGHT)
    for members in _blocks(by_name):
        for field, values in (("company", companies), ("address", addresses)):
            # Rows with the same name and the same company / address were linked by the
            # blocks above: compare one row per distinct value.
            having, _ = _distinct([m for m in members if values[m]], values)
            if len(having) < 2:
                continue
            for part in _by_numbers(having, addresses) if field == "address" else [having]:
                for window in _windows(part, [values[m] for m in part]):
                    for i, j, sim in _pairs([values[m] for m in window], window, context_cutoff):
                        score = round(NAME_WEIGHT * 100 + CONTEXT_WEIGHT * sim, 1)
                        groups.link(i, j, score, f"same name + similar {field}")


def _by_numbers(members: list[int], addresses: list[str]) -> Iterable[list[int]]:
    """Members split by the numbers in their address, keeping parts of two or more."""
    parts: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for m in members:
        parts[tuple(_DIGITS.findall(addresses[m]))].append(m)
    return (p for p in parts.values() if len(p) > 1)


def _collect(
    groups: _Groups, records: list[tuple[Any, ...]], limit: int | None
) -> list[dict[str, Any]]:
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        root = groups.find(i)
        if root in groups.score:
            members[root].append(i)
    found = sorted(
        members.items(), key=lambda kv: (-groups.score[kv[0]], -len(kv[1]), records[kv[1][0]][0])
    )
    if limit is not None:
        found = found[:limit]
    return [
        {
            "group": n,
            "score": groups.score[root],
            "reason": ", ".join(sorted(groups.reasons[root])),
            "customers": sorted(
                (dict(zip(OUTPUT_FIELDS, records[p], strict=True)) for p in positions),
                key=lambda r: r["id"],
            ),
        }
        for n, (root, positions) in enumerate(found, 1)
    ]
