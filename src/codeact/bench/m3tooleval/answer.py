"""The benchmark's answer check, and how the answer is read out of a reply.

M3ToolEval's `Task.check_answer` (``tasks/base.py``) accepts an answer when it equals the
expected output, when both convert to the same int or float, when the answer read as a Python
literal equals it (lists compared item by item, each item also by int/float conversion), or
when both print the same. `check_answer` does that. One difference: in the original, the line
that compares literals is missing an ``or`` and raises, which its ``except`` swallows, so a
list answer only matched by its exact text (``"[1, 2]"`` but not ``"[1,2]"``); here the
comparison runs as written. Another: the original converts an expected float with ``int()``,
so "11287" passed for 11287.5; here a number is compared as the number it is.

The model is asked to end its reply with ``Answer: <answer>`` (the original prompt's form).
`extract_answer` takes the text after the last ``Answer:`` (the whole reply when there is
none) on its line, and drops surrounding backticks and bold marks and a final period;
`is_correct` also accepts a string answer with or without quotes.
"""

from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["check_answer", "extract_answer", "is_correct"]

_ANSWER = re.compile(r"answer\s*:", re.IGNORECASE)


def extract_answer(reply: str) -> str:
    """The answer part of a final reply: what follows the last ``Answer:``, on its line."""
    text = reply.strip()
    matches = list(_ANSWER.finditer(text))
    if matches:
        text = text[matches[-1].end() :].strip()
        text = text.splitlines()[0].strip() if text else ""
    text = text.strip().strip("`*").strip()  # markdown: **Answer:** `12.5`
    if text.endswith(".") and not _is_number(text):
        text = text[:-1].rstrip()
    return text


def is_correct(reply: str, expected: Any) -> bool:
    """Whether the final `reply` answers a task whose expected output is `expected`."""
    answer = extract_answer(reply)
    if check_answer(answer, expected):
        return True
    # A string answer the model quoted ("'fchahcufcu'") or left unquoted both count.
    return isinstance(expected, str) and check_answer(answer.strip("'\""), expected)


def check_answer(answer: str, expected: Any) -> bool:
    """M3ToolEval's check of one answer (see the module's note)."""
    if answer == expected or _convert(answer) == _convert(expected):
        return True
    try:
        value = ast.literal_eval(answer)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = _NOTHING
    if value is not _NOTHING:
        if value == expected or _convert(value) == _convert(expected):
            return True
        both_lists = isinstance(expected, (list, tuple)) and isinstance(value, (list, tuple))
        if both_lists and _compare_list(list(value), list(expected)):
            return True
    return str(answer) == str(expected)


_NOTHING = object()


def _compare_list(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    return all(x == y or _convert(x) == _convert(y) for x, y in zip(a, b, strict=True))


def _convert(value: Any) -> Any:
    """The original's `_try_to_convert_to_correct_type` (int, else float, else unchanged),
    except that a number stays the number it is: the original's ``int(11287.5)`` is 11287,
    which let the answer "11287" pass for 11287.5."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except (ValueError, TypeError, OverflowError):
            continue
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
