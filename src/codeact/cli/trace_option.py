"""`--trace FILE`: the run's OpenTelemetry spans as JSON lines, with no collector needed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import click

from ..errors import UserError

__all__ = ["trace_option", "tracer_provider_writing"]

trace_option = click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the run's OpenTelemetry spans to FILE as JSON lines (needs codeact[otel]).",
)


def tracer_provider_writing(path: Path) -> tuple[Any, Callable[[], None]]:
    """An SDK tracer provider whose spans go to `path`, one JSON object a line; and the
    function that flushes and closes it."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        raise UserError(
            "--trace needs the OpenTelemetry SDK: pip install -e '.[otel]' "
            "(in a checkout of codeact)"
        ) from None
    try:
        out: IO[str] = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--trace: cannot write {path}: {exc.strerror or exc}") from None

    class _JsonLines(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> Any:
            for span in spans:
                out.write(json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n")
            out.flush()
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            out.close()

    provider = TracerProvider(resource=Resource.create({"service.name": "codeact"}))
    provider.add_span_processor(SimpleSpanProcessor(_JsonLines()))
    return provider, provider.shutdown
