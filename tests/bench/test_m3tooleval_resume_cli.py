"""`codeact bench m3tooleval --resume` with another model's --json file: refused in one line,
without first saying the runs were kept (was: "0 run(s) kept from FILE" just before the
refusal)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codeact.bench.m3tooleval.report import write_json
from codeact.cli import bench_m3tooleval_cmd
from codeact.cli.bench_cmd import bench_group
from codeact.testing import ScriptedChat


def _bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> tuple[int, str]:
    json_path = tmp_path / "m3.json"
    write_json(json_path, "model-a", [])
    monkeypatch.setattr(
        bench_m3tooleval_cmd, "client_from_options", lambda *a: ScriptedChat([], model=model)
    )
    args = ["m3tooleval", "--resume", "--tasks", "1", "--json", str(json_path)]
    got = CliRunner().invoke(bench_group, [*args, "--chart", str(tmp_path / "c.png")])
    return got.exit_code, got.stderr


def test_resume_with_another_model_does_not_say_the_runs_were_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _bench(tmp_path, monkeypatch, "model-b")
    assert code == 2, err
    assert "cannot resume from" in err and "'model-a'" in err
    assert "kept from" not in err, err
