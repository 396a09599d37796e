"""The one-time waits show their stage: plain lines where stderr is not a terminal, a live
line with the stage and its elapsed time where it is (never on stdout)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from codeact._progress import report
from codeact.cli import progress
from codeact.cli.progress import Spinner, show_progress


def test_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with show_progress():
        report("building the Wasm sandbox guest (once per machine, about 20 s)...")
        report("built the guest in 19 s")
    report("outside: a plain line too")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "codeact: building the Wasm sandbox guest (once per machine, about 20 s)...",
        "codeact: built the guest in 19 s",
        "codeact: outside: a plain line too",
    ]


def test_a_live_line_with_the_stage_and_elapsed_time_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(
        progress, "Console", lambda stderr: Console(file=screen, force_terminal=True, width=120)
    )
    with show_progress() as spinner:
        assert spinner.live
        report("compiling the sandbox guest for this machine (once, about 15 s)...")
        spinner.spin("turn 1: the model reads the conversation")
        spinner.rename("turn 1: the model is writing: 12 tokens, 8.0 tokens/s")
        assert spinner._progress is not None
        shown = [t.description for t in spinner._progress.tasks]
        assert shown == ["turn 1: the model is writing: 12 tokens, 8.0 tokens/s"]
    text = screen.getvalue()
    assert "codeact: compiling the sandbox guest for this machine" in text
    assert "0:00:0" in text  # the elapsed-time column


def test_a_spinner_on_a_pipe_says_each_wait_once(capsys: pytest.CaptureFixture[str]) -> None:
    with Spinner() as spinner:
        spinner.spin("turn 1: the model reads the conversation")
        spinner.rename("ignored where nothing moves")
        spinner.clear()
    assert capsys.readouterr().err == "codeact: turn 1: the model reads the conversation...\n"
