"""The duration histogram through the global metrics API: one meter and one histogram for
the process, not one more of each per execution (the API keeps every proxy meter it hands
out before a provider is set)."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

import opentelemetry.metrics  # noqa: F401  (in use: imported)

from codeact import CodeAct
from codeact.runtime import tracing
from codeact.sandbox.mock import MockBackend


async def test_executions_through_the_global_api_share_one_histogram() -> None:
    assert tracing.meter_for() is not None  # the API is in use: codeact measures through it
    codeact = CodeAct(backend=MockBackend(lambda code, call_tool: 42))
    for _ in range(20):
        result = await codeact.execute("42")
        assert result.ok, result.error
    assert len(tracing._histograms) <= 1
    assert tracing.meter_for() is tracing.meter_for()
