"""JSON text read and written on a tool call's path, as `json` would, without its per-call setup.

Every tool call parses the program's arguments and encodes the tool's result. `json.loads`
matches a regular expression on each side of the text and `json.dumps` builds a new C encoder
for every value; for the small values most calls carry that setup is half the cost (1-2 us
of a call's 10-15 on the host). These keep one scanner and one encoder:

* `loads(text)`: exactly `json.loads(text)` (same values, same errors): the scanner alone reads
  a text that is one value with nothing around it, anything else goes to `json.loads`;
* `dumps_converted(value)`: exactly `json.dumps(value)` for a value made only of dicts, lists,
  strings, numbers, booleans and None and nested less deep than the recursion limit, as
  `codeact.tools.results.to_json_value` returns. It does not look for circular references
  (such a value has none): json.dumps's check keeps a dict shared by every thread, which a
  kept encoder cannot.
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["dumps_converted", "loads"]

_SCAN: Callable[[str, int], tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]

_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Callable[[Any, int], Any] | None = (
    _c_make_encoder(
        None,  # no markers: see the module's docstring
        json.JSONEncoder().default,  # raises TypeError, as json.dumps does
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    if _c_make_encoder is not None
    else None
)


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`."""
    if isinstance(text, str):
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        if end == len(text):
            return value
    return json.loads(text)


def dumps_converted(value: Any) -> str:
    """`json.dumps(value)` for a value of plain JSON types (see the module's docstring)."""
    if _ENCODE is None or isinstance(value, str):
        return json.dumps(value)
    return "".join(_ENCODE(value, 0))
