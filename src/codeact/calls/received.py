"""`as_received`: a call's arguments as the tool receives them, in JSON values.

A program sends JSON; validation converts it to what the function's annotations ask for
(pydantic's lax mode: ``"false"``, ``"no"``, ``"0"`` and ``"off"`` become ``False`` for a
`bool`, ``"3"`` becomes ``3`` for an `int`, a string a `datetime`). Approval handlers,
middlewares and the audit record must decide about and record the call that runs, not the
text that was sent: ``request.arguments["dry_run"]`` read as true for ``"false"`` while the
tool ran with ``False``. So what they see is the validated keyword arguments, as JSON values,
for the keys the caller sent (a default the caller left out stays out, as before).

Part of the calls layer; imports pydantic_core only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python

__all__ = ["as_received"]

_SCALARS = (str, int, float, bool, type(None))


def as_received(sent: dict[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of `sent` (the caller's JSON object) as the tool receives them
    (`kwargs`, validated), in JSON values; `sent` itself when validation changed none."""
    received: dict[str, Any] | None = None
    for key, value in sent.items():
        if key not in kwargs:  # not passed to the tool
            received = received if received is not None else dict(sent)
            del received[key]
            continue
        given = kwargs[key]
        if given is value or (
            type(given) is type(value) and isinstance(value, _SCALARS) and given == value
        ):
            continue  # the common case: nothing converted
        try:
            shown = to_jsonable_python(given)
        except Exception:  # a value pydantic cannot show as JSON: say what it is
            shown = f"<{type(given).__name__}>"
        if type(shown) is type(value) and shown == value:
            continue
        received = received if received is not None else dict(sent)
        received[key] = shown
    return sent if received is None else received
