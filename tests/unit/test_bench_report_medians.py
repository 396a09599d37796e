"""`codeact bench order-totals` reports: a wiring none of whose runs ended on its own has no
medians (before: 0.0 s and 0 tokens, which read as real measurements)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeact.bench.order_totals import RunRecord
from codeact.bench.report import (
    METRICS,
    bench_json,
    completed_runs,
    markdown_table,
    summarize,
    write_chart,
)

ERROR = "the model endpoint http://x/v1 failed (HTTP 503) after 4 attempts: overloaded"
CUT = RunRecord("codeact", False, 3.8, input_tokens=900, error=ERROR, interrupted=True)
DIRECT = RunRecord("direct", True, 2.0, input_tokens=1000, total_tokens=1200, model_turns=4)


def test_a_wiring_whose_runs_were_all_interrupted_has_no_medians() -> None:
    summary = summarize([CUT, CUT, DIRECT])
    assert summary["codeact"]["interrupted"] == 2
    assert all(summary["codeact"][key] is None for key, _ in METRICS)
    assert summary["direct"]["wall_s"] == 2.0 and summary["direct"]["model_turns"] == 4
    data = json.loads(json.dumps(bench_json("m", [CUT, DIRECT])))
    assert data["summary"]["codeact"]["wall_s"] is None
    assert completed_runs([CUT, DIRECT]) == 1 and completed_runs([CUT, CUT]) == 0


def test_the_table_shows_no_number_where_there_is_none() -> None:
    table = markdown_table("m", [CUT, DIRECT])
    assert "| wall time (s) | - | 2.0 | - |" in table
    assert "| input tokens | - | 1,000 | - |" in table
    assert "| model turns | - | 4 | - |" in table
    assert "| output tokens | - | 0 | - |" in table  # direct's real zero stays a number


def test_the_chart_skips_a_wiring_without_medians(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "chart.png"
    write_chart(path, "m", [CUT, CUT])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
