"""`ToolSet`: the ordered, name-unique collection of tools one CodeAct or agent offers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .._display import utf8_safe
from ..errors import ConfigurationError
from .definition import Tool, as_tool

__all__ = ["MAX_SHOWN_NAME", "ToolSet", "shown_name", "tool_list"]

#: The most characters of a name that is not a tool's that records and messages keep.
MAX_SHOWN_NAME = 200


def shown_name(name: str) -> str:
    """`name` as a record or a message shows it: its repr, cut past `MAX_SHOWN_NAME`."""
    if len(name) <= MAX_SHOWN_NAME:
        return repr(name)
    return f"{name[:MAX_SHOWN_NAME]!r}... ({len(name)} characters)"


def tool_list(tools: Any, *, what: str = "tools must be a list of tools") -> list[Any]:
    """The items of a `tools=` argument, which must be a list: one tool passed alone (the
    commonest slip) is a one-line `ConfigurationError` that shows the fix (``what``, then
    ``got function; write tools=[get_weather]``), not "'function' object is not iterable"."""
    if isinstance(tools, Mapping):  # {"name": fn}: iterating it gives the names
        names = (getattr(v, "name", None) or getattr(v, "__name__", None) for v in tools.values())
        named = [n for n in names if isinstance(n, str) and n.isidentifier()][:2]
        example = ", ".join(named) or "my_tool"
        raise ConfigurationError(
            f"{what}, got a dict; write tools=[{example}] (a tool is named after its "
            "function, or with @tool(name=...))"
        )
    if isinstance(tools, (Tool, str, bytes)) or callable(tools) or not _iterable(tools):
        name = getattr(tools, "name", None) or getattr(tools, "__name__", None)
        example = name if isinstance(name, str) and name.isidentifier() else "my_tool"
        raise ConfigurationError(f"{what}, got {type(tools).__name__}; write tools=[{example}]")
    return list(tools)


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


class ToolSet:
    """Tools by name, in the order they were added.

    Plain functions are accepted and described as tools on the way in.
    """

    def recorded_name(self, name: str) -> str:
        """`name` as a call's record keeps it: whole when a tool has it; a longer name no
        tool has is cut (`shown_name`), so that records (kept with the result, written to
        the audit) and messages do not keep megabytes of it per call."""
        if len(name) > MAX_SHOWN_NAME and name not in self:
            return shown_name(name)
        return name if name in self else utf8_safe(name)  # a file or a trace can keep it

    __slots__ = ("_tools",)

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self.add(*tool_list(tools))

    def add(self, *tools: Tool | Callable[..., Any]) -> None:
        """Add tools; a name that is already taken is an error (remove the old one first)."""
        for obj in tools:
            made = as_tool(obj)
            existing = self._tools.get(made.name)
            if existing is not None and existing is not made:
                raise ConfigurationError(
                    f"two tools are named {made.name!r}; tool names must be unique: rename "
                    "one (@tool(name=...) for a function; for the tools of an MCP server, "
                    "mcp_tools(..., prefix=...) or exclude=[...]; a framework's tool by its "
                    "framework's own name option)"
                )
            self._tools[made.name] = made

    def remove(self, name: str) -> Tool:
        """Remove and return the tool called `name`."""
        try:
            return self._tools.pop(name)
        except KeyError:
            raise ConfigurationError(self.unknown_message(name)) from None

    def clear(self) -> None:
        self._tools.clear()

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def describe_names(self) -> str:
        return ", ".join(self._tools) or "(none)"

    def unknown_message(self, name: str) -> str:
        """What a caller of a tool that is not here is told (the one wording, everywhere);
        a name longer than any tool's is shown cut (a program chooses its length)."""
        return f"there is no tool named {shown_name(name)}; the tools are: {self.describe_names()}"

    def copy(self) -> ToolSet:
        new = ToolSet.__new__(ToolSet)  # every execution copies: no checks to run again
        new._tools = dict(self._tools)
        return new

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"ToolSet([{self.describe_names()}])"
