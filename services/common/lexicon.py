"""The default lexicon: everyday phrases per UPL product (``services/data/upl/synonyms.tsv``), versioned.

Tenancy owns it (each tenant adds and suppresses phrases, and its snapshot carries the result);
``kcc classify`` without a tenant reads it offline. One parser for both.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources.abc import Traversable

from services.common.config import DATA

DEFAULT_PATH = DATA / "upl" / "synonyms.tsv"
VERSION_MARK = "# version:"
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_APOSTROPHE_RE = re.compile(r"['\u2019`][a-z]{1,3}\b")


def normalize(text: str) -> list[str]:
    """Lower-case, accent-free word tokens; clitics such as ``auto's`` and ``zzp'er`` lose
    their tail so they meet the bare word. Routing reads questions and phrases with it, and
    tenancy the words of corrections: the two must split alike."""
    text = text.lower()
    if not text.isascii():  # NFKD leaves ASCII as it is: most questions skip the character loop
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHE_RE.sub("", text)
    return _TOKEN_RE.findall(text)


@dataclass(frozen=True)
class Lexicon:
    version: str
    phrases: dict[str, tuple[str, ...]]  # UPL slug -> phrases, in file order


def parse(path: Traversable) -> Lexicon:
    """``slug<TAB>phrase, phrase, ...`` lines; a slug may repeat (merged); ``#`` comments."""
    version = ""
    merged: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if line.startswith(VERSION_MARK):
                version = line.removeprefix(VERSION_MARK).strip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, rest = line.partition("\t")
            if not sep:
                raise ValueError(f"{path}:{lineno}: expected 'slug<TAB>synonyms'")
            bucket = merged.setdefault(key.strip(), [])
            for phrase in rest.split(","):
                phrase = phrase.strip()
                if phrase and phrase not in bucket:
                    bucket.append(phrase)
    return Lexicon(version, {k: tuple(v) for k, v in merged.items()})


@lru_cache(maxsize=1)
def default() -> Lexicon:
    return parse(DEFAULT_PATH)
