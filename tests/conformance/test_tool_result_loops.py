"""A tool's result that holds itself, whatever holds it (a pydantic model, a deque, a dict's
view, a generator, an object with ``__iter__``), is a `ToolError` the program can catch,
said so at once and naming the place; and no host thread goes on converting it after."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest

from codeact import CodeAct, Limits, tool


class _Node(pydantic.BaseModel):
    name: str
    children: list[Any] = []
    parent: Any = pydantic.Field(default=None, exclude=True)  # a link not written


@dataclasses.dataclass
class _Box:
    items: collections.deque[Any]


class _Yields:
    """Iterable: yields itself."""

    def __iter__(self) -> Iterator[Any]:
        yield 1
        yield self


def _holds_itself(kind: str) -> Any:
    if kind == "model":
        node = _Node(name="root")
        node.children.append(node)
        return node
    if kind == "model_in_dict":
        inner = _Node(name="n")
        outer = {"nodes": [inner]}
        inner.children.append(outer)
        return outer
    if kind == "deque":
        d: collections.deque[Any] = collections.deque([1])
        d.append(d)
        return d
    if kind == "dataclass_deque":
        box = _Box(collections.deque())
        box.items.append(box)
        return box
    if kind == "dict_values":
        v: dict[str, Any] = {"n": 1}
        v["v"] = [v.values()]
        return v
    if kind == "generator":
        g: list[Any] = [1]
        g.append(x for x in [g])
        return g
    return _Yields()


_CASES = [
    ("model", "result.children[0] is result"),
    ("model_in_dict", "result['nodes'][0].children[0] is result"),
    ("deque", "result[1] is result"),
    ("dataclass_deque", "result.items[0] is result"),
    ("dict_values", "result['v'][0][1] is result['v']"),
    ("generator", "result[1][0] is result"),
    ("iterable", "result[1] is result"),
]


@pytest.mark.parametrize("limit", [None, 1 << 20])
async def test_a_result_that_holds_itself_in_any_container_is_a_tool_error_said_at_once(
    make_codeact: Callable[..., CodeAct], limit: int | None
) -> None:
    @tool
    def make(kind: str) -> Any:
        """A value that holds itself."""
        return _holds_itself(kind)

    limits = Limits(tool_timeout=20, tool_result_bytes=limit or 16 << 20)
    codeact = make_codeact(tools=[make], limits=limits)
    program = "try:\n    make(kind=KIND)\nexcept ToolError as e:\n    print('caught', e)\n'went on'"
    for kind, where in _CASES:
        started = time.monotonic()
        result = await codeact.execute(program.replace("KIND", repr(kind)))
        assert time.monotonic() - started < 5, kind
        assert result.ok and result.value == "went on", (kind, result.error)
        assert f"it contains itself ({where})" in result.stdout, (kind, result.stdout)


async def test_a_model_with_an_excluded_link_back_is_no_loop(
    make_codeact: Callable[..., CodeAct],
) -> None:
    @tool
    def tree() -> _Node:
        """A tree whose children link back to their parent (not written)."""
        root = _Node(name="root")
        root.children.append(_Node(name="leaf", parent=root))
        return root

    result = await make_codeact(tools=[tree]).execute("tree()")
    assert result.ok, result.error
    assert result.value == {"name": "root", "children": [{"name": "leaf", "children": []}]}


async def test_no_host_thread_goes_on_converting_after_the_execution(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Parts shared 40 levels deep: a few objects, and JSON of 2**40 items. The conversion
    # passes the call's timeout; the thread converting it must stop then, not go on for ever.
    @tool
    def shared() -> _Node:
        """A value whose JSON never ends."""
        part: Any = [1]
        for _ in range(40):
            part = [part, part]
        return _Node(name="x", children=part)

    codeact = make_codeact(tools=[shared], limits=Limits(tool_timeout=1, wall_time=30))
    result = await codeact.execute("shared()")
    assert not result.ok
    cpu = time.process_time()
    await asyncio.sleep(1.5)
    assert time.process_time() - cpu < 0.5  # before the fix: a whole CPU, for ever
