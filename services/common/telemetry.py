"""OpenTelemetry set up once per process; trace context travels in gRPC metadata and NATS headers.

Span attributes carry ids and resource names only, never phone numbers, names or free text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator

_configured = False
_recording = False  # whether spans go anywhere; see span()
_NO_CONTEXT = Context()


class OwnRandomIds(IdGenerator):
    """Trace and span ids from a generator of their own. OpenTelemetry's default draws from the
    shared `random`, whose sequence a seeded caller (a simulation, Hypothesis) needs to itself."""

    def __init__(self) -> None:
        self._random = random.Random()  # seeded from the operating system

    def generate_span_id(self) -> int:
        return self._nonzero(64)

    def generate_trace_id(self) -> int:
        return self._nonzero(128)

    def _nonzero(self, bits: int) -> int:
        while not (value := self._random.getrandbits(bits)):
            pass
        return value


def setup(service: str, exporter: str, span_exporter: SpanExporter | None = None) -> None:
    """Installs the tracer and meter providers; `span_exporter` lets tests capture spans."""
    global _configured, _recording
    if _configured:
        return
    _configured = True
    resource = Resource.create({"service.name": f"kcc-{service}"})
    processor: SpanProcessor | None = None
    readers = []
    if span_exporter is not None:
        processor = SimpleSpanProcessor(span_exporter)
    elif exporter == "console":
        processor = BatchSpanProcessor(ConsoleSpanExporter())
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    elif exporter != "none":
        raise ValueError(f"KCC_TELEMETRY must be none, console or otlp, not {exporter!r}")
    if processor is not None:
        tracer_provider = TracerProvider(resource=resource, id_generator=OwnRandomIds())
        tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
        _recording = True
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def recording() -> bool:
    """Whether spans are exported; where a span would cost on every event, it is made only then."""
    return _recording


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


def inject() -> dict[str, str]:
    """The current trace context as headers, for NATS messages and outgoing gRPC calls."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract(headers: Mapping[str, str] | None) -> Context:
    """The trace context that `headers` carry; an empty one, without running the propagators,
    when they carry none (most calls)."""
    if not headers or propagate.get_global_textmap().fields.isdisjoint(headers):
        return _NO_CONTEXT
    return propagate.extract(dict(headers))


def span(
    tracer: trace.Tracer, name: str, kind: trace.SpanKind, parent: Context | None = None
) -> AbstractContextManager[trace.Span]:
    """A current span under `parent`. When no span is exported it only makes `parent` current:
    the trace still reaches NATS headers and outgoing calls, at a fraction of a span's cost
    on the hot path."""
    if _recording:
        return tracer.start_as_current_span(name, kind=kind, context=parent)
    return _parent_only(parent)


def stream_span(
    tracer: trace.Tracer, name: str, kind: trace.SpanKind, parent: Context | None = None
) -> tuple[trace.Span, Context]:
    """A span for a server stream, which the caller ends, and the context that holds it. A stream
    runs in steps that may be resumed or closed from different contexts, so the span is made
    current only around each step (`within`), never across a `yield`."""
    parent = parent if parent is not None else _NO_CONTEXT
    if _recording:
        span = tracer.start_span(name, kind=kind, context=parent)
        return span, trace.set_span_in_context(span, parent)
    return trace.get_current_span(parent), parent


@contextmanager
def within(ctx: Context) -> Iterator[None]:
    """Makes `ctx` current for one step of a stream."""
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


@contextmanager
def _parent_only(parent: Context | None) -> Iterator[trace.Span]:
    if parent is None:
        yield trace.get_current_span()
        return
    token = context.attach(parent)
    try:
        yield trace.get_current_span(parent)
    finally:
        context.detach(token)
