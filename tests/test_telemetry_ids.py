"""Tracing leaves the shared `random` alone: a seeded caller keeps its sequence while spans are made."""

from __future__ import annotations

import random

from services.common import telemetry
from tests.conftest import SPANS


def test_spans_draw_their_ids_without_touching_the_shared_random() -> None:
    random.seed(7)
    expected = [random.random() for _ in range(3)]
    random.seed(7)
    before = len(SPANS.get_finished_spans())
    with (
        telemetry.tracer("test").start_as_current_span("outer"),
        telemetry.tracer("test").start_as_current_span("inner"),
    ):
        pass
    spans = SPANS.get_finished_spans()[before:]
    assert len(spans) == 2 and len({s.context.span_id for s in spans}) == 2 and spans[0].context.trace_id != 0
    assert [random.random() for _ in range(3)] == expected
