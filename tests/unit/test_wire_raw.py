"""Raw frames: a session's state crosses the jail's channel as bytes, not base64 in JSON."""

from __future__ import annotations

import socket

import pytest

from codeact.sandbox.guest.wire import (
    FrameReader,
    ProtocolError,
    encode_frame,
    encode_raw_frame,
    read_frame,
)

STATE = bytes(range(256)) * 40  # every byte value, NULs and quotes included


def test_a_raw_frame_comes_back_as_its_bytes_between_json_frames() -> None:
    reader = FrameReader(max_frame=64, kind_limits={"r": 1 << 20, "raw": len(STATE) + 1})
    stream = encode_raw_frame(STATE) + encode_frame(["r", "{}"])
    frames = []
    for i in range(0, len(stream), 7):  # in pieces, as a socket delivers them
        frames += reader.feed(stream[i : i + 7])
    assert frames == [STATE, ["r", "{}"]]


def test_a_raw_frame_is_refused_where_none_is_expected_or_over_its_limit() -> None:
    with pytest.raises(ProtocolError):  # no "raw" limit: not a session's run
        FrameReader(max_frame=1 << 20).feed(encode_raw_frame(b"x"))
    with pytest.raises(ProtocolError, match="over the limit of 11"):
        FrameReader(max_frame=8, kind_limits={"raw": 11}).feed(encode_raw_frame(b"y" * 100))


def test_the_trusted_side_reads_raw_and_json_frames() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(encode_frame({"run": "{}", "raw_state": True}) + encode_raw_frame(STATE))
        assert read_frame(right) == {"run": "{}", "raw_state": True}
        assert read_frame(right) == STATE
