"""Agents' corrections of recognition: the question as kept for learning, and the correction.

The question's text is never kept. RouteContact puts its content words and a keyed hash in the
contact.routed event; CompleteContact copies them, with what recognition said and what the agent
said, into the contact.completed event, which tenancy turns into lexicon suggestions. Personal
data stays out: a word with a digit or an `@` (phone numbers, postcodes, house numbers, e-mail
addresses) and a capitalised word the catalogue does not know (a name, most likely) are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as pb
from services.common.errors import failed_precondition, invalid_argument
from services.routing import referral
from services.routing.catalogue import TenantCatalogue
from services.routing.matching import ContactState
from services.routing.recognition import ProductRecognizer
from services.routing.recognition.dutch import STOPWORDS, normalize

MAX_WORDS = 24
MAX_WORD = 30
_RAW_RE = re.compile(r"\S+")


def question_words(text: str, recognizer: ProductRecognizer | None) -> list[str]:
    """The content words that matter, in order, without anything that may identify the caller."""
    out: list[str] = []
    for raw in _RAW_RE.findall(text):
        if any(ch.isdigit() or ch == "@" for ch in raw):
            continue
        capitalised = any(ch.isupper() for ch in raw)
        for word in normalize(raw):
            if word in STOPWORDS or len(word) > MAX_WORD:
                continue
            if capitalised and (recognizer is None or not recognizer.knows(word)):
                continue
            out.append(word)
    return out[:MAX_WORDS]


def question_hash(secret: str, text: str) -> str:
    """Keyed, so the same question counts once without the hash revealing it."""
    return hmac.new(secret.encode(), " ".join(normalize(text)).encode(), hashlib.sha256).hexdigest()[:32]


def correction(
    contact: ContactState, catalogue: TenantCatalogue, given: pb.Correction
) -> events_pb2.RecognitionCorrection:
    """What the agent said, checked against the tenant's catalogue and the referral bodies."""
    if not contact.question_hash:
        raise failed_precondition("CONTACT_NOT_RECOGNISED", "the contact was not routed by its question")
    if bool(given.product_uri) == bool(given.refer_to):
        raise invalid_argument("correction", "give exactly one of product_uri and refer_to")
    out = events_pb2.RecognitionCorrection(
        recognised_product_uri=contact.product_uri if contact.recognised else "",
        recognised_refer_to=contact.refer_to,
        question_words=contact.question_words,
        question_hash=contact.question_hash,
    )
    if given.refer_to:
        if given.refer_to not in referral.bodies():
            raise invalid_argument("correction.refer_to", f"not one of {', '.join(sorted(referral.bodies()))}")
        out.refer_to = given.refer_to
    else:
        product = catalogue.by_uri.get(given.product_uri) or catalogue.by_slug.get(
            given.product_uri.rstrip("/").rsplit("/", 1)[-1]
        )
        if product is None:
            raise invalid_argument("correction.product_uri", "not a product of this tenant")
        out.product_uri = product.uri
    return out
