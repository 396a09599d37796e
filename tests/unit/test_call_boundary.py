"""The call pipeline's boundary (issue 11): sizes before work, bounded records, any exception
a tool raises ends its call, guest reports never raise, frames decoded flat and capped."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from codeact import Limits, Tool, tool
from codeact.bridge.output import CappedOutput
from codeact.bridge.protocol import PROGRAM_REPORT, GuestError, RunOutcome
from codeact.calls.pipeline import ToolPipeline
from codeact.calls.sizes import (
    ResultTooLarge,
    argument_size_error,
    bounded_copy,
    json_size_over,
)
from codeact.errors import ConfigurationError
from codeact.sandbox.guest.wire import FrameReader, ProtocolError, decode_flat, encode_frame


def test_json_size_over_stops_early_and_never_recurses() -> None:
    assert not json_size_over({"a": [1, 2, "x" * 10]}, 100)
    assert json_size_over("x" * 101, 100)
    assert json_size_over(["x" * 60, "y" * 60], 100)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert json_size_over(deep, 1000)  # no RecursionError
    assert json_size_over([0] * 10**6, 1000)


def test_bounded_copy_keeps_small_values_and_summarizes_large_ones() -> None:
    small = {"city": "Paris"}
    assert bounded_copy(small) is small
    big = {"text": "z" * 100_000, "items": list(range(10_000))}
    copy = bounded_copy(big)
    assert len(json.dumps(copy)) < 4096
    assert copy["text"].startswith("zzz") and "more chars" in copy["text"]
    assert "more items" in copy["items"][-1]
    deep: Any = "leaf"
    for _ in range(50_000):
        deep = [deep, "x" * 1000]
    assert len(json.dumps(bounded_copy(deep))) < 16 * 1024


def test_argument_size_error_counts_utf8_bytes_and_names_the_limit() -> None:
    assert argument_size_error("f", "x" * 100, 100) is None
    message = argument_size_error("f", "é" * 60, 100)  # 120 bytes
    assert message is not None and "Limits.tool_argument_bytes=100" in message
    assert "f()" in message


def test_a_result_over_its_limit_reads_as_a_sentence_with_the_limit_as_people_write_it() -> None:
    # It read "the result of huge() is larger, over the limit (...=16777216 bytes)".
    assert str(ResultTooLarge("huge", 16 << 20, None)).startswith(
        "the result of huge() is larger as JSON than the limit (Limits.tool_result_bytes=16 MiB): "
        "have the tool return less"
    )
    assert str(ResultTooLarge("huge", 1000, 123_456)).startswith(
        "the result of huge() is 123,456 bytes of JSON, over the limit "
        "(Limits.tool_result_bytes=1,000 bytes): "
    )
    message = argument_size_error("f", "x" * 5000, 4096)
    assert message is not None
    assert message.startswith(
        "the arguments of f() are 5,000 bytes of JSON or more, over the limit"
    )
    assert "(Limits.tool_argument_bytes=4 KiB)" in message


def test_limits_document_and_check_the_new_fields() -> None:
    limits = Limits()
    assert limits.tool_argument_bytes == 4 << 20 and limits.tool_result_bytes == 16 << 20
    assert limits.approval_denials == 20 and limits.approval_wait == 600
    assert "tool_argument_bytes" not in repr(limits)  # shown only when changed
    assert "tool_result_bytes=1 MiB" in repr(Limits(tool_result_bytes=1 << 20))
    with pytest.raises(ConfigurationError, match="tool_argument_bytes"):
        Limits(tool_argument_bytes=0)


@tool
def returns(value: Any) -> Any:
    """Returns `value`."""
    return value


class _Exploding:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    "exc",
    [SystemExit(1), KeyboardInterrupt(), GeneratorExit(), asyncio.CancelledError(),
     StopIteration(), type("Bad", (Exception,), {"__str__": lambda self: 1 / 0})()],
)  # fmt: skip
async def test_direct_calls_turn_any_exception_into_a_failed_call(exc: BaseException) -> None:
    @tool
    def raiser() -> None:
        """Raises."""
        raise exc

    @tool
    async def async_raiser() -> None:
        """Raises, from a coroutine."""
        raise exc

    pipeline = ToolPipeline()
    for target in (raiser, async_raiser):
        result = await asyncio.wait_for(pipeline.call_direct(target, {}), 5)
        assert not result.ok and result.error_kind == "error"
        assert type(exc).__name__ in (result.error or "")
    assert asyncio.get_running_loop().is_running()


async def test_a_result_over_the_limit_is_refused_before_it_is_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[Any] = []

    @tool
    def big() -> list[str]:
        """Returns about 2 MB."""
        return ["x" * 1000] * 2000

    original = type(big).to_json

    def to_json(self: Tool, value: Any) -> Any:
        converted.append(value)
        return original(self, value)

    monkeypatch.setattr(type(big), "to_json", to_json)
    result = await ToolPipeline().call_direct(big, {}, max_result_bytes=1 << 20)
    assert not result.ok and "Limits.tool_result_bytes" in (result.error or "")
    assert converted == []


def test_guest_reports_never_raise() -> None:
    for text in ["[" * 100_000 + "]" * 100_000, "1" * 10_000, "[1]", "nul", '{"error": 5}']:
        outcome = RunOutcome.from_guest_json(text, max_chars=10**7)
        assert outcome.error is None or outcome.error.type == "SandboxError"
    deep = '{"has_value": true, "value": ' + "[" * 400 + "]" * 400 + "}"
    outcome = RunOutcome.from_guest_json(deep, max_chars=10**7)
    assert outcome.value is None and "nested" in (outcome.value_repr or "")


def test_frames_are_decoded_flat() -> None:
    assert decode_flat(b'["c", "echo", "{\\"a\\": 1}"]') == ["c", "echo", '{"a": 1}']
    assert decode_flat(b'["w", -1]') == ["w", -1]
    for bad in [b'["c", []]', b'["c", {}]', b"[1e9]", b'["a"] x', b'["a",]', b"\xff", b"[" * 10**5]:
        with pytest.raises(ProtocolError):
            decode_flat(bad)


def test_a_frame_over_its_kinds_limit_is_refused_on_its_prefix() -> None:
    reader = FrameReader(max_frame=100, kind_limits={"c": 1000})
    assert reader.feed(encode_frame(["c", "x" * 500])) == [["c", "x" * 500]]
    with pytest.raises(ProtocolError, match="over the limit of 1000"):
        FrameReader(max_frame=100, kind_limits={"c": 1000}).feed(
            struct.pack(">I", 60 << 20) + b'["c", '
        )
    with pytest.raises(ProtocolError, match="over the limit of 100"):
        FrameReader(max_frame=100, kind_limits={"c": 1000}).feed(struct.pack(">I", 500) + b'["r", ')


def test_a_program_report_handed_over_before_saving_is_never_output() -> None:
    output = CappedOutput(100)
    output.write(PROGRAM_REPORT, '{"value": 1}')
    output.write(1, "hi")
    assert (output.stdout, output.stderr, output.used) == ("hi", "", 2)


def test_an_unsaved_session_program_keeps_its_outcome_and_says_why() -> None:
    ended = RunOutcome(error=GuestError("RecursionError", "the stack ran out"))
    outcome = RunOutcome.unsaved('{"value": 7, "has_value": true}', ended, max_chars=1000)
    assert (outcome.value, outcome.error) == (7, None)
    assert outcome.state is not None and outcome.state.state is None
    assert "RecursionError: the stack ran out" in (outcome.state.failed or "")
    for forged in ("[", "x" * 2000, '{"error": 5}'):  # the guest is untrusted here too
        outcome = RunOutcome.unsaved(forged, ended, max_chars=1000)
        assert outcome.state is not None and outcome.state.failed
