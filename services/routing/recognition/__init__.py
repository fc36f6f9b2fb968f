"""Product recognition: which UPL product (or other government body) a citizen's question is about.

`dutch` handles the words (normalising, stemming, compounds, separable verbs, the word tables in
`services/data/nl/words.toml`); `typos` and `splits` are its shared look-up tables; `index` holds a
catalogue's phrases and scores a question against them; `lexicon` loads the shipped catalogue and
lexicon for `kcc classify` and the tests. Routing builds one recognizer per distinct catalogue
(services/routing/recognizers.py).
"""

from services.routing.recognition.index import (
    CONFIDENCE_THRESHOLD,
    CatalogueEntry,
    ProductMatch,
    ProductRecognizer,
)

__all__ = ["CONFIDENCE_THRESHOLD", "CatalogueEntry", "ProductMatch", "ProductRecognizer"]
