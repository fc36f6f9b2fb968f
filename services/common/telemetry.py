"""OpenTelemetry set up once per process; trace context travels in gRPC metadata and NATS headers.

Span attributes carry ids and resource names only, never phone numbers, names or free text.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

_configured = False


def setup(service: str, exporter: str, span_exporter: SpanExporter | None = None) -> None:
    """Installs the tracer and meter providers; `span_exporter` lets tests capture spans."""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create({"service.name": f"kcc-{service}"})
    tracer_provider = TracerProvider(resource=resource)
    readers = []
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "console":
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    elif exporter != "none":
        raise ValueError(f"KCC_TELEMETRY must be none, console or otlp, not {exporter!r}")
    if span_exporter is not None or exporter != "none":
        # With nothing to export to, the API's default tracer stays: it records nothing
        # but still carries the caller's trace context on into NATS headers.
        trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


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
    return propagate.extract(dict(headers or {}))
