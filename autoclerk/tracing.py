"""OpenTelemetry traces, only when `otel.endpoint` is set: the SDK and the OTLP exporter
are imported here, lazily, so a process without tracing never loads them.

One trace per message: the stream edge opens the root span (`autoclerk.received`) and
each stage (decode, triage, extract, lookup, rules, store, emit) is a child span
(`agents.telemetry.stage`). No global tracer provider is installed: the tracer is
handed to `Telemetry`, so two tests (or two apps) never share one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

__all__ = ["otlp_tracer", "tracer_for"]


def tracer_for(exporter: SpanExporter, *, service_name: str = "autoclerk", batch: bool = True) -> Tracer:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # Batching keeps export off the message path; tests read spans synchronously.
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider.get_tracer("autoclerk")


def otlp_tracer(*, endpoint: str, service_name: str) -> Tracer:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return tracer_for(OTLPSpanExporter(endpoint=endpoint), service_name=service_name)
