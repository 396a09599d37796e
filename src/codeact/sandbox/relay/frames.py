"""Length-prefixed JSON frames, read defensively: the other end is untrusted.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. The reader never
holds more than one frame's worth of bytes, refuses frames over its size limit, and turns every
decoding failure (including a `RecursionError` from absurdly nested JSON) into `ProtocolError`.
"""

from __future__ import annotations

import json
import struct
from typing import Any

__all__ = ["FrameReader", "ProtocolError", "encode_frame"]

_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other end sent something that is not a valid frame."""


def encode_frame(message: Any) -> bytes:
    data = json.dumps(message).encode("utf-8")
    return _HEADER.pack(len(data)) + data


class FrameReader:
    """Feed it bytes as they arrive; it returns the complete frames, decoded."""

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
