"""What a call's arguments may cost the host: refused before parsing when their shape would
cost far more than their size (on every backend: tests/escapes/test_argument_load_escapes.py).

A program's 4 MB of ``[[], [], ...]`` (under `Limits.tool_argument_bytes`) was parsed by the
host twice (once for the record, once by the validator), 0.5-2 s with the GIL held and about
110 MB per call.
"""

from __future__ import annotations

import json

from codeact.calls.sizes import ARGUMENT_CONTAINERS, argument_size_error


# -- refused before parsing: more lists and objects than any call needs ---------------------
def test_arguments_with_too_many_lists_and_objects_are_refused_unparsed() -> None:
    assert ARGUMENT_CONTAINERS == 100_000
    under = json.dumps({"rows": [[]] * (ARGUMENT_CONTAINERS - 2)})  # with the two around it
    assert argument_size_error("f", under, 4 << 20) is None
    over = json.dumps({"rows": [{}] * (ARGUMENT_CONTAINERS - 1)})
    message = argument_size_error("f", over, 4 << 20)
    assert message is not None and "\n" not in message
    assert message.startswith("the arguments of f() hold more than 100,000 lists and objects")
    assert "Limits.tool_argument_bytes" not in message  # not a size: the shape


def test_brackets_inside_strings_are_not_lists() -> None:
    text = json.dumps({"code": "[{" * 200_000, "more": ["x]", "[y"] * 1000})
    assert argument_size_error("f", text, 4 << 20) is None
    # Brackets escaped inside strings (\" and \\ before them) are read as JSON reads them.
    tricky = json.dumps({"s": '\\"[' * 60_000, "t": '"{\\' * 60_000})
    assert argument_size_error("f", tricky, 4 << 20) is None
    hidden = '{"s": "\\\\"' + ", []" * 100_001 + "}"  # the string ends: the lists are real
    assert argument_size_error("f", hidden, 4 << 20) is not None


def test_many_strings_holding_brackets_are_counted_as_written() -> None:
    """Finding the strings costs a pass per string: past `ARGUMENT_CONTAINERS` strings the
    brackets are counted wherever they are (the refusal says so), not searched for."""
    text = json.dumps({"v": ["["] * 150_000})
    message = argument_size_error("f", text, 4 << 20)
    assert message is not None and "inside strings" in message
