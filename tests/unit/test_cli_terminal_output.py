"""`codeact exec` on a terminal: the program's output cannot draw over the approval question
(escapes shown, not obeyed; output held while the question is open); a pipe gets it exact."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator

import pytest

from codeact.calls.approvals import ApprovalRequest
from codeact.cli import report
from codeact.cli.live_output import GatedApprover, LiveOutput, shown_text
from codeact.runtime.events import OutputChunk

FORGED = "\x1b[1A\r\x1b[J\x1b[?7lfake\x9b2J\r\nok\tdone\n"
REQUEST = ApprovalRequest(kind="call", tool="delete_everything", arguments={"path": "/home"})


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_program_output_on_a_terminal_shows_controls_as_escapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = FakeTTY(), FakeTTY()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    report.print_chunk(OutputChunk(stream="stdout", text=FORGED))
    report.print_chunk(OutputChunk(stream="stderr", text="\x1b]0;title\x07x\n"))
    assert out.getvalue() == "\\x1b[1A\\r\\x1b[J\\x1b[?7lfake\\x9b2J\r\nok\tdone\n"
    assert err.getvalue() == "\\x1b]0;title\\x07x\n"
    assert "\x1b" not in out.getvalue() + err.getvalue()


def test_program_output_to_a_pipe_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    report.print_chunk(OutputChunk(stream="stdout", text=FORGED))
    assert out.getvalue() == FORGED
    assert shown_text(FORGED, io.StringIO()) == FORGED


@pytest.fixture
def pipe() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "r"), os.fdopen(w, "w")
    yield reader, writer
    if not writer.closed:
        writer.close()
    reader.close()


async def test_output_printed_while_the_question_is_open_comes_after_the_answer(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    reader, writer = pipe
    screen = io.StringIO()  # one terminal: the program's output and the question
    live = LiveOutput(terminal=lambda stream: True)
    live.write_to(lambda chunk: screen.write(chunk.text))
    approver = GatedApprover(output_gate=live, input=reader, output=screen)
    live(OutputChunk(stream="stdout", text="working..."))  # no newline: the question's own line
    asking = asyncio.ensure_future(approver(REQUEST))
    await asyncio.sleep(0.05)
    assert screen.getvalue().endswith("approve? [y/N] ")
    live(OutputChunk(stream="stdout", text="FORGED QUESTION\n"))
    live(OutputChunk(stream="stderr", text="second\n"))
    await asyncio.sleep(0.05)
    assert screen.getvalue().endswith("approve? [y/N] ")  # nothing after the question
    writer.write("n\n")
    writer.flush()
    assert not (await asyncio.wait_for(asking, 5)).approved
    text = screen.getvalue()
    assert text.startswith("working...\nthe program wants to call delete_everything(")
    assert text.index("approve? [y/N] n\n") < text.index("FORGED QUESTION\nsecond\n")
    live(OutputChunk(stream="stdout", text="after\n"))  # not held once answered
    assert text + "after\n" == screen.getvalue()


def test_a_line_end_split_between_two_chunks_is_a_line_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A CRLF written as "...\r" then "\n..." showed an escaped \r on the terminal.
    out = FakeTTY()
    monkeypatch.setattr("sys.stdout", out)
    printer = report.ChunkPrinter()
    printer(OutputChunk(stream="stdout", text="one\r"))
    printer(OutputChunk(stream="stdout", text="\ntwo\r"))
    printer(OutputChunk(stream="stdout", text="over"))
    printer(OutputChunk(stream="stdout", text="end\r"))
    for chunk in printer.finish():
        printer(chunk)
    assert out.getvalue() == "one\r\ntwo\\roverend\\r"


def test_a_pipe_gets_split_line_ends_as_they_came(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    printer = report.ChunkPrinter()
    printer(OutputChunk(stream="stdout", text="one\r"))
    assert out.getvalue() == "one\r" and printer.finish() == []
