"""Dutch word handling for product recognition: tokens, a light stemmer, compound splitting,
inflections and the word lists they use. Pure functions of a word (and a vocabulary); the
recognizer (services/routing/recognition.py) builds its index and scores with them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container, Iterator
from functools import lru_cache
from importlib.resources.abc import Traversable

from services.common.config import DATA


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MIN_PART = 3  # shortest compound part
MIN_HEAD = 4  # shortest part of a compound of which one part is unknown
# Verb and noun prefixes that are not compound modifiers.
PREFIXES = _words("aan achter be bij door ge her mee mis na om onder ont op over te tegen terug toe uit ver voor weg")
# Inseparable verb prefixes: "verhuizing" is not "ver" + "huis", even when the lexicon knows "ver".
INSEPARABLE = _words("be ge her ont ver")
#: Real Dutch words (from the OpenTaal word list) that are one typo away from a catalogue word;
#: the typo fallback leaves them alone ("nicht" is not a typo of "nacht").
DEFAULT_REAL_WORDS_PATH = DATA / "nl" / "real-words-near-catalogue.txt"
MIN_FUZZY = 5  # shortest word for which a one-typo correction is tried
STOPWORDS = _words(
    """
    aan al alle alles als alstublieft altijd andere ben bent betreft bij binnen 
    dag dan dank dat de deze die dit doe doen door dus een eens en er even
    ga gaan gaat geen graag had hadden hallo heb hebben hebt heeft hem hen het hier hij hoe
    hoi hun iemand iets ik in is ja je jij jou jouw jullie kan kun kunnen kunt
    laat laten maar me mee meer men met mij mijn moet moeten mogelijk mag mogen
    na naar niet nog nu of om omdat onder ons onze ook op over per s sinds
    te tegen toch toe tot u uit uw van vanuit veel via voor vraag vragen
    waar waarom wanneer wat we weer wel welk welke werd wie wij wil wilde willen wilt
    word worden wordt zal ze zeg zelf zich zij zijn zo zou zouden zullen
    ben was waren geweest graag eigenlijk hoeveel gewoon weet weten
    goedemorgen goedemiddag goedenavond bedankt dankjewel dankuwel mevrouw meneer
    daar daarom dus nou oke ok he eh sta staat staan stond ligt liggen lag zit zitten zat
    komt komen kwam ging gaan gedaan zeggen zegt denk denken vind vindt kunnen misschien
    echt heel erg zeer ergens niets niks dezelfde zelfde waarschijnlijk alweer steeds
    """
)

WEAK_WORDS = _words(
    """
    aanvraag aanvragen aanvraagen aanmelden nieuw nieuwe gemeente gemeentelijk gemeentelijke
    krijgen krijg regelen regel maken informatie info nodig hulp help helpen
    kopie doorgeven melden melding opgeven vinden zien kijken terecht loket betalen betaal
    jaar jaren maand maanden week weken dag dagen vandaag gisteren morgen vannacht straks
    binnenkort lang kort duurt duren klaar snel tijd keer vaak nooit altijd laatst pas
    man vrouw meneer zoon dochter moeder vader ouders oma opa buurman buurvrouw familie
    vriend vriendin mensen persoon ding dingen zaak probleem problemen antwoord brief mail
    email website online internet bellen gebeld contact goed slecht groot klein beetje
    plek weet gekregen gehad gemaakt gezien helemaal ander andere elke iedere
    """
)

# Separable verb prefixes, so that "opgehaald" can be read as "ophalen".
SEPARABLE = ("terug", "door", "weg", "mee", "aan", "uit", "op", "af", "in", "om", "na", "toe")
IRREGULAR = {
    "kinderen": "kind",
    "kinderopvang": "kinderopvang",
    "bladeren": "blad",
    "steden": "stad",
    "schepen": "schip",
    "eieren": "ei",
}
# Strong and irregular verbs: past participle (without ge-) and past tenses -> infinitive, so that
# "kwijtgescholden", "ingeschreven", "aangegeven", "gestolen" and "verloren" meet their verb.
# A compound or prefixed form keeps its front: "in" + "schreven" -> "inschrijven".
STRONG_VERBS = {
    "schelden": "scholden scold",
    "schrijven": "schreven schreef",
    "geven": "gaf gaven",
    "stelen": "stolen stal",
    "breken": "broken brak braken",
    "vinden": "vonden vond",
    "sterven": "storven stierf stierven",
    "verliezen": "verloren verloor",
    "blijven": "bleven bleef",
    "krijgen": "kregen kreeg",
    "trekken": "trokken trok",
    "nemen": "nomen nam namen",
    "komen": "kwam kwamen",
    "lopen": "liep liepen",
    "vallen": "viel vielen",
    "rijden": "reden reed",
    "sluiten": "sloten sloot",
    "binden": "bonden bond",
    "bijten": "beten beet",
    "wijzen": "wezen wees",
    "spreken": "sproken sprak",
    "wegen": "wogen woog",
    "kiezen": "kozen koos",
    "schieten": "schoten schoot",
    "vliegen": "vlogen vloog",
    "snijden": "sneden sneed",
    "drijven": "dreven dreef",
    "winnen": "wonnen won",
    "bieden": "boden bood",
    "liegen": "logen loog",
    "bedriegen": "bedrogen bedroog",
    "heffen": "heven hief",
    "lezen": "las",
    "slaan": "slagen sloeg",
    "dragen": "droeg droegen",
    "doen": "deed deden",
    "gaan": "ging gingen",
    "zien": "zag zagen",
    "staan": "stond stonden",
    "brengen": "bracht",
    "denken": "dacht",
    "kopen": "kocht",
    "zoeken": "zocht",
    "hangen": "hing",
    "vangen": "ving",
    "laten": "liet",
    "houden": "hield",
    "schuiven": "schoven schoof",
    "gieten": "goten goot",
    "sluipen": "slopen",
    "zwemmen": "zwommen zwom",
    "springen": "sprongen sprong",
    "zingen": "zongen zong",
    "dringen": "drongen drong",
    "scheiden": "scheed",
    "vriezen": "vroren vroor",
}
_STRONG_FORMS = sorted(
    ((form, inf) for inf, forms in STRONG_VERBS.items() for form in forms.split()),
    key=lambda t: -len(t[0]),
)
# Everyday words citizens use interchangeably; each folds onto the first word in stem().
EQUIVALENTS = {
    "kapot": ("stuk", "gebroken", "beschadigd", "defect", "kapotgemaakt", "kapotgegaan"),
    "kwijt": ("verloren", "zoekgeraakt", "kwijtgeraakt", "vermist"),
    "afval": ("vuilnis", "huisvuil"),
    "auto": ("wagen", "personenauto"),
    "lawaai": ("herrie", "kabaal", "lawaaierig"),
    "overleden": ("gestorven", "sterven", "overlijden", "doodgegaan", "sterft", "stierf"),
    "telefoon": ("mobiel", "gsm", "smartphone"),
    "bekeuring": ("boete",),
    "trouwen": ("huwen", "getrouwd", "trouw"),
    "ziek": ("ziekte", "parkinson", "alzheimer", "dementie", "kanker", "beroerte", "herseninfarct"),
    "boom": ("eik", "beuk", "berk", "populier", "wilg", "kastanje", "esdoorn", "linde", "conifeer"),
    "sport": ("voetbal", "hockey", "tennis", "turnen", "judo", "korfbal", "handbal", "zwemles"),
    "vaccinatie": ("inenting", "prik", "prikken", "vaccin"),
}
# Common compound parts that may not occur on their own in any name or synonym.
EXTRA_PARTS = _words(
    """
    afval vuil bak zak huis woning straat weg stoep boom kap bouw plan kaart pas kind ouder
    school belasting heffing vergunning ontheffing subsidie uitkering toeslag melding aangifte
    aanvraag verzoek parkeer parkeren plaats kosten auto fiets hond kat dier water riool put
    lamp licht paal bord bank tuin gras groen papier glas plastic textiel kleding grof
    container verlichting bestrijding inzameling ophalen ophaal dienst zorg hulp werk geld
    recht akte geboorte overlijden huwelijk trouw rijbewijs paspoort kaart markt terras feest
    evenement sport zwem speel vervoer taxi reis reizen leerling leerplicht jeugd oud oude
    nieuw extra los kapot vol gat tegel bewoner bezoeker invaliden gehandicapten ouderen
    """
)

# A separable particle closes its clause, or is followed by a preposition or conjunction.
PARTICLES = frozenset(SEPARABLE)
AFTER_PARTICLE = _words("aan bij in met naar op over van voor en of maar want omdat als want dus")
CLAUSE_RE = re.compile(r"[.,;:!?()]+")
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_APOSTROPHE_RE = re.compile(r"['\u2019`][a-z]{1,3}\b")
_VOWEL_PAIR_RE = re.compile(r"(aa|ee|oo|uu)")


def normalize(text: str) -> list[str]:
    """Lower-case, accent-free word tokens; clitics such as ``auto's`` and ``zzp'er`` lose
    their tail so they meet the bare word."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHE_RE.sub("", text)
    return _TOKEN_RE.findall(text)


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
