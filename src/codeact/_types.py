"""Type aliases shared by every layer."""

from __future__ import annotations

from typing import Any, TypeAlias

#: A value that survives `json.dumps`/`json.loads` unchanged: what crosses the sandbox boundary.
JSONValue: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any] | None

#: A JSON object.
JSONObject: TypeAlias = dict[str, Any]

__all__ = ["JSONObject", "JSONValue"]
