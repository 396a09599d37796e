"""The wire between the host and a program that runs in another process: its spec and codec.

Used by every process backend: the host's relay (`sandbox/relay/serve.py`), the jail's
children (`jail/glue.py`) and the hyperlight worker (`hyperlight/worker.py`). Standard library
only, because the guest side loads it where the host package is absent.

Frames
    Both directions: a 4-byte big-endian length, then that many bytes of UTF-8 JSON; or, for
    a session's state (opaque bytes, never decoded here), a raw frame: the length, a NUL
    (which JSON text never starts with), then the bytes.

Messages
    host -> sandbox   the run request, once: {"run": <runner request JSON>, "limits": {...}}
    sandbox -> host   ["c", name, args_json]   call a tool        -> [ok, payload]
                      ["s", name, args_json]   start a tool call  -> [ok, id | payload]
                      ["w", timeout_ms]        finished calls     -> [[id, ok, payload], ...]
                      ["h", request_json]      an HTTP request    -> [ok, payload]
                      ["g", offset, length]    bytes of the session's state -> a raw frame
                      ["d", count]             output the runner dropped so far (no reply)
                      <raw frame>              the new state, if any, right before the report
                      ["r", report_json]       the run's report (last frame)
                      ["x", message]           the sandbox could not be set up (last frame)

    A negative ``timeout_ms`` waits as long as the run may last. ``count`` is a decimal string.

Output
    Output does not use frames: it is written to two pipes (file descriptors 1 and 2 in a
    jail's child), which the host reads and caps, so ``print`` and a raw ``os.write(1, ...)``
    arrive in the same order.

    Every sandbox -> host message is a flat list of strings and integers, and that is all the
    host decodes: no frame from a sandbox can make the host build a tree of objects.

Trust
    The sandbox side is reachable by the program, which may send anything: the host trusts
    none of it and reads with `FrameReader`: a size limit per frame (per kind, read from the
    frame's first bytes, checked against the length prefix before the frame is read), a flat
    decoding (`decode_flat`), and every malformed frame is a `ProtocolError`. The sandbox side
    trusts the host and reads with `read_frame`.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FrameReader",
    "FrameTooLarge",
    "ProtocolError",
    "decode_flat",
    "encode_frame",
    "encode_raw_frame",
    "read_frame",
    "write_frame",
]

_HEADER = struct.Struct(">I")
_CHUNK = 1 << 20


class ProtocolError(Exception):
    """The other end sent something that is not a valid frame."""


class FrameTooLarge(ProtocolError):
    """A frame over its limit, refused on its length prefix: its `kind` (None when its first
    bytes had not arrived) and those first bytes, `head` (at most 512)."""

    def __init__(self, size: int, limit: int, head: bytes) -> None:
        super().__init__(f"a frame of {size} bytes is over the limit of {limit}")
        self.size, self.limit, self.head = size, limit, head
        match = _KIND.match(head)
        self.kind = match.group(1).decode("ascii") if match else None


def encode_frame(message: Any) -> bytes:
    """`message` as one frame: its length, then its JSON."""
    data = json.dumps(message).encode("utf-8")
    return _HEADER.pack(len(data)) + data


def encode_raw_frame(data: bytes) -> bytes:
    """`data` as one raw frame: its length (with the NUL), a NUL, the bytes as they are."""
    return _HEADER.pack(len(data) + 1) + _RAW + data


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
    payload = _recv_exact(sock, size)
    return payload[1:] if payload.startswith(_RAW) else json.loads(payload)


class FrameReader:
    """Reads frames from an untrusted peer: feed it bytes as they arrive; it returns the
    complete frames, decoded by `decode_flat`. It never holds more than one frame's worth of
    bytes and refuses a frame over its limit as soon as its length prefix and kind arrive,
    before reading it: `kind_limits` maps a kind (``"c"``...) to its limit, `max_frame` is the
    limit of every other frame. A raw frame comes back as its bytes, only if `kind_limits`
    has a ``"raw"`` limit (a session's run). Every failure is a `ProtocolError`."""

    def __init__(self, *, max_frame: int, kind_limits: Mapping[str, int] | None = None) -> None:
        self.max_frame = max_frame
        self.kind_limits = dict(kind_limits or {})
        self._smallest = min([max_frame, *self.kind_limits.values()])
        self._largest = max([max_frame, *self.kind_limits.values()])
        self._buffer = bytearray()

    def limit_for(self, head: bytes) -> int:
        """The size limit of a frame whose payload starts with `head` (its first bytes)."""
        if head.startswith(_RAW):
            return self.kind_limits.get("raw", self.max_frame)
        match = _KIND.match(head)
        if match is None:
            return self.max_frame
        return self.kind_limits.get(match.group(1).decode("ascii"), self.max_frame)

    def _head(self) -> bytes:
        return bytes(self._buffer[_HEADER.size : _HEADER.size + 512])

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        frames: list[Any] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > self._largest:
                raise FrameTooLarge(size, self._largest, self._head())
            if size > self._smallest:
                # Large enough to need its kind's limit: wait for its first bytes.
                head = bytes(self._buffer[_HEADER.size : _HEADER.size + _HEAD])
                if len(head) < min(_HEAD, size):
                    break
                limit = self.limit_for(head)
                if size > limit:
                    raise FrameTooLarge(size, limit, self._head())
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            if payload.startswith(_RAW) and "raw" in self.kind_limits:
                frames.append(payload[1:])
            else:
                frames.append(decode_flat(payload))
        return frames


_HEAD = 4  # the bytes of a payload that name its kind: ["c"
_RAW = b"\x00"  # the first byte of a raw frame's payload
_KIND = re.compile(rb'\["([a-z])"')
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_SPACE = re.compile(r"[ \t\n\r]*")


def decode_flat(payload: bytes) -> list[str | int]:
    """A frame from an untrusted peer: a JSON list of strings and integers, nothing nested.

    Decoded with `json`'s own string scanner, so its cost is linear in the payload and it
    builds one string per item (a nested or huge-number payload is a `ProtocolError`)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a frame was not UTF-8") from None
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise ProtocolError("a frame was not a list of strings and integers")
    pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    items: list[str | int] = []
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            if text.startswith('"', pos):
                try:
                    item, pos = _scanstring(text, pos + 1, True)
                except ValueError:
                    raise ProtocolError("a frame held a malformed string") from None
                items.append(item)
            else:
                number = _INT.match(text, pos)
                if number is None:
                    raise ProtocolError("a frame was not a list of strings and integers")
                items.append(int(number.group()))
                pos = number.end()
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith(",", pos):
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            raise ProtocolError("a frame was not a list of strings and integers")
    if _SPACE.match(text, pos).end() != len(text):  # type: ignore[union-attr]
        raise ProtocolError("a frame had bytes after its list")
    return items


_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]
