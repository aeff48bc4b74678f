"""Likely-duplicate customers, with the evidence behind every score.

`find_duplicate_groups(rows, threshold)` is a pure function over plain rows (mappings with
`id`, `name` and optionally `email`, `phone`, `company`, `address`, or tuples of those six in
that order, as the database streams them); `crm customer duplicates` and the data-quality
report both call it.

Scoring: a pair's score is the sum of its evidence, capped at 100 (WEIGHTS):

| evidence | points |
|---|---|
| same normalized email | 55 |
| same normalized phone | 50 |
| name | 35 x similarity (rapidfuzz ratio of the normalized names; below 80 it counts 0) |
| company | 10 x similarity (same after dropping Ltd / 有限公司 ...: 10; below 80: 0) |
| address | 25 x similarity (below 80, or other house numbers: 0) |

So the same name at the same company scores 45 and same name, company and address 70:
without a shared email or phone nothing reaches AUTO_MERGE_THRESHOLD (90). Pairs scoring at
least the threshold (default 50) are joined into groups strongest link first (a maximum
spanning forest); a group's score is its weakest link: the weakest of the links that hold it
together, so one member that shares only a phone with the rest pulls the group down to 50.

Blocking keeps the candidate pairs linear in the data: exact blocks on email and phone (each
member is paired with the block's first member, not with every other one), and fuzzy
comparisons only inside blocks that share (normalized company, first letter of the name),
(normalized address, first letter) or the exact normalized name; an oversized block is
compared in overlapping windows of its sorted members. A pair outside every block is never
scored (two spellings of a name that differ in their first letter, at different companies).
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

WEIGHTS = {"email": 55.0, "phone": 50.0, "name": 35.0, "company": 10.0, "address": 25.0}
SIMILAR = 80.0  # a fuzzy similarity below this counts nothing
AUTO_MERGE_THRESHOLD = 90.0
DEFAULT_THRESHOLD = 50.0
MAX_BLOCK = 400  # larger blocks are compared in sorted, overlapping windows of this size
SMALL_BLOCK = 8  # below this, plain pairwise calls beat a cdist matrix
MEDIUM_BLOCK = 64  # up to this, one extract_iter per member (no numpy); above, cdist
# ... but only for up to this many customers: on a million generated customers the
# extract_iter path peaked at 2.0 GB against 0.7 GB with cdist for every block (the same
# pairs, 7% less CPU); the cause was not traced.
MEDIUM_BLOCK_ROWS = 50_000
OUTPUT_FIELDS = ("id", "name", "email", "phone", "company", "address")
EVIDENCE_ORDER = ("email", "phone", "name", "company", "address")

_DIGITS = re.compile(r"\d+")
_NON_DIGIT = re.compile(r"\D")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_COMPANY_SUFFIX = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司)$"
    r"|\b(co|company|corp|corporation|inc|incorporated|llc|ltd|limited|gmbh|plc|group)\b\.?",
    re.IGNORECASE,
)


def name_match_key(text: str | None) -> str:
    """Case-folded words in sorted order ('Smith,  John' == 'john smith'; '张 伟' == '张伟')."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = [w for w in _NON_WORD.split(folded) if w]
    if all(_is_cjk(w) for w in words):
        return "".join(words)
    return " ".join(sorted(words))


def company_match_key(text: str | None) -> str:
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for _ in range(2):
        folded = _COMPANY_SUFFIX.sub(" ", folded).strip()
    return _NON_WORD.sub("", folded)


def address_match_key(text: str | None) -> str:
    if not text:
        return ""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def phone_match_key(text: str | None) -> str:
    """'+86 138-0013-8000' -> '+8613800138000' (a plus and the digits; '' if too short)."""
    digits = _NON_DIGIT.sub("", text or "")
    return "+" + digits if len(digits) >= 6 else ""


def _same(original: Any, normalized: str) -> str:
    return original if normalized == original else normalized


def _is_cjk(word: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)


def reason_of(evidence: Mapping[str, float]) -> str:
    """'same email, similar name' from a pair's evidence."""
    parts = []
    for kind in EVIDENCE_ORDER:
        if kind in evidence:
            same = kind in ("email", "phone") or evidence[kind] >= WEIGHTS[kind]
            parts.append(f"{'same' if same else 'similar'} {kind}")
    return ", ".join(parts)


class _Keys:
    """The normalized matching keys of every row (positions index the lists)."""

    def __init__(self) -> None:
        from rapidfuzz import fuzz

        self.ratio = fuzz.ratio
        self.names: list[str] = []
        self.companies: list[str] = []
        self.addresses: list[str] = []
        self.emails: list[str] = []
        self.phones: list[str] = []

    def evidence(self, i: int, j: int) -> dict[str, float]:
        """The pair's evidence: {kind: points} for the kinds that count."""
        found: dict[str, float] = {}
        if self.emails[i] and self.emails[i] == self.emails[j]:
            found["email"] = WEIGHTS["email"]
        if self.phones[i] and self.phones[i] == self.phones[j]:
            found["phone"] = WEIGHTS["phone"]
        for kind, values in (
            ("name", self.names),
            ("company", self.companies),
            ("address", self.addresses),
        ):
            a, b = values[i], values[j]
            if not a or not b:
                continue
            if a == b:
                found[kind] = WEIGHTS[kind]
                continue
            if kind == "address" and _DIGITS.findall(a) != _DIGITS.findall(b):
                continue  # house 58 and house 343 of one street are different places
            sim = self.ratio(a, b, score_cutoff=SIMILAR)
            if sim:
                found[kind] = round(WEIGHTS[kind] * sim / 100, 1)
        return found


def pair_score(evidence: Mapping[str, float]) -> float:
    return round(min(100.0, sum(evidence.values())), 1)


def _pairs(
    values: list[str], members: list[int], cutoff: float, medium: bool = True
) -> Iterable[tuple[int, int]]:
    """(i, j) for members whose values are at least `cutoff` similar."""
    from rapidfuzz import fuzz

    n = len(members)
    if n <= SMALL_BLOCK:
        for a in range(n):
            for b in range(a + 1, n):
                if fuzz.ratio(values[a], values[b], score_cutoff=cutoff):
                    yield members[a], members[b]
        return
    from rapidfuzz import process

    # No numpy import (~0.15 s) for the blocks of a small database.
    if medium and n <= MEDIUM_BLOCK:
        for a in range(n - 1):
            later = values[a + 1 :]
            for _, _, j in process.extract_iter(
                values[a], later, scorer=fuzz.ratio, score_cutoff=max(cutoff, 1)
            ):
                yield members[a], members[a + 1 + j]
        return
    import numpy as np

    matrix = process.cdist(
        values, values, scorer=fuzz.ratio, score_cutoff=max(cutoff, 1), dtype=np.uint8
    )
    rows, cols = np.nonzero(matrix)
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        if a < b:
            yield members[a], members[b]


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


class _Scorer:
    """Scores candidate pairs once each and keeps those at or above the threshold."""

    def __init__(self, keys: _Keys, threshold: float) -> None:
        self.keys = keys
        self.threshold = threshold
        self.size = len(keys.names) + 1
        self.seen: set[int] = set()  # i * size + j: an int is far smaller than a tuple
        self.edges: list[tuple[float, int, int, dict[str, float]]] = []

    def consider(self, i: int, j: int) -> None:
        if i > j:
            i, j = j, i
        key = i * self.size + j
        if i == j or key in self.seen:
            return
        self.seen.add(key)
        evidence = self.keys.evidence(i, j)
        score = pair_score(evidence)
        if score > 0 and score >= self.threshold:
            self.edges.append((score, i, j, evidence))


def find_duplicate_groups(
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    threshold: float = DEFAULT_THRESHOLD,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Groups of likely duplicates, strongest first.

    Each group: {"group": n (1-based), "score": its weakest link, "auto_merge": score >=
    AUTO_MERGE_THRESHOLD, "reason": "same email, similar name", "weakest_link": {a, b,
    score, evidence}, "links": [{a, b, score, evidence}, ...] (the links holding the group
    together, strongest first), "customers": [{id, name, email, phone, company, address}]}
    with customers in id order. `limit` keeps the first N groups.
    """
    if not 0 <= threshold <= 100:
        raise ValueError("threshold must be between 0 and 100")
    enabled = gc.isenabled()
    gc.disable()  # millions of small tuples: the cyclic collector would rescan them all
    try:
        return _find(rows, threshold, limit)
    finally:
        if enabled:
            gc.enable()


def _record(row: Mapping[str, Any] | Sequence[Any]) -> tuple[Any, ...]:
    """A row as a tuple in OUTPUT_FIELDS order (a tuple in that order is taken as it is)."""
    if isinstance(row, tuple):
        return row
    if isinstance(row, Mapping):
        return tuple(row.get(f) for f in OUTPUT_FIELDS)
    return tuple(row)


def _find(
    rows: Iterable[Mapping[str, Any] | Sequence[Any]], threshold: float, limit: int | None
) -> list[dict[str, Any]]:
    records: list[tuple[Any, ...]] = []
    keys = _Keys()
    first_email: dict[str, int] = {}
    first_phone: dict[str, int] = {}
    exact: list[tuple[int, int]] = []
    # Companies and names repeat: normalize each distinct text once and share its key.
    company_keys: dict[str, str] = {}
    name_keys: dict[Any, str] = {}
    for i, row in enumerate(rows):
        record = _record(row)
        records.append(record)
        # Each normalized key reuses the row's own string when normalizing changed nothing
        # (the usual case for stored data): a million rows fit in far less memory.
        name = name_keys.get(record[1])
        if name is None:
            name = name_keys[record[1]] = _same(record[1], name_match_key(record[1]))
        keys.names.append(name)
        company = record[4] or ""
        key = company_keys.get(company)
        if key is None:
            key = company_keys[company] = company_match_key(company)
        keys.companies.append(key)
        keys.addresses.append(_same(record[5], address_match_key(record[5])))
        email = _same(record[2], (record[2] or "").strip().lower())
        phone = _same(record[3], phone_match_key(record[3]))
        keys.emails.append(email)
        keys.phones.append(phone)
        if email and first_email.setdefault(email, i) != i:
            exact.append((first_email[email], i))
        if phone and first_phone.setdefault(phone, i) != i:
            exact.append((first_phone[phone], i))
    del first_email, first_phone, company_keys, name_keys
    scorer = _Scorer(keys, threshold)
    for i, j in exact:
        scorer.consider(i, j)
    del exact
    fuzzy_max = WEIGHTS["name"] + WEIGHTS["company"] + WEIGHTS["address"]
    if threshold <= fuzzy_max:
        _fuzzy(scorer, keys, threshold)
    return _collect(scorer.edges, records, limit)


def _fuzzy(scorer: _Scorer, keys: _Keys, threshold: float) -> None:
    names, companies, addresses = keys.names, keys.companies, keys.addresses
    by_company, by_address, by_name = _fuzzy_blocks(keys)
    # Same company (or address) after normalization and the same first letter of the name:
    # a pair is a candidate when the names are similar.
    for blocks in (by_company, by_address):
        _similar_names(scorer, blocks, names)
        # Freed as soon as used rather than when _fuzzy returns (large imports).
        blocks.clear()
    # The same name: a similar address (or, when the threshold is low enough for name +
    # company alone, a similar company) makes a candidate.
    fields: list[tuple[str, list[str]]] = [("address", addresses)]
    if threshold <= WEIGHTS["name"] + WEIGHTS["company"]:
        fields.insert(0, ("company", companies))
    for members in _blocks(by_name):
        for field, values in fields:
            _similar_values(scorer, members, field, values, addresses)


def _fuzzy_blocks(keys: _Keys) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Named rows blocked by company, by address, and (when either is known) by name."""
    names, companies, addresses = keys.names, keys.companies, keys.addresses
    # Blocks keyed by the normalized strings themselves (no new objects per row); a key
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
    return by_company, by_address, by_name


def _similar_names(scorer: _Scorer, blocks: dict[str, Any], names: list[str]) -> None:
    """Score the pairs with similar names inside each block, by first letter of the name."""
    for block in _blocks(blocks):
        by_letter: dict[str, list[int]] = defaultdict(list)
        for m in block:
            by_letter[names[m][0]].append(m)
        for members in by_letter.values():
            if len(members) < 2:
                continue
            # Identical names only need pairing with one of them (the group closes
            # through it): a block of 300 "John Smith" costs 300 pairs, not 45,000.
            reps, twins = _distinct(members, names)
            for rep, twin in twins:
                scorer.consider(rep, twin)
            _similar_in_windows(scorer, reps, names)


def _similar_values(
    scorer: _Scorer, members: list[int], field: str, values: list[str], addresses: list[str]
) -> None:
    """Score the pairs of one same-name block whose `field` values are similar."""
    having, _ = _distinct([m for m in members if values[m]], values)
    if len(having) < 2:
        return
    # Addresses are only compared when their numbers agree (a different house number is
    # a different address however similar the street).
    for part in _by_numbers(having, addresses) if field == "address" else [having]:
        _similar_in_windows(scorer, part, values)


def _similar_in_windows(scorer: _Scorer, members: list[int], values: list[str]) -> None:
    """Score the similar pairs of `members` by `values`, window by window."""
    for window in _windows(members, [values[m] for m in members]):
        medium = scorer.size <= MEDIUM_BLOCK_ROWS
        for i, j in _pairs([values[m] for m in window], window, SIMILAR, medium):
            scorer.consider(i, j)


def _by_numbers(members: list[int], addresses: list[str]) -> Iterable[list[int]]:
    """Members split by the numbers in their address, keeping parts of two or more."""
    parts: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for m in members:
        parts[tuple(_DIGITS.findall(addresses[m]))].append(m)
    return (p for p in parts.values() if len(p) > 1)


def _link(records: list[tuple[Any, ...]], edge: tuple[float, int, int, dict[str, float]]) -> dict:
    score, i, j, evidence = edge
    return {
        "a": records[i][0],
        "b": records[j][0],
        "score": score,
        "evidence": {k: evidence[k] for k in EVIDENCE_ORDER if k in evidence},
    }


def _collect(
    edges: list[tuple[float, int, int, dict[str, float]]],
    records: list[tuple[Any, ...]],
    limit: int | None,
) -> list[dict[str, Any]]:
    """Kruskal over the scored pairs: strongest first, a link joins two groups or is dropped."""
    edges.sort(key=lambda e: (-e[0], records[e[1]][0], records[e[2]][0]))
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        root = i
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(i, i) != root:
            parent[i], i = root, parent[i]
        return root

    used: dict[int, list[tuple[float, int, int, dict[str, float]]]] = {}
    for edge in edges:
        _, i, j, _ = edge
        a, b = find(i), find(j)
        if a == b:
            continue
        if b < a:
            a, b = b, a
        parent[b] = a
        links = used.setdefault(a, [])
        links.extend(used.pop(b, []))
        links.append(edge)
    members: dict[int, list[int]] = defaultdict(list)
    for i in parent.keys() | used.keys():
        members[find(i)].append(i)
    found = []
    for root, links in used.items():
        weakest = min(links, key=lambda e: (e[0], records[e[1]][0], records[e[2]][0]))
        positions = sorted(members[root], key=lambda p: records[p][0])
        found.append((weakest[0], len(positions), records[positions[0]][0], links, positions))
    found.sort(key=lambda g: (-g[0], -g[1], g[2]))
    if limit is not None:
        found = found[:limit]
    out = []
    for n, (score, _, _, links, positions) in enumerate(found, 1):
        kinds: dict[str, float] = {}
        for link in links:
            for kind, points in link[3].items():
                kinds[kind] = max(kinds.get(kind, 0.0), points)
        weakest = min(links, key=lambda e: (e[0], records[e[1]][0], records[e[2]][0]))
        out.append(
            {
                "group": n,
                "score": score,
                "auto_merge": score >= AUTO_MERGE_THRESHOLD,
                "reason": reason_of(kinds),
                "weakest_link": _link(records, weakest),
                "links": [
                    _link(records, e)
                    for e in sorted(links, key=lambda e: (-e[0], records[e[1]][0]))
                ],
                "customers": [dict(zip(OUTPUT_FIELDS, records[p], strict=True)) for p in positions],
            }
        )
    return out
