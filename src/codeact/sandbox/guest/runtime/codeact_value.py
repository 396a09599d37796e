"""The program's value as the runner's report carries it: the value itself when it is exactly
JSON (and the host reads it: no whole number of more than 4,300 digits), else its repr() (cut
to the output limit, and the cut counted), else a note that says why there is neither.

Runs inside the sandbox, on any backend's interpreter; imports only the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["value_report"]


#: Values nested deeper than this come back as their repr, and deeper than `_REPR_DEPTH` as a
#: placeholder: under WebAssembly the C encoders' recursion is stopped only by the guest's
#: stack (a value about 1,000 deep ended the whole run), so every backend stops here instead.
_JSON_DEPTH = 200
_REPR_DEPTH = 400


_CONTAINERS = (dict, list, tuple, set, frozenset)

#: The most digits of a whole number the host reads from a report (the default of CPython's
#: limit on int-to-str conversion): a value that holds a longer one (a program that lifted its
#: own limit) comes back as its repr, which the host takes as text.
_INT_DIGITS = 4300
_HUGE = 10**_INT_DIGITS  # the least number of more digits
_DIGIT_RUN = re.compile(f"(?<![0-9])[0-9]{{{_INT_DIGITS + 1}}}")  # from a run's start: linear


def _shape(value: Any, deepest: int) -> tuple[bool, int]:
    """Whether every dict in `value` has only str keys, and how deep its containers nest, up
    to `deepest` + 1 (where the walk stops). Level by level, each container once, at the
    first level it is met: a container inside itself (``[...]`` in a repr) adds nothing.
    Without recursion: the value can be deeper than Python's stack."""
    string_keys = True
    seen = {id(value)}
    level = [value]
    depth = 0
    while level and depth <= deepest:
        depth += 1
        below = []
        for item in level:
            if isinstance(item, dict):
                string_keys = string_keys and all(isinstance(key, str) for key in item)
                item = item.values()
            for child in item:
                if isinstance(child, _CONTAINERS) and id(child) not in seen:
                    seen.add(id(child))
                    below.append(child)
        level = below
    return string_keys, depth


def value_report(value: Any, limit: int) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        string_keys, depth = (
            _shape(value, _REPR_DEPTH) if isinstance(value, _CONTAINERS) else (True, 0)
        )
    except Exception:  # a container subclass of the program's whose iteration fails
        string_keys, depth = False, 0
    if depth > _REPR_DEPTH:
        shown = f"<{type(value).__name__} object nested more than {_REPR_DEPTH} levels deep>"
        return {"has_value": True, "value_repr": shown}
    try:
        # Exactly JSON or not at all: json.dumps would turn {1: "a", "1": "b"} into {"1": "b"}
        # and nan into NaN, which is not JSON; such values come back as their repr().
        if depth <= _JSON_DEPTH and string_keys:
            text = json.dumps(value, allow_nan=False)
            if len(text) <= limit and not _holds_huge_int(text, value):
                return {"has_value": True, "value": value}
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        shown = repr(value)
    except BaseException as exc:
        why = ""
        if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
            why = f": a number over {_INT_DIGITS} digits; sys.set_int_max_str_digits(0) shows it"
        shown = f"<{type(value).__name__} object (repr failed{why})>"
    shown, cut = _cut(shown, limit)
    if cut:
        # Marked in the text for whoever reads it, and counted for the host: the CLI and the
        # result say the value was cut, as they do for cut output.
        shown += f"... [{cut} more bytes cut]"
        return {"has_value": True, "value_repr": shown, "value_truncated": cut}
    return {"has_value": True, "value_repr": shown}


def _holds_huge_int(text: str, value: Any) -> bool:
    """Whether `value`, whose JSON is `text`, holds a whole number of more than `_INT_DIGITS`
    digits. Its text first: only such a number (or a string) has such a run of digits."""
    if len(text) <= _INT_DIGITS or _DIGIT_RUN.search(text) is None:
        return False
    stack = [value]  # JSON already: dicts, lists and tuples, no cycle, at most 200 deep
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= _HUGE:
            return True
    return False


def _cut(text: str, limit: int) -> tuple[str, int]:
    """`text`'s first `limit` bytes of UTF-8 (whole characters), and how many bytes it loses."""
    if len(text) * 4 <= limit:  # no character is more than 4 bytes: nothing to cut
        return text, 0
    data = text.encode("utf-8", "surrogatepass")  # a __repr__ may return lone surrogates
    if len(data) <= limit:
        return text, 0
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:  # not inside a character
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass"), len(data) - end
