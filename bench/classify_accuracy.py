"""Accuracy and speed of product recognition on the question files.

Usage::

    .venv/bin/python bench/classify_accuracy.py             # both dev sets, hold-out and the fresh sets
    .venv/bin/python bench/classify_accuracy.py --misses    # also list the misses per set
    .venv/bin/python bench/classify_accuracy.py --file some.tsv   # one file, with misses

Every file has ``text<TAB>acceptable slugs`` per line (comma separated), ``#`` comments.
A question counts as top-k correct when any acceptable slug is among the first k products.
A line without slugs is off-topic: it counts as correct when no product reaches the
confidence threshold (routing would send it to the general queue).

The default sets say different things: the dev sets (``../shared/data/eval`` and
``tests/data/questions-dev2.tsv`` to ``-dev4.tsv``, the last three by separate hands) have been
tuned on, so their figures say little; the hold-out and the fresh set in ``tests/data`` were
written before tuning and must never be tuned on, so they estimate accuracy on unseen
questions.  Those two were written by the hand that also wrote the lexicon; the second
fresh set was written by a separate hand that never saw the recognizer, its lexicon or
any other set; so was the third, written after the second dev set was tuned on. These two are
the most honest estimate.  The gap between them is the overfitting.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.common.upl import slug  # noqa: E402
from services.routing import referral  # noqa: E402
from services.routing.recognition import (  # noqa: E402
    CONFIDENCE_THRESHOLD,
    CatalogueEntry,
    ProductRecognizer,
)
from services.routing.recognition.lexicon import default_catalogue  # noqa: E402

DEV_FILE = REPO.parent / "shared" / "data" / "eval" / "questions-dev.tsv"
HOLDOUT_FILE = REPO / "tests" / "data" / "questions-holdout.tsv"
FRESH_FILE = REPO / "tests" / "data" / "questions-fresh.tsv"
FRESH2_FILE = REPO / "tests" / "data" / "questions-fresh2.tsv"
FRESH3_FILE = REPO / "tests" / "data" / "questions-fresh3.tsv"
DEV2_FILE = REPO / "tests" / "data" / "questions-dev2.tsv"
DEV3_FILE = REPO / "tests" / "data" / "questions-dev3.tsv"
DEV4_FILE = REPO / "tests" / "data" / "questions-dev4.tsv"
REFERRAL_SETS = (
    ("referral dev (tuned on)", REPO / "tests" / "data" / "referrals-dev.tsv"),
    ("referral fresh", REPO / "tests" / "data" / "referrals-fresh.tsv"),
)
DEFAULT_SETS = (
    ("dev (tuned on)", DEV_FILE),
    ("dev-2 (tuned on)", DEV2_FILE),
    ("dev-3 (tuned on)", DEV3_FILE),
    ("dev-4 (tuned on)", DEV4_FILE),
    ("hold-out", HOLDOUT_FILE),
    ("fresh", FRESH_FILE),
    ("fresh-2 (other hand)", FRESH2_FILE),
    ("fresh-3 (other hand)", FRESH3_FILE),
)


def read_questions(path: Path) -> list[tuple[str, set[str]]]:
    """(text, acceptable slugs) per question line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, _, slugs = line.partition("\t")
        out.append((text.strip(), {s.strip() for s in slugs.split(",") if s.strip()}))
    return out


@dataclass
class Result:
    n: int
    top1: int
    top3: int
    below: int
    off_topic: int
    referred: int  # questions whose scope is "elsewhere"


def evaluate(
    recognizer: ProductRecognizer,
    catalogue: list[CatalogueEntry],
    questions: list[tuple[str, set[str]]],
    show_misses: bool,
) -> Result:
    known = {slug(e.uri) for e in catalogue}
    top1 = top3 = below = off_topic = referred = 0
    for text, expected in questions:
        unknown = expected - known
        if unknown:
            print(f"warning: not in catalogue: {sorted(unknown)} ({text})", file=sys.stderr)
        ranked = recognizer.recognize(text, limit=5 + referral.LOOK_FURTHER)
        referred += referral.refer_to(ranked) is not None
        matches = [m for m in ranked if not referral.is_topic(m.uri)][:5]
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
        if not hit1 and show_misses:
            shown = ", ".join(f"{slug(m.uri)} {m.score:.2f}" for m in matches[:3]) or "-"
            mark = "miss@3" if not hit3 else "miss@1"
            wanted = ", ".join(sorted(expected)) or "(off-topic: below the threshold)"
            print(f"{mark}  {text}\n        expected {wanted}\n        got      {shown}")
    return Result(len(questions), top1, top3, below, off_topic, referred)


def evaluate_referrals(recognizer: ProductRecognizer, path: Path, show_misses: bool) -> tuple[int, int]:
    """(right, questions): the scope ("gemeente" or the body) of every `question<TAB>scope` line."""
    right = total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, _, wanted = line.partition("\t")
        body = referral.refer_to(recognizer.recognize(text, limit=5 + referral.LOOK_FURTHER))
        got = body.name if body else referral.GEMEENTE
        total += 1
        right += got == wanted.strip()
        if got != wanted.strip() and show_misses:
            print(f"miss  {text}\n        expected {wanted.strip()}\n        got      {got}")
    return right, total


def time_per_question(catalogue: list[CatalogueEntry], texts: list[str], repeat: int) -> tuple[float, float]:
    """(warm, cold) microseconds per question; cold = first pass with empty word caches."""
    fresh = ProductRecognizer([*catalogue, *referral.topic_entries()])
    t0 = time.perf_counter()
    for t in texts:
        fresh.recognize(t)
    cold_us = (time.perf_counter() - t0) / len(texts) * 1e6
    t0 = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            fresh.recognize(t)
    warm_us = (time.perf_counter() - t0) / (len(texts) * repeat) * 1e6
    return warm_us, cold_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, action="append", help="question TSV (repeatable)")
    parser.add_argument("--misses", action="store_true", help="list the misses of every set")
    parser.add_argument("--quiet", action="store_true", help="never list misses")
    parser.add_argument("--repeat", type=int, default=20, help="timing repetitions")
    args = parser.parse_args(argv)

    if args.file:
        sets = [(str(p), p) for p in args.file]
        show_misses = not args.quiet
    else:
        sets = list(DEFAULT_SETS)
        show_misses = args.misses and not args.quiet

    t0 = time.perf_counter()
    catalogue = default_catalogue()
    recognizer = ProductRecognizer([*catalogue, *referral.topic_entries()])  # as routing builds it
    build_ms = (time.perf_counter() - t0) * 1000

    rows: list[tuple[str, Result]] = []
    texts: list[str] = []
    for label, path in sets:
        if not path.is_file():
            print(f"question file not found, skipped: {path}", file=sys.stderr)
            continue
        questions = read_questions(path)
        if not questions:
            print(f"no questions in {path}", file=sys.stderr)
            continue
        if show_misses:
            print(f"== {label}: {path}")
        rows.append((label, evaluate(recognizer, catalogue, questions, show_misses)))
        texts.extend(t for t, _ in questions)
    if not rows:
        print("no question files found", file=sys.stderr)
        return 2

    warm_us, cold_us = time_per_question(catalogue, texts, args.repeat)
    width = max(len(label) for label, _ in rows)
    for label, r in rows:
        print(
            f"{label:<{width}}  top1 {100 * r.top1 / r.n:5.1f}%  top3 {100 * r.top3 / r.n:5.1f}%"
            f"  on {r.n:3d} questions; {r.below} below the threshold {CONFIDENCE_THRESHOLD}"
            + (f", {r.off_topic} off-topic" if r.off_topic else "")
            + f"; {r.referred} referred elsewhere"
        )
    if not args.file:
        for label, path in REFERRAL_SETS:
            if show_misses:
                print(f"== {label}: {path}")
            right, total = evaluate_referrals(recognizer, path, show_misses)
            print(f"{label:<{width}}  scope right {100 * right / total:5.1f}%  on {total:3d} questions")
    print(f"{warm_us:.0f} us/question ({cold_us:.0f} cold) over {len(texts)} questions; build {build_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
