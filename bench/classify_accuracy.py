"""Accuracy and speed of product recognition on a question file.

Usage::

    .venv/bin/python bench/classify_accuracy.py                      # the shared dev set
    .venv/bin/python bench/classify_accuracy.py --file tests/data/questions-holdout.tsv

The file has ``text<TAB>acceptable slugs`` per line (comma separated), ``#`` comments.
A question counts as top-k correct when any acceptable slug is among the first k products.
A line without slugs is off-topic: it counts as correct when no product reaches the
confidence threshold (routing would send it to the general queue).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.routing.recognition import (  # noqa: E402
    CONFIDENCE_THRESHOLD,
    ProductRecognizer,
    default_catalogue,
    slug,
)

DEFAULT_FILE = REPO.parent / "shared" / "data" / "eval" / "questions-dev.tsv"


def read_questions(path: Path) -> list[tuple[str, set[str]]]:
    """(text, acceptable slugs) per question line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, _, slugs = line.partition("\t")
        out.append((text.strip(), {s.strip() for s in slugs.split(",") if s.strip()}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="question TSV")
    parser.add_argument("--quiet", action="store_true", help="only print the summary")
    parser.add_argument("--repeat", type=int, default=20, help="timing repetitions")
    args = parser.parse_args(argv)

    path: Path = args.file
    if not path.is_file():
        print(
            f"question file not found: {path}\n"
            "The dev set lives in ../shared/data/eval/ next to the repository; pass --file "
            "to use another one, e.g. --file tests/data/questions-holdout.tsv",
            file=sys.stderr,
        )
        return 2
    questions = read_questions(path)
    if not questions:
        print(f"no questions in {path}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    catalogue = default_catalogue()
    recognizer = ProductRecognizer(catalogue)
    build_ms = (time.perf_counter() - t0) * 1000

    known = {slug(e.uri) for e in catalogue}
    top1 = top3 = 0
    below = 0
    off_topic = 0
    for text, expected in questions:
        unknown = expected - known
        if unknown:
            print(f"warning: not in catalogue: {sorted(unknown)} ({text})", file=sys.stderr)
        matches = recognizer.recognize(text, limit=5)
        got = [slug(m.uri) for m in matches]
        confident = bool(matches) and matches[0].score >= CONFIDENCE_THRESHOLD
        if expected:
            hit1 = bool(got[:1]) and got[0] in expected
            hit3 = any(g in expected for g in got[:3])
            below += not confident
        else:
            off_topic += 1
            hit1 = hit3 = not confident
        top1 += hit1
        top3 += hit3
        if not hit1 and not args.quiet:
            shown = ", ".join(f"{slug(m.uri)} {m.score:.2f}" for m in matches[:3]) or "-"
            mark = "miss@3" if not hit3 else "miss@1"
            wanted = ", ".join(sorted(expected)) or "(off-topic: below the threshold)"
            print(f"{mark}  {text}\n        expected {wanted}\n"
                  f"        got      {shown}")

    texts = [t for t, _ in questions]
    fresh = ProductRecognizer(catalogue)  # time with cold word caches first
    t0 = time.perf_counter()
    for t in texts:
        fresh.recognize(t)
    cold_us = (time.perf_counter() - t0) / len(texts) * 1e6
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        for t in texts:
            fresh.recognize(t)
    warm_us = (time.perf_counter() - t0) / (len(texts) * args.repeat) * 1e6

    n = len(questions)
    print(
        f"{below} of {n - off_topic} on-topic questions below the threshold "
        f"{CONFIDENCE_THRESHOLD}; {off_topic} off-topic"
    )
    print(
        f"top1 {100 * top1 / n:.1f}% top3 {100 * top3 / n:.1f}% on {n} questions; "
        f"{warm_us:.0f} us/question ({cold_us:.0f} cold); build {build_ms:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
