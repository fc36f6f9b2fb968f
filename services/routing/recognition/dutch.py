"""Dutch word handling for product recognition: tokens, a light stemmer, compound splitting and
inflections, with the word tables of services/data/nl/words.toml. Pure functions of a word (and
a vocabulary); the recognizer (services/routing/recognition/index.py) builds its index and scores with them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Container, Iterator
from functools import lru_cache
from importlib.resources.abc import Traversable

from services.common.config import DATA
from services.common.lexicon import normalize


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MIN_PART = 3  # shortest compound part
MIN_HEAD = 4  # shortest part of a compound of which one part is unknown
MIN_FUZZY = 5  # shortest word for which a one-typo correction is tried
#: Real Dutch words (from the OpenTaal word list) that are one typo away from a catalogue word;
#: the typo fallback leaves them alone ("nicht" is not a typo of "nacht").
DEFAULT_REAL_WORDS_PATH = DATA / "nl" / "real-words-near-catalogue.txt"
#: The word tables (prefixes, stop words, weak words, verbs, equivalents), edited as data.
_TABLES = tomllib.loads((DATA / "nl" / "words.toml").read_text(encoding="utf-8"))
PREFIXES = _words(_TABLES["prefixes"])
INSEPARABLE = _words(_TABLES["inseparable"])
STOPWORDS = _words(_TABLES["stopwords"])
WEAK_WORDS = _words(_TABLES["weak_words"])
SEPARABLE: tuple[str, ...] = tuple(_TABLES["separable"])
IRREGULAR: dict[str, str] = _TABLES["irregular"]
STRONG_VERBS: dict[str, str] = _TABLES["strong_verbs"]
_STRONG_FORMS = sorted(
    ((form, inf) for inf, forms in STRONG_VERBS.items() for form in forms.split()),
    key=lambda t: -len(t[0]),
)
EQUIVALENTS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _TABLES["equivalents"].items()}
EXTRA_PARTS = _words(_TABLES["extra_parts"])
AFTER_PARTICLE = _words(_TABLES["after_particle"])

# A separable particle closes its clause, or is followed by a preposition or conjunction.
PARTICLES = frozenset(SEPARABLE)
CLAUSE_RE = re.compile(r"[.,;:!?()]+")
_VOWEL_PAIR_RE = re.compile(r"(aa|ee|oo|uu)")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light Dutch stemmer: strips plural, diminutive, verbal and ``-ing`` endings and
    folds spelling alternations (z/s, v/f, doubled letters) so that ``verhuizen``,
    ``verhuisd`` and ``verhuizing`` all become ``verhuis``; everyday synonyms fold onto
    one word (``stuk``, ``defect`` -> ``kapot``).  It only has to be consistent between
    the catalogue and questions, not linguistically exact."""
    s = _stem(word)
    return _CANON.get(s, s)


def _stem(word: str) -> str:
    if word in IRREGULAR:
        word = IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    w = word
    for suffix, repl in (
        ("heden", "heid"),
        ("ingen", ""),
        ("tjes", ""),
        ("etje", ""),
        ("tje", ""),
        ("jes", ""),
        ("ing", ""),
        ("en", ""),
        ("je", ""),
        ("ers", "er"),
        ("els", "el"),
        ("ens", "en"),
        ("ems", "em"),
        ("e", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + repl
            break
    # past participles and verb forms of s/z stems: verhuisd, reisde
    # and of l/r/n stems: vervuild, betaald, verward
    if w.endswith("d") and ((len(w) > 4 and w[-2] in "sz") or (len(w) >= 6 and w[-2] in "lrn")):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    if w.endswith("z"):
        w = w[:-1] + "s"
    elif w.endswith("v"):
        w = w[:-1] + "f"
    return _VOWEL_PAIR_RE.sub(lambda m: m.group(0)[0], w)


_CANON = {_stem(k): _stem(v) for v, ks in EQUIVALENTS.items() for k in ks}
WEAK_STEMS = frozenset(stem(w) for w in WEAK_WORDS)


def deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def split_compound(word: str, vocab: Container[str], partial: bool = True) -> tuple[str, ...]:
    n = len(word)
    if n < 2 * MIN_PART:
        return (stem(word),)
    # best[i]: fewest-part split of word[i:]
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[n] = ()
    for i in range(n - MIN_PART, -1, -1):
        choice: tuple[str, ...] | None = None
        for j in range(n, i + MIN_PART - 1, -1):
            if i == 0 and j == n:
                continue  # the word itself is not a split
            piece = word[i:j]
            if i == 0 and piece in INSEPARABLE:
                continue
            ps = stem(piece)
            if ps not in vocab and piece not in vocab:
                continue
            for link in ("", "s", "e", "en"):
                k = j + len(link)
                if link and (k > n or word[j:k] != link):
                    continue
                rest = best[k] if k <= n else None
                if rest is None:
                    continue
                cand = (ps, *rest)
                if choice is None or len(cand) < len(choice):
                    choice = cand
        best[i] = choice
    if best[0]:
        return best[0]
    return (split_partial(word, vocab) if partial else None) or (stem(word),)


def split_partial(word: str, vocab: Container[str]) -> tuple[str, ...] | None:
    """A compound with one unknown part ("autowrak", "sleutelbos"): the known head (or,
    failing that, modifier) still says something, and the unknown part is kept so that it
    can become a word of its own on the catalogue side."""
    n = len(word)
    for i in range(MIN_HEAD, n - MIN_HEAD + 1):  # known head, longest first
        head = word[i:]
        if stem(head) in vocab:
            mod = word[:i]
            for link in ("en", "s", "e"):
                if mod.endswith(link) and len(mod) - len(link) >= MIN_HEAD:
                    mod = mod[: -len(link)]
                    break
            if mod in PREFIXES:
                return None  # "verhuizen" is not a kind of "huizen"
            return (stem(mod), stem(head))
    for j in range(n - MIN_HEAD, MIN_HEAD - 1, -1):  # known modifier, longest first
        mod = word[:j]
        if stem(mod) in vocab:
            rest = word[j:]
            for link in ("en", "s", "e"):
                if rest.startswith(link) and len(rest) - len(link) >= MIN_HEAD:
                    rest = rest[len(link) :]
                    break
            return (stem(mod), stem(rest))
    return None


def affix_variants(word: str) -> Iterator[str]:
    if len(word) < 4:
        return
    for form, inf in _STRONG_FORMS:
        if word.endswith(form):
            front = word[: -len(form)]
            if front.endswith("ge"):
                front = front[:-2]  # participle: (kwijt)ge(scholden)
            yield front + inf
            break
    if word[-1] in "td":
        yield word[:-1]
    for pre in ("", *SEPARABLE):
        if word.startswith(pre + "ge") and len(word) - len(pre) > 5:
            rest = pre + word[len(pre) + 2 :]
            yield rest
            if rest[-1] in "td":
                yield rest[:-1]
            yield rest + "en"
            if rest[-1] in "td":
                yield rest[:-1] + "en"


def content_words(text: str) -> list[str]:
    words = list(dict.fromkeys(normalize(text)))  # "nee nee sticker" has two slots
    content = [w for w in words if w not in STOPWORDS]
    return content or words


@lru_cache(maxsize=4)
def load_real_words(path: Traversable = DEFAULT_REAL_WORDS_PATH) -> frozenset[str]:
    """Words from a one-word-a-line list (``#`` comments); empty when the file is missing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))
