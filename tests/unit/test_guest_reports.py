"""The host's reading of a guest's report that is not what it should be: too large, or with
numbers JSON can write but the host will not read (untrusted input: never raises)."""

from __future__ import annotations

import json
import struct

import pytest

from codeact.bridge.protocol import RunOutcome
from codeact.sandbox.guest.wire import FrameReader, FrameTooLarge, encode_frame


def _error_report(size: int) -> str:
    return json.dumps({"error": {"type": "ValueError", "message": "x" * size, "lineno": 2}})


def test_a_report_over_its_limit_says_it_was_the_program_s_error() -> None:
    # It said only "the sandbox's report was too large".
    outcome = RunOutcome.from_guest_json(_error_report(5000), max_chars=1000)
    assert outcome.error is not None and outcome.error.type == "SandboxError"
    assert "too large (5,0" in outcome.error.message and "limit of 1,000" in outcome.error.message
    assert "the program's uncaught ValueError" in outcome.error.message
    exited = json.dumps({"exit_status": 3, "error": {"type": "SystemExit", "message": "x" * 5000}})
    outcome = RunOutcome.from_guest_json(exited, max_chars=1000)
    assert outcome.error is not None and "uncaught SystemExit" in outcome.error.message
    value = json.dumps({"has_value": True, "value": "x" * 5000})
    outcome = RunOutcome.from_guest_json(value, max_chars=1000)
    assert outcome.error is not None and "uncaught" not in outcome.error.message


def test_a_report_frame_over_its_limit_is_named_with_its_start() -> None:
    # The jail's relay said "the sandbox broke the channel protocol" for a program's own error.
    frame = encode_frame(["r", _error_report(5000)])
    with pytest.raises(FrameTooLarge, match="over the limit of 1000") as caught:
        FrameReader(max_frame=100, kind_limits={"r": 1000}).feed(frame)
    assert caught.value.kind == "r" and caught.value.size == len(frame) - 4
    assert caught.value.head.startswith(b'["r", "{\\"error\\": {\\"type\\": \\"ValueError\\"')
    with pytest.raises(FrameTooLarge) as caught:  # its first bytes not arrived yet
        FrameReader(max_frame=100, kind_limits={"r": 1000}).feed(struct.pack(">I", 60 << 20))
    assert caught.value.kind is None


def test_a_value_with_an_integer_of_thousands_of_digits_keeps_the_rest_of_the_report() -> None:
    # json.loads refused the digits and the whole report was lost: "the report was not JSON".
    digits = "1" + "0" * 5000
    text = '{"has_value": true, "value": {"n": -' + digits + ', "k": [1, 2]}, "output_dropped": 0}'
    outcome = RunOutcome.from_guest_json(text, max_chars=10**6)
    assert outcome.error is None and outcome.has_value
    assert outcome.value is None
    assert outcome.value_repr == "<the value holds an integer of 5,001 digits>"
    ok = RunOutcome.from_guest_json(
        '{"has_value": true, "value": [' + "9" * 4300 + "]}", max_chars=10**6
    )
    assert ok.error is None and ok.value == [int("9" * 4300)]


def test_an_exit_status_of_thousands_of_digits_is_an_unknown_status() -> None:
    huge = "1" + "0" * 5000
    text = (
        '{"exit_status": ' + huge + ', "error": {"type": "SystemExit", "message": "m", '
        '"traceback": "", "lineno": ' + huge + "}}"
    )
    outcome = RunOutcome.from_guest_json(text, max_chars=10**6)
    assert outcome.exit_status is None
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.lineno) == ("SystemExit", None)
