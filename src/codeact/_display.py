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
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["utf8_safe", "utf8_safe_json", "visible", "visible_cut"]

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
