"""Country names -> ISO 3166-1 alpha-2 codes, for the country column of an import.

The names are pycountry's (the Debian iso-codes data): every ISO 3166 English short name,
official name and common name, the alpha-3 codes, and the names' translations in every
language iso-codes ships (Österreich, España, Sverige, Polska, México, Việt Nam, 中国, 日本,
대한민국, ...), plus the everyday names ISO does not list (England, Holland, USA, America,
Russia, 台湾, 韩国, ...). Matching is exact after folding case, punctuation, spacing and a
leading "the"; a name two countries share in one tier is no answer (nothing is guessed).

Tiers, the first that knows a name decides: this module's own everyday names, then the
English names, then the translations. A name that matches only without its accents
(Osterreich, Mexico) is looked up last, by the same rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

# Everyday names ISO 3166 does not list (or lists only in another language), folded.
_EVERYDAY = {
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "britain": "GB",
    "great britain": "GB",
    "uk": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "usa": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "us of a": "US",
    "russia": "RU",
    "korea": "KR",
    "south korea": "KR",
    "north korea": "KP",
    "czech republic": "CZ",
    "turkey": "TR",
    "ivory coast": "CI",
    "burma": "MM",
    "swaziland": "SZ",
    "macedonia": "MK",
    "cape verde": "CV",
    "east timor": "TL",
    "vatican": "VA",
    "vatican city": "VA",
    "palestine": "PS",
    "brunei": "BN",
    "macau": "MO",
    "laos": "LA",
    "syria": "SY",
    "moldova": "MD",
    "tanzania": "TZ",
    "venezuela": "VE",
    "micronesia": "FM",
    "uae": "AE",
    "emirates": "AE",
    "dr congo": "CD",
    "drc": "CD",
    "kosovo": "XK",
    "prc": "CN",
    "中国": "CN",
    "中華人民共和國": "CN",
    "中国大陆": "CN",
    "大陆": "CN",
    "中國": "CN",
    "香港": "HK",
    "中国香港": "HK",
    "台湾": "TW",
    "臺灣": "TW",
    "台灣": "TW",
    "中国台湾": "TW",
    "澳门": "MO",
    "澳門": "MO",
    "中国澳门": "MO",
    "韩国": "KR",
    "韓國": "KR",
    "南韩": "KR",
    "한국": "KR",
    "朝鲜": "KP",
    "北韩": "KP",
    "美国": "US",
    "美國": "US",
    "英国": "GB",
    "英國": "GB",
    "德国": "DE",
    "德國": "DE",
    "法国": "FR",
    "法國": "FR",
    "澳洲": "AU",
    "印尼": "ID",
    "俄国": "RU",
    "россия": "RU",
    "新西兰": "NZ",
}


_DROPPED = re.compile(r"[.'’`]")
_SEPARATORS = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """The matching form of a name: NFKC, case folded, dots and apostrophes dropped, other
    punctuation a space, '&' 'and', spaces folded, a leading 'the ' dropped."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    text = _SEPARATORS.sub(" ", _DROPPED.sub("", text)).strip()
    return text[4:] if text.startswith("the ") else text


def _unaccented(folded: str) -> str:
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(folded name -> code, unaccented folded name -> code): each name's code from the
    first tier that has it; names two codes share in that tier are left out."""
    import gettext
    import os

    import pycountry

    tiers: list[dict[str, set[str]]] = [{k: {v} for k, v in _EVERYDAY.items()}, {}, {}]
    english: list[tuple[str, str]] = []
    for country in pycountry.countries:
        code = country.alpha_2
        tiers[0].setdefault(fold(country.alpha_3), set()).add(code)
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                english.append((name, code))
                tiers[1].setdefault(fold(name), set()).add(code)
    translated: dict[str, set[str]] = {}
    locales = pycountry.LOCALES_DIR
    for lang in sorted(os.listdir(locales)):
        if not os.path.exists(os.path.join(locales, lang, "LC_MESSAGES", "iso3166-1.mo")):
            continue
        local = gettext.translation("iso3166-1", locales, languages=[lang]).gettext
        for name, code in english:
            translated.setdefault(local(name), set()).add(code)
    for name, codes in translated.items():
        tiers[2].setdefault(fold(name), set()).update(codes)

    def merge(key: Callable[[str], str]) -> dict[str, str]:
        out: dict[str, str] = {}
        decided: set[str] = set()
        for tier in tiers:
            grouped: dict[str, set[str]] = {}
            for name, codes in tier.items():
                grouped.setdefault(key(name), set()).update(codes)
            for name, codes in grouped.items():
                if name in decided or not name:
                    continue
                decided.add(name)
                if len(codes) == 1:
                    out[name] = next(iter(codes))
        return out

    return merge(str), merge(_unaccented)


@lru_cache(maxsize=1)
def _alpha_2() -> frozenset[str]:
    import pycountry

    return frozenset({c.alpha_2 for c in pycountry.countries} | {"XK"})


@lru_cache(maxsize=1024)
def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code a country cell names (an alpha-2 or alpha-3 code, an
    English, native or everyday name), or None: unknown, or a name of two countries."""
    folded = fold(value)
    if not folded:
        return None
    if len(folded) == 2 and folded.upper() in _alpha_2():
        return folded.upper()
    exact, unaccented = _tables()
    return exact.get(folded) or unaccented.get(_unaccented(folded))
