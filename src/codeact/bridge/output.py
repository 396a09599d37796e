"""`CappedOutput`: a program's stdout and stderr as the host receives them, capped in bytes.

Guests cap their own output too, but the host never trusts that: whatever arrives past the
limit is counted and dropped here. What a guest dropped itself it reports on stream
`DROPPED` as its running total (decimal text), so the count survives a program stopped by a
limit before it could report at the end. Stream `PROGRAM_REPORT` is not output: a session
program's report before its state is saved, which the backends keep (`RunOutcome.unsaved`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .protocol import PROGRAM_REPORT

__all__ = ["DROPPED", "STDERR", "STDOUT", "CappedOutput"]

STDOUT, STDERR, DROPPED = 1, 2, 3


class CappedOutput:
    """stdout + stderr together hold at most `limit` bytes (UTF-8); the rest is counted."""

    def __init__(self, limit: int, *, listener: Callable[[int, str], None] | None = None) -> None:
        self.limit = limit
        #: Told about every piece of text kept (stream, text), as it arrives: live output.
        self.listener = listener
        self.used = 0
        self._host_dropped = 0
        self._guest_dropped = 0
        self._parts: dict[int, list[str]] = {STDOUT: [], STDERR: []}
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        """Bytes cut by the output limit: by the guest before sending, and here."""
        return self._guest_dropped + self._host_dropped

    def write(self, stream: int, text: str) -> None:
        if not text:
            return
        if stream == DROPPED:
            if text.isdigit() and len(text) < 20:  # an untrusted count: only ever grows
                self._guest_dropped = max(self._guest_dropped, int(text))
            return
        if stream == PROGRAM_REPORT:  # the backend's to keep, never the program's output
            return
        if stream not in self._parts:
            stream = STDERR
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            room = self.limit - self.used
            if len(data) > room:
                self._host_dropped += len(data) - max(room, 0)
                if room <= 0:
                    return
                text = data[:room].decode("utf-8", "ignore")
                data = text.encode("utf-8", "surrogatepass")
            self._parts[stream].append(text)
            self.used += len(data)
        if self.listener is not None:
            self.listener(stream, text)

    @property
    def stdout(self) -> str:
        return "".join(self._parts[STDOUT])

    @property
    def stderr(self) -> str:
        return "".join(self._parts[STDERR])
