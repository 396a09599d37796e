"""`as_received`: a call's arguments as the tool receives them, in JSON values.

A program sends JSON; validation converts it to what the function's annotations ask for
(pydantic's lax mode: ``"false"``, ``"no"``, ``"0"`` and ``"off"`` become ``False`` for a
`bool`, ``"3"`` becomes ``3`` for an `int`, a string a `datetime`). Approval handlers,
middlewares and the audit record must decide about and record the call that runs, not the
text that was sent: ``request.arguments["dry_run"]`` read as true for ``"false"`` while the
tool ran with ``False``. So what they see is the validated keyword arguments, as JSON values,
for the keys the caller sent (a default the caller left out stays out, as before), and
nothing the caller sent is left out (an alias, a field a model does not serialize).

Bytes are shown as the base64 text a program sends for them (and that validating the shown
arguments again, `replace_arguments`, decodes back to the same bytes): never as their UTF-8
text, which a middleware passing the arguments back would have decoded as base64 again. Where
the caller sent text for bytes that the tool received as sent (base64 in another alphabet, or
a model's own UTF-8 bytes field), that text is shown.

Part of the calls layer; imports pydantic_core only (and `Tool` for its type).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["as_received"]

_SCALARS = (str, int, float, bool, type(None))
_MAX_MERGE_DEPTH = 32  # arguments nest at most 200 levels; past this, the converted form


def as_received(
    sent: dict[str, Any], kwargs: Mapping[str, Any], tool: Tool | None = None
) -> dict[str, Any]:
    """The arguments of `sent` (the caller's JSON object) as the tool receives them
    (`kwargs`, validated), in JSON values; `sent` itself when validation changed none.

    Nothing the caller sent is ever hidden from the handler: a key the tool gets under another
    name (a pydantic alias: ``from`` for ``from_``) stays as sent, and a field a model leaves
    out of its JSON (``Field(exclude=True)``) keeps the value sent for it.

    Where `tool`'s parameters are of JSON's own types (`Tool.validates_parse`), a list or
    dict it receives that equals the one sent (a copy, compared in C) is shown as sent,
    without converting it: it would convert to what was sent."""
    received: dict[str, Any] | None = None
    for key, value in sent.items():
        if key not in kwargs:  # an alias, or a name the tool does not take: as sent
            continue
        given = kwargs[key]
        if given is value or (
            type(given) is type(value) and isinstance(value, _SCALARS) and given == value
        ):
            continue  # the common case: nothing converted
        same_type = type(given) is type(value)
        if same_type and tool is not None and tool.validates_parse and given == value:
            continue  # a list or dict validated into an equal copy (its items the same)
        try:
            shown = _with_what_was_sent(to_jsonable_python(given, bytes_mode="base64"), value)
        except Exception:  # a value pydantic cannot show as JSON: what was sent
            continue
        if type(shown) is type(value) and shown == value:
            continue
        received = received if received is not None else dict(sent)
        received[key] = shown
    return sent if received is None else received


def _with_what_was_sent(shown: Any, sent: Any, depth: int = 0) -> Any:
    """`shown` (a converted value as JSON) with every key of `sent` it lacks put back as sent,
    at every level of objects both have (aliases, fields excluded from a model's JSON), and
    the text sent for bytes where it stands for the bytes shown (`_same_bytes`)."""
    if isinstance(shown, str) and isinstance(sent, str):
        return sent if shown != sent and _same_bytes(shown, sent) else shown
    if depth > _MAX_MERGE_DEPTH:
        return shown
    if isinstance(shown, list) and isinstance(sent, list) and len(shown) == len(sent):
        return [_with_what_was_sent(a, b, depth + 1) for a, b in zip(shown, sent, strict=True)]
    if not isinstance(shown, dict) or not isinstance(sent, dict):
        return shown
    merged = dict(shown)
    for key, value in sent.items():
        if key in merged:
            merged[key] = _with_what_was_sent(merged[key], value, depth + 1)
        else:
            merged[key] = value
    return merged


def _same_bytes(shown: str, sent: str) -> bool:
    """Whether `sent` is text for the bytes `shown` is the (URL-safe) base64 of: base64 of
    the same bytes in the standard alphabet, or their UTF-8 (a model's bytes field whose
    config reads JSON bytes as UTF-8)."""
    try:
        data = base64.urlsafe_b64decode(shown.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return False  # not bytes shown
    try:
        if base64.b64decode(sent.encode("ascii"), validate=True) == data:
            return True
    except (UnicodeEncodeError, binascii.Error, ValueError):
        pass
    return sent.encode("utf-8", "surrogatepass") == data
