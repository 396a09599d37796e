"""`--trace FILE`: the run's OpenTelemetry spans as JSON lines, with no collector needed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import click

from .._extras import install_hint
from .._paths import open_nofollow
from ..errors import UserError
from .host_files import cannot_write

__all__ = ["trace_option", "tracer_provider_writing"]

trace_option = click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the run's OpenTelemetry spans to FILE as JSON lines (needs the otel extra).",
)


def tracer_provider_writing(path: Path) -> tuple[Any, Callable[[], None]]:
    """An SDK tracer provider whose spans go to `path`, one JSON object a line; and the
    function that flushes and closes it.

    `path` is checked now but opened (and emptied) only when the first span ends: a run that
    fails at configuration, before anything ran, leaves an existing file as it was."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        raise UserError(f"--trace needs the OpenTelemetry SDK: {install_hint('otel')}") from None
    _check_writable(path)
    out: list[IO[str]] = []  # opened (truncated) with the first span, never before
    failed: list[OSError] = []  # said once

    class _JsonLines(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> Any:
            if not out:
                try:
                    # `path` from host_files.pin: no link followed now (a program may
                    # have put one in a read-write mount while it ran).
                    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    out.append(os.fdopen(fd, "w", encoding="utf-8"))
                except OSError as exc:
                    if not failed:
                        failed.append(exc)
                        click.echo(f"codeact: {cannot_write('--trace', path, exc)}", err=True)
                    return SpanExportResult.FAILURE
            for span in spans:
                line = json.dumps(json.loads(span.to_json()), separators=(",", ":"))
                out[0].write(line + "\n")
            out[0].flush()
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            if out:
                out[0].close()

    provider = TracerProvider(resource=Resource.create({"service.name": "codeact"}))
    provider.add_span_processor(SimpleSpanProcessor(_JsonLines()))
    return provider, provider.shutdown


def _check_writable(path: Path) -> None:
    """Refuse, now, a FILE that could not be written later (neither created nor emptied)."""
    if path.is_dir():
        raise UserError(f"--trace: cannot write {path}: it is a directory")
    if path.exists():
        writable = os.access(path, os.W_OK)
        why = "permission denied"
    else:
        folder = path.parent
        writable = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
        why = "no such directory" if not folder.is_dir() else "permission denied"
    if not writable:
        raise UserError(f"--trace: cannot write {path}: {why}")
