"""What a LangGraph graph fills in a tool's arguments (``InjectedState``, ``InjectedStore``, a
``ToolRuntime``), for the tools a program calls through ``execute_code``.

LangGraph's tool node gives ``execute_code`` the runtime of its own call (its hidden
``runtime`` argument). A nested call of a tool that declares such arguments gets them from
that runtime, as the tool node gives them to a tool it calls itself: the graph's state (or one
field of it), the graph's store, and a ``ToolRuntime`` whose ``tool_call_id`` is the nested
call's. A program never sets them (they are not in the schema it is checked against). Outside
a graph there is no runtime: the call fails with a one-line error saying so.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GraphArgs", "NeedsLangGraph", "outer_runtime"]

# The ToolRuntime of the execute_code call that runs now (None outside a LangGraph graph).
_outer: contextvars.ContextVar[Any | None] = contextvars.ContextVar(
    "codeact_langgraph_runtime", default=None
)


class NeedsLangGraph(Exception):
    """A tool takes what only a LangGraph graph gives, and there is none (or it lacks it)."""


@contextlib.contextmanager
def outer_runtime(runtime: Any | None) -> Iterator[None]:
    """Make `runtime` (the ToolRuntime LangGraph gave execute_code) the nested calls' source."""
    token = _outer.set(runtime)
    try:
        yield
    finally:
        _outer.reset(token)


@dataclass(frozen=True)
class GraphArgs:
    """The arguments of one tool that a LangGraph tool node fills, found as it finds them."""

    tool: str
    state: Mapping[str, str | None]  # argument -> state field (None: the whole state)
    store: str | None
    runtime: str | None
    optional_state: frozenset[str]

    @classmethod
    def of(cls, lc_tool: Any, hidden: Collection[str]) -> GraphArgs | None:
        """The graph-filled arguments of `lc_tool` among those hidden from the model (`hidden`),
        or None when it has none (or LangGraph is not installed)."""
        try:
            from langgraph.prebuilt.tool_node import _get_all_injected_args
        except ImportError:
            return None
        found = _get_all_injected_args(lc_tool)
        state = {k: v for k, v in found.state.items() if k in hidden}
        store = found.store if found.store in hidden else None
        runtime = found.runtime if found.runtime in hidden else None
        if not (state or store or runtime):
            return None
        optional = frozenset(getattr(found, "_optional_state_args", ()))
        return cls(lc_tool.name, state, store, runtime, optional)

    def values(self, call_id: str) -> dict[str, Any]:
        """The values for a nested call with id `call_id`, from the outer call's runtime."""
        outer = _outer.get()
        if outer is None:
            raise NeedsLangGraph(
                f"{self.tool}() needs to run inside a LangGraph graph: it takes "
                f"{self._takes()}, which the graph's tool node gives execute_code, "
                "and there is no graph here"
            )
        values: dict[str, Any] = {}
        if self.state:
            values.update(self._state_values(outer.state))
        if self.store:
            if outer.store is None:
                raise NeedsLangGraph(
                    f"{self.tool}() takes the graph's store (InjectedStore), and this graph "
                    "has none: compile it with a store"
                )
            values[self.store] = outer.store
        if self.runtime:
            values[self.runtime] = dataclasses.replace(outer, tool_call_id=call_id)
        return values

    def _state_values(self, state: Any) -> dict[str, Any]:
        if isinstance(state, list):  # a tool node given a list of messages
            state = {"messages": state}
        values: dict[str, Any] = {}
        for argument, field in self.state.items():
            if not field:
                values[argument] = state
            elif isinstance(state, Mapping) and field in state:
                values[argument] = state[field]
            elif not isinstance(state, Mapping) and hasattr(state, field):
                values[argument] = getattr(state, field)
            elif argument not in self.optional_state:
                raise NeedsLangGraph(
                    f"{self.tool}() takes the graph state's {field!r} "
                    f"(InjectedState), and this graph's state has no {field!r}"
                )
        return values

    def _takes(self) -> str:
        what = [f"the graph's state ({', '.join(self.state)}: InjectedState)"] if self.state else []
        if self.store:
            what.append(f"the graph's store ({self.store}: InjectedStore)")
        if self.runtime:
            what.append(f"a tool runtime ({self.runtime}: ToolRuntime)")
        return " and ".join(what)
