"""Product lexicons: the phrases routing recognises a product by.

The default lexicon ships with tenancy, versioned (services/common/lexicon.py); a tenant adds
phrases of its own and suppresses default phrases it does not want, per product. The snapshot
carries the result for every product, so routing reads no lexicon of its own.
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import lexicon, names
from services.common.errors import invalid_argument
from services.tenancy.changes import touch
from services.tenancy.models import LexiconPhraseRow, ProductRow
from services.tenancy.store import Store, get_row, require_admin

RESOURCE = "lexicon"
ADD, SUPPRESS = "add", "suppress"
MAX_PHRASE = 200
MAX_PHRASES = 100  # per request and per list


def default_version() -> str:
    return lexicon.default().version


def upl_slug(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def phrases(default: tuple[str, ...], added: list[str], suppressed: list[str], own: list[str]) -> tuple[str, ...]:
    """What routing uses: the defaults less the suppressed, then the additions and the product's
    own synonyms (UpdateProduct), each phrase once."""
    gone = {p.casefold() for p in suppressed}
    kept = [p for p in default if p.casefold() not in gone]
    return tuple(dict.fromkeys([*kept, *added, *own]))


def changes(session: Session, tenant: str) -> dict[str, tuple[list[str], list[str]]]:
    """product id -> (added, suppressed), for compiling the snapshot."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    rows = session.exec(
        select(LexiconPhraseRow).where(LexiconPhraseRow.tenant == tenant).order_by(col(LexiconPhraseRow.create_time))
    )
    for row in rows:
        added, suppressed = out.setdefault(row.product, ([], []))
        (added if row.action == ADD else suppressed).append(row.phrase)
    return out


def product_phrases(row: ProductRow, change: tuple[list[str], list[str]] | None) -> tuple[str, ...]:
    added, suppressed = change or ([], [])
    own = json.loads(row.synonyms)
    return phrases(lexicon.default().phrases.get(upl_slug(row.upl_uri), ()), added, suppressed, own)


def message(row: ProductRow, change: tuple[list[str], list[str]] | None) -> pb.ProductLexicon:
    added, suppressed = change or ([], [])
    default = lexicon.default()
    return pb.ProductLexicon(
        name=f"tenants/{row.tenant}/products/{row.id}/lexicon",
        default_version=default.version,
        default_phrases=default.phrases.get(upl_slug(row.upl_uri), ()),
        added=added,
        suppressed=suppressed,
        phrases=product_phrases(row, change),
    )


def _parse(name: str) -> tuple[str, str]:
    if not name.endswith("/lexicon"):
        raise invalid_argument("name", "must be tenants/{tenant}/products/{product}/lexicon")
    tenant, product = names.parse("name", name.removesuffix("/lexicon"), "tenants", "products")
    return tenant, product


def _clean(field: str, items: list[str]) -> list[str]:
    if len(items) > MAX_PHRASES:
        raise invalid_argument(field, f"at most {MAX_PHRASES} phrases")
    out = []
    for i, item in enumerate(items):
        phrase = " ".join(item.split())
        if not 0 < len(phrase) <= MAX_PHRASE:
            raise invalid_argument(f"{field}[{i}]", f"must be 1..{MAX_PHRASE} characters")
        out.append(phrase)
    return out


async def get(store: Store, request: pb.GetProductLexiconRequest) -> pb.ProductLexicon:
    tenant, product = _parse(request.name)

    def work(session: Session) -> pb.ProductLexicon:
        row = get_row(session, tenant, ProductRow, product, request.name)
        return message(row, changes(session, tenant).get(product))

    return await store.read(work)


async def update(store: Store, request: pb.UpdateProductLexiconRequest) -> pb.ProductLexicon:
    """Adds, suppresses and resets phrases in one transaction; a suppressed phrase must be a default one."""
    require_admin()
    tenant, product = _parse(request.name)
    add, suppress = _clean("add", list(request.add)), _clean("suppress", list(request.suppress))
    reset = {p.casefold() for p in _clean("reset", list(request.reset))}

    def work(session: Session) -> pb.ProductLexicon:
        row = get_row(session, tenant, ProductRow, product, request.name)
        defaults = {p.casefold() for p in lexicon.default().phrases.get(upl_slug(row.upl_uri), ())}
        for i, phrase in enumerate(suppress):
            if phrase.casefold() not in defaults:
                raise invalid_argument(f"suppress[{i}]", "is not one of the product's default phrases")
        held = session.exec(
            select(LexiconPhraseRow).where(LexiconPhraseRow.tenant == tenant, LexiconPhraseRow.product == product)
        ).all()
        for old in held:
            if old.phrase.casefold() in reset or old.phrase.casefold() in {p.casefold() for p in add + suppress}:
                session.delete(old)
        session.flush()
        for action, items in ((ADD, add), (SUPPRESS, suppress)):
            for phrase in dict.fromkeys(items):
                session.add(LexiconPhraseRow(tenant=tenant, product=product, action=action, phrase=phrase))
        touch(session, tenant, RESOURCE, request.name)
        session.flush()
        return message(row, changes(session, tenant).get(product))

    return await store.write(tenant, work)
