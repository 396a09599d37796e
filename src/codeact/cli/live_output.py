"""The program's live output on the command line's terminal, and the approval question.

A program controls every byte it prints. Written raw to the terminal where `--approve ask`
asks its question, an escape sequence could move the cursor up and erase the question, turn
autowrap off and park the cursor over it, or print a question of its own; with
``call_tool_async`` the program keeps printing while the question is open. So:

* `shown_text`: on a terminal, program output is shown through `visible`: ESC and every other
  control (C0 but newline and tab, DEL, C1, a carriage return not followed by a newline) and
  the invisible bidi/format characters are printed as escapes (``\\x1b``). A pipe or a file
  still gets the exact text.
* `LiveOutput`: while an approval question is open (`hold`), output is kept, in order, and
  written once the person has answered; `fresh_line` starts the question on a line of its own
  when the program's last output to the terminal did not end with a newline.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from .._display import visible
from ..calls.approval_handlers import InteractiveApprover
from ..calls.approvals import Approval, ApprovalRequest
from ..runtime.events import OutputChunk

__all__ = ["GatedApprover", "LiveOutput", "is_terminal", "shown_text"]

_LONE_CR = re.compile(r"\r(?!\n)")


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def shown_text(text: str, stream: Any) -> str:
    """`text` as written to `stream`: exact on a pipe or a file; on a terminal, controls
    escaped (a CRLF line end kept, a lone carriage return escaped: it would overwrite the
    line)."""
    if not is_terminal(stream):
        return text
    return "\r\n".join(visible(_LONE_CR.sub("\\\\r", part)) for part in text.split("\r\n"))


class LiveOutput:
    """The `on_output` callback of `codeact exec`: writes each chunk through `write` (set by
    `write_to`), except while a question is open (`hold`): then chunks wait, in order."""

    def __init__(self, terminal: Callable[[str], bool] | None = None) -> None:
        self._write: Callable[[OutputChunk], Any] = lambda chunk: None
        # Whether the chunk's stream is a terminal (only there does a line end matter).
        self._terminal = terminal or _chunk_on_terminal
        self._lock = threading.RLock()
        self._held = 0
        self._waiting: list[OutputChunk] = []
        self._at_line_start = True

    def write_to(self, write: Callable[[OutputChunk], Any]) -> None:
        self._write = write

    def __call__(self, chunk: OutputChunk) -> None:
        with self._lock:
            if self._held:
                self._waiting.append(chunk)
                return
            self._emit(chunk)

    def _emit(self, chunk: OutputChunk) -> None:
        if chunk.text and self._terminal(chunk.stream):
            self._at_line_start = chunk.text.endswith("\n")
        self._write(chunk)

    def hold(self) -> None:
        """A question is (about to be) open: keep what the program prints from now."""
        with self._lock:
            self._held += 1

    def release(self) -> None:
        """The question was answered: write what was kept, in order."""
        with self._lock:
            self._held -= 1
            if self._held:
                return
            waiting, self._waiting = self._waiting, []
            for chunk in waiting:
                self._emit(chunk)

    def fresh_line(self, out: IO[str]) -> None:
        """Before the question: a newline on `out` if the program's last output to the
        terminal did not end with one (the question is then on lines of its own)."""
        with self._lock:
            if not self._at_line_start:
                out.write("\n")
            self._at_line_start = True  # the answer (echoed, or written) ends the question


def _chunk_on_terminal(stream: str) -> bool:
    return is_terminal(sys.stderr if stream == "stderr" else sys.stdout)


class GatedApprover(InteractiveApprover):
    """`InteractiveApprover` for `codeact exec --approve ask`: the program's output is held
    while the question is open (or waits its turn) and the question starts on a fresh line."""

    def __init__(self, *, output_gate: LiveOutput, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_gate = output_gate
        self._question_out: IO[str] | None = kwargs.get("output")

    async def __call__(self, request: ApprovalRequest) -> Approval:
        self.output_gate.hold()
        try:
            return await super().__call__(request)
        finally:
            self.output_gate.release()

    def _write(self, text: str) -> None:
        self.output_gate.fresh_line(self._question_out or sys.stderr)
        super()._write(text)
