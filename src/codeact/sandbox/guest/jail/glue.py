"""The runner's host interface inside a jail: frames over the inherited socket (`../wire.py`).

Tool calls, waits and HTTP requests are frames; output is written to file descriptors 1 and 2,
which are pipes the host reads and caps. Everything here is reachable by the program, which may
send anything: the host trusts none of it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from ..wire import encode_raw_frame, read_frame, write_frame

__all__ = ["JailHost"]

_REAL_SLEEP = time.sleep  # the runner replaces time.sleep; the jail sleeps for real
_MAX_SLEEP = 365 * 86400.0  # time.sleep overflows past about 292 years; the host kills first
_FRAMES = {3: "d", 4: "p"}  # write_output's streams that are not the program's output


class JailHost:
    """Implements the runner's host calls (``dispatch``, ``start_call``, ``wait_calls``,
    ``sleep``, ``write_output``) for a program in a jail."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()  # program threads may call tools at the same time

    def _request(self, message: list[Any]) -> Any:
        with self._lock:
            write_frame(self._sock, message)
            return read_frame(self._sock)

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        ok, payload = self._request(["c", name, args_json])
        return bool(ok), str(payload)

    def start_call(self, name: str, args_json: str) -> tuple[bool, Any]:
        ok, value = self._request(["s", name, args_json])
        return bool(ok), value

    def wait_calls(self, timeout_ms: int) -> list[list[Any]]:
        done: list[list[Any]] = self._request(["w", timeout_ms])
        return done

    def http_request(self, request_json: str) -> tuple[bool, str]:
        ok, payload = self._request(["h", request_json])
        return bool(ok), str(payload)

    def sleep(self, ms: int) -> None:
        _REAL_SLEEP(min(ms / 1000, _MAX_SLEEP))

    def write_output(self, stream: int, text: str) -> None:
        if stream in _FRAMES:  # the runner's count of output it dropped, or a session
            with self._lock:  # program's report before its state is saved: a frame, no reply
                write_frame(self._sock, [_FRAMES[stream], text])
            return
        data = text.encode("utf-8", "surrogatepass")
        fd = 1 if stream == 1 else 2
        while data:
            data = data[os.write(fd, data) :]

    def read_state(self, offset: int, length: int) -> bytes:
        """Bytes of the session's state the host keeps: a raw frame answers."""
        with self._lock:
            write_frame(self._sock, ["g", offset, length])
            data = read_frame(self._sock)
        if not isinstance(data, bytes):
            raise OSError("the host did not hand over the state")
        return data

    def report(self, report_json: str) -> None:
        """The report; a session's new state (after a NUL: the runner's raw form) goes first,
        as a raw frame."""
        report_json, raw, state = report_json.partition("\x00")
        with self._lock:
            if raw:
                self._sock.sendall(encode_raw_frame(state.encode("latin-1")))
            write_frame(self._sock, ["r", report_json])
