"""The wire between the host and a program that runs in another process: its spec and codec.

Used by every process backend: the host's relay (`sandbox/relay/serve.py`), the jail's
children (`jail/glue.py`) and the hyperlight worker (`hyperlight/worker.py`). Standard library
only, because the guest side loads it where the host package is absent.

Frames
    Both directions: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.

Messages
    host -> sandbox   the run request, once: {"run": <runner request JSON>, "limits": {...}}
    sandbox -> host   ["c", name, args_json]   call a tool        -> [ok, payload]
                      ["s", name, args_json]   start a tool call  -> [ok, id | payload]
                      ["w", timeout_ms]        finished calls     -> [[id, ok, payload], ...]
                      ["h", request_json]      an HTTP request    -> [ok, payload]
                      ["d", count]             output the runner dropped so far (no reply)
                      ["r", report_json]       the run's report (last frame)
                      ["x", message]           the sandbox could not be set up (last frame)

    A negative ``timeout_ms`` waits as long as the run may last. ``count`` is a decimal string.

Output
    Output does not use frames: it is written to two pipes (file descriptors 1 and 2 in a
    jail's child), which the host reads and caps, so ``print`` and a raw ``os.write(1, ...)``
    arrive in the same order.

Trust
    The sandbox side is reachable by the program, which may send anything: the host trusts
    none of it and reads with `FrameReader` (a size limit per frame; every malformed frame is a
    `ProtocolError`). The sandbox side trusts the host and reads with `read_frame`.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

__all__ = ["FrameReader", "ProtocolError", "encode_frame", "read_frame", "write_frame"]

_HEADER = struct.Struct(">I")
_CHUNK = 1 << 20


class ProtocolError(Exception):
    """The other end sent something that is not a valid frame."""


def encode_frame(message: Any) -> bytes:
    """`message` as one frame: its length, then its JSON."""
    data = json.dumps(message).encode("utf-8")
    return _HEADER.pack(len(data)) + data


def write_frame(sock: socket.socket, message: Any) -> None:
    sock.sendall(encode_frame(message))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    parts = []
    while n:
        chunk = sock.recv(min(n, _CHUNK))
        if not chunk:
            raise ConnectionError("the host closed the sandbox's channel")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_frame(sock: socket.socket) -> Any:
    """The next frame from a trusted peer (the host), blocking until it is complete."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return json.loads(_recv_exact(sock, size))


class FrameReader:
    """Reads frames from an untrusted peer: feed it bytes as they arrive; it returns the
    complete frames, decoded. It never holds more than one frame's worth of bytes, refuses
    frames over `max_frame`, and turns every decoding failure (including a `RecursionError`
    from absurdly nested JSON) into `ProtocolError`."""

    def __init__(self, *, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > self.max_frame:
                raise ProtocolError(
                    f"a frame of {size} bytes is over the limit of {self.max_frame}"
                )
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            try:
                frames.append(json.loads(payload))
            except (ValueError, RecursionError) as exc:
                raise ProtocolError(f"a frame was not valid JSON ({type(exc).__name__})") from None
        return frames
