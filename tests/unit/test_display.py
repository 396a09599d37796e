"""`visible`: what a program wrote is shown to a person with its control characters as escapes."""

from __future__ import annotations

import json
import math
from typing import Any

from codeact._display import finite_json, visible
from codeact.calls.approvals import ApprovalRequest
from codeact.calls.scan import scan_tool_calls


def test_controls_bidi_and_surrogates_become_escapes() -> None:
    text = "a\x1b[2Kb\rc\x07d\x9be\u202ef\u2066g\u200bh\ufeffi\ud800j"
    assert visible(text) == ("a\\x1b[2Kb\\rc\\x07d\\x9be\\u202ef\\u2066g\\u200bh\\ufeffi\\ud800j")


def test_tabs_and_printable_text_stay_and_line_breaks_are_the_callers_choice() -> None:
    assert visible("déjà vu\tok\n€ 你好") == "déjà vu\tok\n€ 你好"
    assert visible("one\ntwo", newlines=False) == "one\\ntwo"


def test_an_approval_request_describes_itself_escaped() -> None:
    request = ApprovalRequest(
        kind="block", code="send(1)  # \x1b[1A\x1b[2K\nprint('hi')", plan=None
    )
    text = request.describe()
    assert "\x1b" not in text and "\\x1b[1A" in text
    assert text.splitlines()[1:] == ["    send(1)  # \\x1b[1A\\x1b[2K", "    print('hi')"]
    call = ApprovalRequest(kind="call", tool="send", arguments={"to": "a\u202eb"})
    assert "\u202e" not in call.describe()


def test_a_plan_describes_itself_escaped() -> None:
    plan = scan_tool_calls("x = '\x1b'\n(", ["send"])
    assert "\x1b" not in plan.describe()


def test_finite_json_writes_non_finite_floats_as_strings_and_copies_only_then() -> None:
    plain = {"a": [1.5, {"b": (2, "x")}], "c": None}
    assert finite_json(plain) is plain
    value: dict[str, Any] = {"a": [math.nan, {"b": (math.inf, "x")}], "c": -math.inf, "d": 0.5}
    out = finite_json(value)
    assert out == {"a": ["NaN", {"b": ["Infinity", "x"]}], "c": "-Infinity", "d": 0.5}
    assert math.isnan(value["a"][0])  # the original is left as it was
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert finite_json(math.nan) == "NaN" and finite_json(2.0) == 2.0
    cyclic: list[object] = [math.nan]
    cyclic.append(cyclic)
    copied: list[object] = finite_json(cyclic)  # ends: the copy holds itself as the original did
    assert copied[0] == "NaN" and copied[1] is copied
    deep: list[object] = [math.inf]
    for _ in range(5000):
        deep = [deep]
    assert finite_json(deep) is not deep  # no recursion
