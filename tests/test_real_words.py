"""services/data/nl/real-words-near-catalogue.txt is what scripts/real_words_near_catalogue.py makes
of the word list today (about ten seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from services.routing.recognition.dutch import DEFAULT_REAL_WORDS_PATH
from tests.conftest import unavailable

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "real_words_near_catalogue.py"


@pytest.mark.long
def test_the_real_words_list_is_current() -> None:
    spec = importlib.util.spec_from_file_location("real_words_near_catalogue", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    if not script.WORD_LIST.is_file():
        unavailable(f"no Dutch word list at {script.WORD_LIST} (apt-get install wdutch)")
    assert Path(str(DEFAULT_REAL_WORDS_PATH)).read_text(encoding="utf-8") == script.generate(script.WORD_LIST), (
        "not current: run .venv/bin/python scripts/real_words_near_catalogue.py"
    )
