"""A hint for a program that read a key from the wrong tool's result.

The sandbox already says which keys a tool's dict has when a program reads one it lacks
(``KeyError: "'region' (this dict from a tool has the keys: 'product', 'qty', 'unit_price')"``).
A small model often still cannot tell where the key lives, and sends the same program again.
The tools' typed return shapes know: ``'region' is a key of User, which list_users()
returns``. That line is added to what the model is told about the failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..tools import Tool
from ..tools.schema import definition_keys, render_type

__all__ = ["HINT_MARKER", "missing_key_hint"]

#: How the hint line begins in the response (after the program's own error).
HINT_MARKER = "[hint]"

_MISSING = re.compile(r"""^['"](?P<key>[^'"]{1,100})['"] \(this dict from a tool has the keys""")


def missing_key_hint(error_type: str, message: str, tools: Iterable[Tool]) -> str | None:
    """The hint for a KeyError on a tool's dict, naming the tools whose return shapes have
    that key; None when it is not such an error or no tool returns the key."""
    if error_type != "KeyError":
        return None
    found = _MISSING.match(message.strip().strip('"'))
    if found is None:
        return None
    key = found.group("key")
    owners: list[str] = []
    for tool in tools:
        returned: dict[str, str] = {}  # the structured types of what the tool returns
        render_type(tool.return_annotation, returned)
        owners += [
            f"{name}, which {tool.name}() returns"
            for name, definition in returned.items()
            if key in definition_keys(definition)
        ]
    if not owners:
        return None
    return (
        f"{HINT_MARKER} '{key}' is a key of {'; and of '.join(owners)}: read it from that "
        "dict (keep it in a variable where you have it), then run the fixed program."
    )
