"""`kcc classify`: questions on stdin, ranked products as JSON lines on stdout.

Without `--tenant` the default recognizer is built once (seconds) and then read from the
user's cache (`$XDG_CACHE_HOME/kcc`, else `~/.cache/kcc`); its file name holds a hash of the
package data and of routing's code, so a change to either builds it anew.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The recognizer and gRPC load when the command runs, so that every other command starts without them.
if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from services.routing.recognition import ProductRecognizer


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("classify", help="recognise products in questions (one per line on stdin)")
    parser.add_argument("--tenant", help="ask the running routing service, e.g. gm0268")
    parser.add_argument("--limit", type=int, default=5)
    parser.set_defaults(run=_classify)


def _classify(args: argparse.Namespace) -> int:
    if not args.tenant:
        from services.routing.recognition.lexicon import classify_lines

        recognizer = cached_recognizer()
        for result in classify_lines(sys.stdin, recognizer, args.limit):
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    import asyncio

    return asyncio.run(_classify_remote(args))


def cached_recognizer() -> ProductRecognizer:
    """The default recognizer, from the cache when it holds one of this code and data."""
    from services.routing.recognition import ProductRecognizer
    from services.routing.recognition.lexicon import default_recognizer

    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kcc"
    path = folder / f"recognizer-{_fingerprint()}.pickle"
    try:
        with path.open("rb") as cached:
            recognizer = pickle.load(cached)  # noqa: S301 - the user's own cache, written below
        if isinstance(recognizer, ProductRecognizer):
            return recognizer
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        pass
    recognizer = default_recognizer()
    try:  # a read-only home (as in the image), or a recognizer that cannot be pickled: no cache
        data = pickle.dumps(recognizer, protocol=pickle.HIGHEST_PROTOCOL)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("recognizer-*.pickle"):
            old.unlink(missing_ok=True)
        written = path.with_suffix(f".{os.getpid()}.tmp")
        written.write_bytes(data)
        written.replace(path)
    except (OSError, TypeError, pickle.PicklingError, AttributeError):
        pass
    return recognizer


def _fingerprint() -> str:
    """A hash of what the recognizer is made from: routing's code, the package data, Python's version."""
    from services.common.config import DATA

    digest = hashlib.sha256(sys.version.encode())
    for file in [*sorted(Path(__file__).parent.rglob("*.py")), *_files(DATA)]:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def _files(folder: Traversable) -> list[Traversable]:
    found: list[Traversable] = []
    for item in sorted(folder.iterdir(), key=lambda item: item.name):
        found += _files(item) if item.is_dir() else [item]
    return found


async def _classify_remote(args: argparse.Namespace) -> int:
    import grpc

    from kcc.routing.v1 import routing_pb2, routing_pb2_grpc
    from services.common import client
    from services.common.config import Settings

    settings = Settings()
    metadata = client.metadata(client.token(settings))
    async with client.channel(settings, "routing") as channel:
        stub = routing_pb2_grpc.RoutingServiceStub(channel)
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            try:
                reply = await stub.ClassifyQuestion(
                    routing_pb2.ClassifyQuestionRequest(
                        tenant=f"tenants/{args.tenant}", question=text, limit=args.limit
                    ),
                    metadata=metadata,
                )
            except grpc.RpcError as err:
                print(f"kcc classify: {err.code().name}: {err.details()}", file=sys.stderr)
                return 1
            answer: dict[str, object] = {"text": text, "scope": reply.scope}
            if reply.HasField("referral"):
                answer["refer_to"] = reply.referral.body
            answer["products"] = [{"uri": p.uri, "name": p.name, "score": round(p.score, 4)} for p in reply.products]
            print(json.dumps(answer, ensure_ascii=False), flush=True)
    return 0
