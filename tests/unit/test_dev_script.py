"""dev.py installs from the checkout, says what it installs, and never reinstalls what a job
does not need (`dev.py shell` and `dev.py codeact` need no extra)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[list[str]]]:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "venv_python", lambda: python)
    calls: list[list[str]] = []

    def run(*cmd: object, setup: bool = False) -> int:
        calls.append([str(c) for c in cmd] + (["(setup)"] if setup else []))
        return 0

    monkeypatch.setattr(module, "run", run)
    return module, calls


def _digest() -> str:
    import hashlib

    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def test_installs_from_the_checkout_with_pips_own_output(
    dev: tuple[ModuleType, list[list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    module, calls = dev
    module.ensure_env("local")
    install = calls[-1]
    assert install[-4:] == ["install", "-e", ".[local]", "(setup)"] and "-q" not in install
    assert all(call[-1] == "(setup)" for call in calls)  # pip's output goes to stderr
    assert "from this checkout" in capsys.readouterr().err
    stamp = json.loads((module.VENV / module.STAMP).read_text())
    assert stamp == {"digest": _digest(), "extras": ["local"]}


def test_no_reinstall_for_what_is_installed(dev: tuple[ModuleType, list[list[str]]]) -> None:
    module, calls = dev
    (module.VENV / module.STAMP).write_text(
        json.dumps({"digest": _digest(), "extras": ["dev", "local"]})
    )
    for job in ("shell", "codeact", "demo", "test"):
        module.ensure_env(module.EXTRAS[job])
    assert calls == []


def test_a_new_extra_keeps_the_ones_installed(dev: tuple[ModuleType, list[list[str]]]) -> None:
    module, calls = dev
    (module.VENV / module.STAMP).write_text(json.dumps({"digest": _digest(), "extras": ["dev"]}))
    module.ensure_env("local")
    assert calls[-1][-2:] == [".[dev,local]", "(setup)"]


def test_the_codeact_job_runs_the_command_line(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(ROOT / "dev.py")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "python3 ./dev.py codeact [ARGS...]" in proc.stderr
    assert "python3 ./dev.py shell" in proc.stderr


def test_help_is_success_and_an_unknown_job_is_named() -> None:
    import subprocess

    def dev_py(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(ROOT / "dev.py"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    helped = dev_py("--help")  # was: exit 2, the text on stderr
    assert helped.returncode == 0 and "python3 ./dev.py test" in helped.stdout
    unknown = dev_py("tset")  # was: the usage text alone, no word of what was wrong
    assert unknown.returncode == 2
    assert unknown.stderr.startswith(
        "dev.py: unknown job 'tset'; choose one of: demo, test, codeact, shell\n"
    )


def test_ctrl_c_in_a_job_is_status_130_without_a_traceback(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "codeact", "exec", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None and proc.stderr is not None
    time.sleep(3)  # codeact is up, waiting for its program on stdin
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130
    assert "Traceback" not in err, err  # was: dev.py's own KeyboardInterrupt traceback
    proc.stdin.close()
    proc.stderr.close()


def test_a_setup_steps_output_goes_to_stderr_so_stdout_holds_only_the_answer(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """pip's log went to stdout: on a fresh checkout the README's `$(python3 ./dev.py shell)`
    captured "Looking in indexes: ..." before the interpreter's path and ran it as a command."""
    spec = importlib.util.spec_from_file_location("dev_script_run", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.run(sys.executable, "-c", "print('pip says')", setup=True) == 0
    out, err = capfd.readouterr()
    assert out == "" and "pip says" in err
    assert module.run(sys.executable, "-c", "print('the answer')") == 0
    assert capfd.readouterr().out == "the answer\n"
