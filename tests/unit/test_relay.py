"""The host's reading of frames from a sandbox process, and its account of a process that
ended without a report."""

from __future__ import annotations

import os
import signal

import pytest

from codeact import Limits
from codeact.sandbox.guest.wire import FrameReader, ProtocolError, encode_frame
from codeact.sandbox.relay import describe_exit


def test_frames_split_across_reads_are_reassembled() -> None:
    data = encode_frame(["c", "add", '{"a": 1}']) + encode_frame(["w", 5])
    reader = FrameReader(max_frame=1024)
    frames = []
    for i in range(len(data)):
        frames += reader.feed(data[i : i + 1])
    assert frames == [["c", "add", '{"a": 1}'], ["w", 5]]


@pytest.mark.parametrize(
    "data",
    [
        (1 << 30).to_bytes(4, "big"),  # a frame over the limit
        (5).to_bytes(4, "big") + b"nope!",  # not JSON
        (200_001).to_bytes(4, "big") + b"[" * 100_000 + b"]" * 100_001,  # nesting
        (2).to_bytes(4, "big") + b"\xff\xfe",  # not UTF-8
    ],
    ids=["oversized", "not-json", "nested", "not-utf8"],
)
def test_malformed_frames_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameReader(max_frame=1 << 20).feed(data)


@pytest.mark.parametrize(
    ("status", "limit", "kind"),
    [
        (signal.SIGXCPU, "wall_time", None),
        (signal.SIGABRT, "memory", None),
        (signal.SIGKILL, None, "Killed"),
        (signal.SIGSEGV, None, "InterpreterCrash"),
        (signal.SIGSYS, None, "SandboxViolation"),
        (signal.SIGTERM, None, "Killed"),
        (3 << 8, None, "SystemExit"),
    ],
)
def test_deaths_are_explained(status: int, limit: str | None, kind: str | None) -> None:
    outcome = describe_exit(status, Limits(memory_mb=64))
    if limit is not None:
        assert outcome.stop is not None and outcome.stop.limit == limit
    else:
        assert outcome.error is not None and outcome.error.type == kind
    assert os.WIFEXITED(0) and describe_exit(0, Limits()).error is None
