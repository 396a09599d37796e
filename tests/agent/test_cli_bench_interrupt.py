"""Ctrl-C during `codeact bench order-totals` keeps the runs that finished: their table on
stdout and their JSON, then `codeact: interrupted` and 130 (before, every finished run was
lost). A real process, a real sandbox and a chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..cli_run import interrupt_codeact
from .conftest import FakeOpenAI, Reply, completion

pytestmark = [
    pytest.mark.usefixtures("wasm_ready"),
    pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT"),
]

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "CODEACT_MODEL"))
}


def test_ctrl_c_keeps_the_runs_that_finished(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    def never_answers(body: dict[str, Any]) -> Reply:
        time.sleep(0.1)  # so that the runs are still going when the signal comes
        return completion(None, [("list_users", {})])

    fake_openai.policy = never_answers
    json_path = tmp_path / "bench.json"
    args = ["order-totals", "--base-url", fake_openai.url, "--model", "looper"]
    args += ["--wiring", "direct", "--runs", "200", "--max-turns", "2", "--json", str(json_path)]
    status, out, err = interrupt_codeact("bench", *args, after_line="run 2/200", env=CLEAN_ENV)
    assert status == 130, (out, err)
    assert err.rstrip().endswith("codeact: interrupted"), err
    assert "| metric (median) | direct |" in out, out
    kept = json.loads(json_path.read_text())["runs"]
    assert 2 <= len(kept) < 200 and all(r["wiring"] == "direct" for r in kept)
    assert f"| correct | 0/{len(kept)} |" in out, out
