"""The UPL (Uniforme Productnamenlijst) as published: one parser for tenancy's import and routing's lexicon.

The CSV repeats a product once per legal basis, so products are deduplicated by URI; the
`Gemeente` column marks (with X) the products a gemeente provides. A malformed row is an
error naming its line, whether or not it is a gemeente product, so that a damaged file is
never half read.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from services.common import names, validation
from services.common.config import DATA, open_csv

UPL_CSV = DATA / "upl" / "UPL-actueel.csv"
NAME, URI, GEMEENTE = "UniformeProductnaam", "URI", "Gemeente"


@dataclass(frozen=True)
class UplProduct:
    line: int
    name: str
    uri: str


def slug(uri: str) -> str:
    """The URI's last segment: the product id, e.g. `paspoort`."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def row_problem(name: str, uri: str) -> tuple[str, str] | None:
    """(field, why) a row cannot be imported, or None; the client and the server check the same rules."""
    if not name.strip():
        return "name", "is required"
    if len(name.strip()) > validation.limit("display_name"):
        return "name", f"longer than {validation.limit('display_name')} characters"
    if not uri.startswith(("http://", "https://")) or not slug(uri) or len(uri) > validation.limit("upl_uri"):
        return "uri", f"must be an http(s) URI of at most {validation.limit('upl_uri')} characters"
    if not names.RESOURCE_ID.fullmatch(slug(uri)):
        return "uri", "must end in a valid product id (letters, digits and -_.())"
    return None


def read_upl_csv(
    path: Traversable = UPL_CSV, gemeente_only: bool = True, progress: Callable[[int], None] | None = None
) -> list[UplProduct]:
    """The products of the list, in file order; ValueError naming the line for a malformed row.

    `progress(n)` is called as rows are read (for a progress bar).
    """
    products: dict[str, UplProduct] = {}
    with open_csv(path) as handle:
        reader = csv.DictReader(handle)
        missing = {NAME, URI} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            if progress is not None:
                progress(1)
            name, uri = (row.get(NAME) or "").strip(), (row.get(URI) or "").strip()
            problem = row_problem(name, uri)
            if problem:
                raise ValueError(f"{path}, line {line}: {'URI' if problem[0] == 'uri' else 'name'} {problem[1]}")
            if gemeente_only and (row.get(GEMEENTE) or "").strip().upper() != "X":
                continue
            products.setdefault(uri, UplProduct(line, name, uri))
    return list(products.values())
