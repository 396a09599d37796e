"""`visible`: text from a program or a tool argument, made safe to show to a person.

A program controls the text of its code, its tool calls' arguments and its output. Shown
raw on a terminal, a carriage return, a backspace, an ANSI escape sequence or a bidi override
can hide or reorder what a person is asked to approve (a line that calls a gated tool,
overwritten by the next). Everything shown to a person for a decision goes through
`visible`: control and format characters become escapes (``\\x1b``, ``\\r``, ``\\u202e``),
lone surrogates too; line breaks stay line breaks only where the caller says so.

`utf8_safe` is for text written out rather than shown (an audit file, a trace exported as
protobuf): the same text, with only its lone surrogates escaped, since UTF-8 cannot hold them
and a writer refuses the whole line or attribute that has one.

`finite_json` is for JSON written out: a program or a model may pass NaN or an infinity as a
tool's argument (a float parameter takes them), which `json.dumps` would write as the bare
tokens ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (JavaScript's JSON.parse,
Go, jq and Postgres refuse the whole line). Such a float is written as the *string*
``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (as the Protocol Buffers JSON mapping does), and
what writes it passes ``allow_nan=False``, so that strict JSON is all it can write.

`shown_name` and `name_bytes` are for a file name the program chose under /output, which the
host read from the file system: bytes that are not UTF-8 (``open(b'/output/x\\xff', 'wb')``)
reach Python as lone surrogates (``os.fsdecode``'s surrogateescape), which UTF-8, JSON and
URLs cannot hold. Shown, each such byte is written ``\\xNN`` (``x\\xff``), everywhere the
name is shown or written out; in a URL, the name's own bytes are percent-encoded (``x%FF``).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "finite_json",
    "name_bytes",
    "shown_name",
    "utf8_safe",
    "utf8_safe_json",
    "visible",
    "visible_cut",
]

# C0 and C1 controls, DEL, every invisible format character (Unicode's category Cf: zero-width,
# bidi embeddings/overrides/isolates, word joiner, BOM, the tag characters that can spell text
# no one sees, musical and shorthand format controls), line and paragraph separators, and
# lone surrogates.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_HIDDEN_OR_NEWLINE = re.compile(_HIDDEN.pattern[:-1] + "\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0D:
        return "\\r"
    if code == 0x0A:
        return "\\n"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, *, newlines: bool = True) -> str:
    """`text` with every control or invisible character escaped; tabs kept, and line breaks
    kept when `newlines` (escaped as ``\\n`` otherwise)."""
    return (_HIDDEN if newlines else _HIDDEN_OR_NEWLINE).sub(_escape, text)


def visible_cut(text: str, limit: int) -> str:
    """`text` on one line, every control or invisible character and line break escaped
    (`visible`), at most `limit` characters of that and, when it was cut, how long `text`
    was: for a name, an id or a type that a model, its server or a program chose, which may
    be megabytes long and may hold an escape sequence meant for whoever reads it."""
    shown = visible(text[:limit], newlines=False)
    if len(text) <= limit and len(shown) <= limit:
        return shown
    return f"{shown[:limit]}... [{len(text):,} characters in all]"


def utf8_safe(text: str) -> str:
    """`text` itself unless it holds lone surrogates (which a program can put in any string
    it sends); then a copy with those as ``\\udXXX`` escapes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_name_byte(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def shown_name(text: str) -> str:
    """`text` (a file name, or a message that holds one) with each byte that was not UTF-8
    written ``\\xNN``, as the name's bytes would be shown (any other lone surrogate as
    ``\\udXXX``): valid UTF-8, so JSON, a terminal and a model's API all take it."""
    return _SURROGATE.sub(_escape_name_byte, text) if not text.isascii() else text


def name_bytes(text: str) -> bytes:
    """The bytes of the file name `text` (as ``os.fsencode`` gives them on POSIX); a lone
    surrogate that no byte made is written as UTF-8 would, were it allowed."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def utf8_safe_json(value: Any) -> Any:
    """`value` (JSON: dicts, lists, strings...) with `utf8_safe` applied to every string,
    keys included; other values as they are."""
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, dict):
        return {utf8_safe_json(key): utf8_safe_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [utf8_safe_json(item) for item in value]
    return value


_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def finite_json(value: Any) -> Any:
    """`value` with every float that is not finite, in dicts, lists and tuples at any depth,
    replaced by the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``: what strict JSON
    (``json.dumps(..., allow_nan=False)``) can hold. `value` itself when it has none (nothing
    is copied then); walked without recursion, and each container once (a value that holds
    itself is left for the writer to refuse)."""
    if type(value) is float:
        return value if math.isfinite(value) else _NON_FINITE.get(value, "NaN")
    if not isinstance(value, (dict, list, tuple)) or not _has_non_finite(value):
        return value
    return _replaced(value)


def _has_non_finite(value: Any) -> bool:
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, float):
                if not math.isfinite(child):
                    return True
            elif isinstance(child, (dict, list, tuple)):
                stack.append(child)
    return False


def _replaced(value: Any) -> Any:
    """A copy of `value` (known to hold a float that is not finite) with those replaced:
    dicts as dicts, lists and tuples as lists, as JSON writes them."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    copies: dict[int, Any] = {}  # a container met again gets the same copy (no endless walk)
    while stack:
        item, target, key = stack.pop()
        if isinstance(item, float):
            target[key] = item if math.isfinite(item) else _NON_FINITE.get(item, "NaN")
        elif id(item) in copies:
            target[key] = copies[id(item)]
        elif isinstance(item, dict):
            target[key] = copies[id(item)] = mapping = dict(item)
            stack.extend((child, mapping, name) for name, child in item.items())
        elif isinstance(item, (list, tuple)):
            target[key] = copies[id(item)] = items = list(item)
            stack.extend((child, items, index) for index, child in enumerate(item))
        else:
            target[key] = item
    return root[0]
