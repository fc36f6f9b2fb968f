"""`kcc classify`: questions on stdin, ranked products as JSON lines on stdout."""

from __future__ import annotations

import argparse
import json
import sys

# The recognizer and gRPC load when the command runs, so that every other command starts without them.


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("classify", help="recognise products in questions (one per line on stdin)")
    parser.add_argument("--tenant", help="ask the running routing service, e.g. gm0268")
    parser.add_argument("--limit", type=int, default=5)
    parser.set_defaults(run=_classify)


def _classify(args: argparse.Namespace) -> int:
    if not args.tenant:
        from services.routing.lexicon import classify_lines, default_recognizer

        recognizer = default_recognizer()
        for result in classify_lines(sys.stdin, recognizer, args.limit):
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    import asyncio

    return asyncio.run(_classify_remote(args))


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
