"""Regenerates services/data/nl/real-words-near-catalogue.txt from a Dutch word list.

The typo fallback of recognition leaves these words alone ("nicht" is not a typo of "nacht"):
real Dutch words one typo away from a word of the recognizer as routing builds it for a tenant
with the default lexicon (the 450 UPL gemeente products and the referral topics). Regenerate
after a change of the lexicon, the referral topics or services/data/nl/words.toml; the test
tests/test_real_words.py fails while the file is not current. Takes about ten seconds.

    .venv/bin/python scripts/real_words_near_catalogue.py [--word-list /usr/share/dict/dutch] [--check]

The word list is OpenTaal's as packaged by Debian (`apt-get install wdutch`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.routing.recognition import ProductRecognizer  # noqa: E402
from services.routing.recognition.dutch import DEFAULT_REAL_WORDS_PATH  # noqa: E402
from services.routing.recognition.lexicon import default_catalogue, real_words_near  # noqa: E402
from services.routing.referral import topic_entries  # noqa: E402

WORD_LIST = Path("/usr/share/dict/dutch")
HEADER = (
    "# Real Dutch words one typo away from a word of the default catalogue, which the recogniser\n"
    '# must not "correct". Derived from the OpenTaal word list (BSD / CC BY 3.0); see data/SOURCES.md.\n'
    "# Made by scripts/real_words_near_catalogue.py: do not edit by hand.\n"
)


def generate(word_list: Path) -> str:
    recognizer = ProductRecognizer([*default_catalogue(), *topic_entries()], real_words=frozenset())
    words = word_list.read_text(encoding="utf-8").split()
    return HEADER + "\n".join(real_words_near(recognizer, words)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--word-list", type=Path, default=WORD_LIST)
    parser.add_argument("--check", action="store_true", help="exit 1 when the shipped file is not current")
    args = parser.parse_args()
    text = generate(args.word_list)
    target = Path(str(DEFAULT_REAL_WORDS_PATH))
    if args.check:
        current = target.read_text(encoding="utf-8") == text
        print("current" if current else f"{target} is not current: run {Path(__file__).name}")
        return 0 if current else 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10)) - HEADER.count(chr(10))} words to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
